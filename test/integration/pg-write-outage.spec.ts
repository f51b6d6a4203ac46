/**
 * pg-write across a real database outage. The test stops and restarts PostgreSQL, so it
 * runs its own private server (npm start's embedded PostgreSQL, on a free port) and
 * never touches the shared one.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeMessage } from 'node-red';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../bin/embedded-postgres';
import pgConfigNode from '../../nodes/pg-config/pg-config';
import pgWriteNode from '../../nodes/pg-write/pg-write';
import { query } from '../support/db';
import { helper, messages, nextMessage, statuses, waitFor } from '../support/flow';

type Ack = NodeMessage & {
  pg: { rows: number; inserted: number; progress?: { replay: boolean; inserted: number } };
};

describe('pg-write across a database outage (private PostgreSQL)', function () {
  this.timeout(180_000);
  let root: string;
  let pg: EmbeddedPostgres;

  before(async () => {
    const parent = mkdtempSync(join(tmpdir(), 'medallion-outage-'));
    chmodSync(parent, 0o755);
    root = join(parent, 'pg');
    pg = await startEmbeddedPostgres(root);
  });

  after(async () => {
    await helper.unload();
    await pg?.stop();
    rmSync(join(root, '..'), { recursive: true, force: true });
  });

  const rows = (key: string, from: number, n: number) =>
    Array.from({ length: n }, (_, i) => ({
      source_kind: 'file',
      source_key: key,
      line_no: from + i,
      raw: `line ${from + i}`,
    }));

  it('retries while PostgreSQL is down, then stores every held batch exactly once', async () => {
    const url = pg.url;
    const flow = [
      { id: 'cfg', type: 'medallion-pg-config', connection: 'url', url, poolSize: 2 },
      {
        id: 'w',
        type: 'medallion-pg-write',
        pgConfig: 'cfg',
        table: 'bronze.records',
        layer: 'bronze',
        batchSize: 1000,
        batchTimeout: 200,
        wires: [['out'], []],
      },
      { id: 'out', type: 'helper' },
    ];
    await helper.load([pgConfigNode, pgWriteNode], flow);
    const first = nextMessage<Ack>('out');
    helper
      .getNode('w')
      .receive({ payload: rows('outage', 1, 1000), source: { key: 'outage', batch: 0 } } as NodeMessage);
    assert.equal((await first).pg.inserted, 1000);

    await pg.stop();
    const acks = messages<Ack>('out', 2, 120_000);
    const w = helper.getNode('w');
    w.receive({
      payload: rows('outage', 1001, 5000),
      source: { key: 'outage', batch: 1, last: true },
    } as NodeMessage);
    for (const r of rows('outage-single', 1, 25)) w.receive({ payload: r } as NodeMessage);
    await waitFor(
      () =>
        statuses('w').filter((s) => s.fill === 'yellow' && /^retry \d+ in/.test(s.text ?? '')).length >= 2,
      30_000,
      'two retries while the database is down',
    );
    await new Promise((r) => setTimeout(r, 2000));
    pg = await startEmbeddedPostgres(root);
    assert.equal(pg.url, url, 'the server came back on the same port');

    const [batch, micro] = await acks;
    assert.deepEqual([batch.pg.rows, batch.pg.inserted], [5000, 5000]);
    assert.deepEqual([micro.pg.rows, micro.pg.inserted], [25, 25]);
    const counts = await query<{ source_key: string; n: number; distinct_lines: number }>(
      url,
      `SELECT source_key, count(*)::int AS n, count(DISTINCT line_no)::int AS distinct_lines
         FROM bronze.records GROUP BY source_key ORDER BY source_key`,
    );
    assert.deepEqual(counts, [
      { source_key: 'outage', n: 6000, distinct_lines: 6000 },
      { source_key: 'outage-single', n: 25, distinct_lines: 25 },
    ]);
    const progress = await query(
      url,
      `SELECT batch, rows_in, inserted, last FROM medallion.batches WHERE source_key = 'outage' ORDER BY batch`,
    );
    assert.deepEqual(progress, [
      { batch: 0, rows_in: 1000, inserted: 1000, last: false },
      { batch: 1, rows_in: 5000, inserted: 5000, last: true },
    ]);
    await waitFor(() => statuses('w').at(-1)?.fill === 'green', 5000, 'green again');
  });
});
