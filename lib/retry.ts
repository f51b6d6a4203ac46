/**
 * Capped exponential backoff with jitter, for work that may fail for a while (a
 * database restarting, a network blip) and must then be done exactly as before.
 */

export interface RetryOptions {
  /** First wait; doubles each attempt up to `maxMs`. */
  initialMs: number;
  maxMs: number;
  /** Attempts in all, the first included; `Infinity` retries until aborted. */
  maxAttempts: number;
  /** Source of jitter in [0, 1); injectable for tests. */
  random?: () => number;
}

export interface RetryInfo {
  /** The retry about to happen: 1 for the first retry. */
  retry: number;
  delayMs: number;
  error: unknown;
}

export class RetryAbortedError extends Error {
  constructor(
    message: string,
    readonly lastError: unknown,
  ) {
    super(message);
    this.name = 'RetryAbortedError';
  }
}

/**
 * Wait before retry number `retry` (1-based): "equal jitter", half of the capped
 * exponential step plus a random part of the other half — never zero, never in step
 * with other clients that failed at the same moment.
 */
export function backoffDelay(
  retry: number,
  initialMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const step = Math.min(maxMs, initialMs * 2 ** Math.min(30, retry - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

/** Waits `ms`, or less when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs `fn` until it succeeds, an error is not `retryable`, attempts run out, or
 * `signal` aborts (then the last error is thrown inside a RetryAbortedError).
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  retryable: (err: unknown) => boolean,
  options: RetryOptions,
  hooks: { signal?: AbortSignal; onRetry?: (info: RetryInfo) => void } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!retryable(err)) throw err;
      if (attempt >= options.maxAttempts) {
        throw new RetryAbortedError(`gave up after ${attempt} attempts`, err);
      }
      if (hooks.signal?.aborted) throw new RetryAbortedError('stopped while retrying', err);
      const delayMs = backoffDelay(attempt, options.initialMs, options.maxMs, options.random);
      hooks.onRetry?.({ retry: attempt, delayMs, error: err });
      await sleep(delayMs, hooks.signal);
      if (hooks.signal?.aborted) throw new RetryAbortedError('stopped while retrying', err);
    }
  }
}
