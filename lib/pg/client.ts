import type { Pool, PoolClient } from 'pg';

/**
 * Runs `fn` with a client checked out of the pool. While a client is checked out,
 * pg-pool no longer listens for its `error` event, so a connection that dies then
 * (server restart, pg_terminate_backend, a broken socket during COPY) would emit an
 * unhandled `error` and crash the process. This listens for it — the running query
 * fails with the same error — and releases a client that failed or errored for
 * destruction instead of reuse.
 *
 * The listener goes on in pool.connect's callback, not after an `await`: a client
 * freed by a `pool.query` is handed over while its socket's data is still being read,
 * and when that read also holds the server's FATAL (a fast shutdown right after the
 * query), the error is emitted before an awaiting caller would resume.
 */
export async function withClient<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  let broken: Error | undefined;
  const onError = (err: Error) => (broken = err);
  const client = await new Promise<PoolClient>((resolve, reject) =>
    pool.connect((err, c) => {
      if (err || !c) return reject(err ?? new Error('the pool gave no client'));
      c.on('error', onError);
      resolve(c);
    }),
  );
  try {
    return await fn(client);
  } catch (err) {
    broken ??= err as Error;
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

/** `withClient` inside BEGIN … COMMIT; ROLLBACK when `fn` fails. */
export function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client) => {
    await client.query('BEGIN');
    try {
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}
