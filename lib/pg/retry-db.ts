/**
 * Database work that must happen eventually: retried with backoff (0.5 s doubling to
 * `maxMs`) while the server is unreachable or the error is transient, until it works
 * or `signal` aborts; any other error fails at once.
 */
import { retry, type RetryInfo } from '../retry';
import { isConnectionError, isTransientError } from './errors';

export interface UntilReachableOptions {
  signal?: AbortSignal;
  onRetry?: (info: RetryInfo) => void;
  /** Largest wait between attempts (default 30 s). */
  maxMs?: number;
}

export function untilReachable<T>(fn: () => Promise<T>, o: UntilReachableOptions = {}): Promise<T> {
  return retry(
    fn,
    (err) => isConnectionError(err) || isTransientError(err),
    { initialMs: 500, maxMs: o.maxMs ?? 30_000, maxAttempts: Infinity },
    { signal: o.signal, onRetry: o.onRetry },
  );
}
