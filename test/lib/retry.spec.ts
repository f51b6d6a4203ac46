import assert from 'node:assert/strict';
import { backoffDelay, retry, RetryAbortedError } from '../../lib/retry';

const fast = { initialMs: 5, maxMs: 20, maxAttempts: Infinity };

describe('lib/retry', () => {
  it('backs off exponentially with jitter, capped', () => {
    const lo = () => 0;
    const hi = () => 0.999999;
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, 500, 30_000, lo)),
      [250, 500, 1000, 2000, 4000, 8000, 15000],
    );
    assert.deepEqual(
      [1, 2, 3, 7, 50].map((n) => backoffDelay(n, 500, 30_000, hi)),
      [500, 1000, 2000, 30000, 30000],
    );
    for (let n = 1; n < 40; n++) {
      const d = backoffDelay(n, 500, 30_000);
      assert.ok(d >= 250 && d <= 30_000, `${n}: ${d}`);
    }
  });

  it('retries retryable errors until the work succeeds', async () => {
    const seen: number[] = [];
    const result = await retry(
      async (attempt) => {
        if (attempt < 4) throw Object.assign(new Error('down'), { code: 'ECONNREFUSED' });
        return 'stored';
      },
      (e) => (e as { code?: string }).code === 'ECONNREFUSED',
      fast,
      { onRetry: (i) => seen.push(i.retry) },
    );
    assert.equal(result, 'stored');
    assert.deepEqual(seen, [1, 2, 3]);
  });

  it('does not retry other errors', async () => {
    let calls = 0;
    await assert.rejects(
      retry(
        async () => {
          calls++;
          throw new Error('syntax');
        },
        () => false,
        fast,
      ),
      /syntax/,
    );
    assert.equal(calls, 1);
  });

  it('gives up after maxAttempts with the last error', async () => {
    let calls = 0;
    const err = await retry(
      async () => {
        calls++;
        throw new Error(`down ${calls}`);
      },
      () => true,
      { ...fast, maxAttempts: 3 },
    ).catch((e: unknown) => e);
    assert.ok(err instanceof RetryAbortedError);
    assert.equal(err.message, 'gave up after 3 attempts');
    assert.equal((err.lastError as Error).message, 'down 3');
    assert.equal(calls, 3);
  });

  it('stops waiting at once when aborted', async () => {
    const abort = new AbortController();
    const started = Date.now();
    setTimeout(() => abort.abort(), 30);
    const err = await retry(
      async () => {
        throw new Error('down');
      },
      () => true,
      { initialMs: 60_000, maxMs: 60_000, maxAttempts: Infinity },
      { signal: abort.signal },
    ).catch((e: unknown) => e);
    assert.ok(err instanceof RetryAbortedError);
    assert.equal(err.message, 'stopped while retrying');
    assert.ok(Date.now() - started < 1000);
  });
});
