import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { Ledger } from '../../lib/files/ledger';
import { DEFAULT_SCHEMAS } from '../../lib/pg/identifiers';
import { migrate } from '../../lib/pg/migrations';
import { createTestDatabase, type TestDatabase } from '../support/db';

/** Content keys: a sha256 is 64 hex digits. */
const [A, B, C] = ['a', 'b', 'c'].map((d) => d.repeat(64));

describe('Ledger: claims and their end (real PostgreSQL)', () => {
  let db: TestDatabase;
  let pool: Pool;
  let ledger: Ledger;
  before(async () => {
    db = await createTestDatabase('ledger');
    pool = new Pool({ connectionString: db.url, max: 2 });
    await migrate(pool, { ...DEFAULT_SCHEMAS });
    ledger = new Ledger(pool, { ...DEFAULT_SCHEMAS });
  });
  after(async () => {
    await pool.end();
    await db.drop();
  });

  const claim = (sha256: string, instance: string, leaseMs = 30_000) =>
    ledger.claim({
      sha256,
      name: `${sha256.slice(0, 8)}.csv`,
      size: 10,
      instance,
      leaseMs,
      runId: randomUUID(),
      batchSize: 5000,
    });
  const counts = { rowsRead: 10, rowsSkipped: 0, batches: 1 };

  it('claims content once, and asked again by the same instance (a retry) keeps its run', async () => {
    const first = await claim(A, 'one');
    assert.equal(first.kind, 'claimed');
    const again = await claim(A, 'one');
    assert.deepEqual(again.kind === 'resumed' && again.runId, first.kind === 'claimed' && first.runId);
    assert.equal((await claim(A, 'two')).kind, 'busy');
  });

  it('marks loaded only for its holder, and says so again when asked twice (a reply lost to an outage)', async () => {
    await claim(B, 'one');
    assert.equal(await ledger.markLoaded(B, 'two', counts), false, 'not the holder');
    assert.equal(await ledger.markLoaded(B, 'one', counts), true);
    assert.equal(await ledger.markLoaded(B, 'one', counts), true, 'the same statement again');
    assert.equal((await ledger.get(B))?.state, 'loaded');
    assert.equal((await claim(B, 'two')).kind, 'loaded');
  });

  it('lets another instance take over a claim whose lease expired', async () => {
    await claim(C, 'one', 1);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal((await claim(C, 'two')).kind, 'resumed');
    assert.equal(await ledger.renew(C, 'one', 30_000), false, 'the old holder lost it');
    assert.equal(await ledger.markLoaded(C, 'one', counts), false);
  });
});
