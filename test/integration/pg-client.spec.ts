import assert from 'node:assert/strict';
import { Pool, type PoolClient } from 'pg';
import { withClient } from '../../lib/pg/client';
import { createTestDatabase, type TestDatabase } from '../support/db';

describe('withClient (real PostgreSQL)', () => {
  let db: TestDatabase;
  let pool: Pool;

  before(async () => {
    db = await createTestDatabase('pg_client');
  });
  beforeEach(() => {
    pool = new Pool({ connectionString: db.url, max: 1 });
  });
  afterEach(() => pool.end());
  after(() => db?.drop());

  it('listens on a client from the moment it is handed over, when its server ends it in the same read', async () => {
    // The only client is busy with a pool.query while withClient waits for it. pg-pool
    // releases it inside the query's callback, still within the read of the query's last
    // reply, and hands it to the waiter; the server's FATAL of a fast shutdown can come in
    // that same read. Emitted here just where pg would emit it: before the waiter resumes.
    let last: PoolClient | undefined;
    pool.on('acquire', (c) => (last = c));
    const fatal = Object.assign(new Error('terminating connection due to administrator command'), {
      code: '57P01',
    });
    let thrown: unknown;
    const first = new Promise<void>((resolve, reject) =>
      pool.query('SELECT pg_sleep(0.05)', (err) => {
        if (err) return reject(err);
        try {
          last!.emit('error', fatal);
        } catch (e) {
          thrown = e;
        }
        resolve();
      }),
    );
    const second = withClient(
      pool,
      async (c) => (await c.query<{ one: number }>('SELECT 1 AS one')).rows[0].one,
    );
    await first;
    assert.equal(thrown, undefined, 'the error had a listener');
    assert.equal(await second, 1);
    // the client the error came from is not reused
    assert.equal(pool.totalCount, 0);
  });

  it('rejects with the query error and destroys the client', async () => {
    await assert.rejects(
      withClient(pool, (c) => c.query('SELECT 1/0')),
      /division by zero/,
    );
    assert.equal(pool.totalCount, 0);
    assert.equal(await withClient(pool, async (c) => (await c.query('SELECT 2 AS two')).rows[0].two), 2);
    assert.equal(pool.totalCount, 1);
  });
});
