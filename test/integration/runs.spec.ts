import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { DEFAULT_SCHEMAS } from '../../lib/pg/identifiers';
import { migrate } from '../../lib/pg/migrations';
import { Runs } from '../../lib/pg/runs';
import { createTestDatabase, type TestDatabase } from '../support/db';

describe('Runs: completion and counts from the progress rows (real PostgreSQL)', () => {
  let db: TestDatabase;
  let pool: Pool;
  let runs: Runs;
  before(async () => {
    db = await createTestDatabase('runs');
    pool = new Pool({ connectionString: db.url, max: 4 });
    await migrate(pool, { ...DEFAULT_SCHEMAS });
    runs = new Runs(pool, { ...DEFAULT_SCHEMAS });
  });
  after(async () => {
    await pool.end();
    await db.drop();
  });

  const progress = (key: string, batch: number, layer: string, counts: number[]) =>
    pool.query(
      `INSERT INTO medallion.batches (source_key, batch, layer, rows_in, inserted, duplicate, quarantined)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [key, batch, layer, ...counts],
    );
  const status = async (runId: string) =>
    (await pool.query('SELECT status FROM medallion.runs WHERE run_id = $1', [runId])).rows[0].status;

  it('completes a run only once every batch is in every completion layer, with first-layer and quarantine counts', async () => {
    const runId = randomUUID();
    await runs.start(runId, 'file:a.csv', 'sha-a', ['silver', 'quarantine']);
    // batch 0: 10 records, 7 valid (6 new, 1 duplicate), 3 to quarantine; the silver write refused one row
    await progress('sha-a', 0, 'bronze', [10, 10, 0, 0]);
    await progress('sha-a', 0, 'silver', [7, 5, 1, 1]);
    await progress('sha-a', 0, 'quarantine', [3, 3, 0, 0]);
    assert.equal(
      await runs.finalize(runId),
      undefined,
      'the batch count is not known before the end of the read',
    );
    await runs.endRead(runId, { rowsRead: 14, rowsSkipped: 2, batches: 2 });
    assert.equal(await runs.finalize(runId), undefined, 'batch 1 has not reached silver and quarantine');
    await progress('sha-a', 1, 'silver', [4, 4, 0, 0]);
    assert.equal(await runs.finalize(runId, 'silver'), undefined, 'batch 1 is not in quarantine yet');
    await progress('sha-a', 1, 'quarantine', [0, 0, 0, 0]);
    assert.equal(await runs.finalize(runId, 'bronze'), undefined, 'bronze does not complete this run');
    const totals = await runs.finalize(runId, 'quarantine');
    assert.deepEqual(
      { ...totals, durationMs: undefined },
      {
        rowsRead: 14,
        rowsSkipped: 2,
        rowsInserted: 9,
        rowsDuplicate: 1,
        rowsQuarantined: 4,
        durationMs: undefined,
      },
    );
    assert.equal(await status(runId), 'complete');
    assert.equal(await runs.finalize(runId), undefined, 'a complete run is not completed again');
    assert.deepEqual(await runs.totals(runId), totals);
  });

  it('lets exactly one of several finalizers at once complete the run', async () => {
    const runId = randomUUID();
    await runs.start(runId, 'file:b.csv', 'sha-b', ['silver']);
    for (let b = 0; b < 5; b++) await progress('sha-b', b, 'silver', [100, 100, 0, 0]);
    await runs.endRead(runId, { rowsRead: 500, rowsSkipped: 0, batches: 5 });
    const results = await Promise.all(Array.from({ length: 8 }, () => runs.finalize(runId, 'silver')));
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal(results.find(Boolean)!.rowsInserted, 500);
  });

  it('completes a run without completion layers once read, and records a failure', async () => {
    const done = randomUUID();
    await runs.start(done, 'file:c.csv', 'sha-c', []);
    await runs.endRead(done, { rowsRead: 3, rowsSkipped: 0, batches: 1 });
    assert.equal((await runs.finalize(done))?.rowsRead, 3);
    const failed = randomUUID();
    await runs.start(failed, 'file:d.csv', 'sha-d', ['silver']);
    await runs.fail(failed, 'd.csv: binary');
    assert.equal(await status(failed), 'failed');
    await runs.endRead(failed, { rowsRead: 0, rowsSkipped: 0, batches: 0 });
    assert.equal(await runs.finalize(failed), undefined, 'a failed run is not completed');
  });
});
