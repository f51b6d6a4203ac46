import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
import type { PgAck, RowError } from '../../lib/pg/ack';
import { MIGRATIONS } from '../../lib/pg/migrations';
import pgConfigNode from '../../nodes/pg-config/pg-config';
import type { PgConfigNode } from '../../nodes/pg-config/pg-config-node';
import pgWriteNode from '../../nodes/pg-write/pg-write';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { helper, messages, nextMessage, statuses, waitFor } from '../support/flow';
import { poll } from '../support/processes';

type Ack = NodeMessage & { payload: unknown; pg: PgAck };
type Caught = NodeMessage & { error: { message: string; source: { id: string } } };
type Refused = NodeMessage & { payload: unknown[]; errors: RowError[] };

function batch(key: string, n: number) {
  return Array.from({ length: n }, (_, i) => ({
    source_kind: 'mqtt',
    source_key: key,
    source_name: 'sensors/room-1',
    line_no: i + 1,
    raw: JSON.stringify({ t: 20 + i / 10 }),
  }));
}

function flow(url: string, extra: Record<string, unknown> = {}) {
  return [
    { id: 'cfg', type: 'medallion-pg-config', name: 'db', connection: 'url', url, poolSize: 3 },
    {
      id: 'w',
      type: 'medallion-pg-write',
      pgConfig: 'cfg',
      table: 'bronze.records',
      onConflict: 'nothing',
      keyColumns: '',
      columns: '',
      wires: [['out'], ['refused']],
      ...extra,
    },
    { id: 'out', type: 'helper' },
    { id: 'refused', type: 'helper' },
    { id: 'c', type: 'catch', scope: ['w'], uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper' },
  ];
}

describe('medallion-pg-write node', () => {
  let db: TestDatabase;
  before(async () => (db = await createTestDatabase('pg_write_node')));
  after(async () => db.drop());
  afterEach(async () => helper.unload());

  it('writes a batch, passes it on with msg.pg and shows the rate', async () => {
    await helper.load([pgConfigNode, pgWriteNode], flow(db.url));
    const records = batch('node-a', 250);
    const acked = nextMessage<Ack>('out');
    helper.getNode('w').receive({ payload: records } as NodeMessage);
    const msg = await acked;
    assert.equal(msg.payload, records, 'the same batch object travels on (no copy)');
    assert.equal(msg.pg.table, 'bronze.records');
    assert.deepEqual([msg.pg.rows, msg.pg.inserted, msg.pg.conflicted, msg.pg.updated], [250, 250, 0, 0]);
    assert.ok(msg.pg.durationMs > 0);
    const rows = await query<{ n: number }>(
      db.url,
      `SELECT count(*)::int AS n FROM bronze.records WHERE source_key='node-a'`,
    );
    assert.equal(rows[0].n, 250);
    await waitFor(
      () => statuses('w').some((s) => s.fill === 'green' && s.shape === 'dot'),
      3000,
      'green status',
    );
    const last = statuses('w')
      .filter((s) => s.shape === 'dot')
      .pop();
    assert.match(last?.text ?? '', /rows\/s · 250 rows$/);
  });

  it('stores a replayed batch once and says so in msg.pg', async () => {
    await helper.load([pgConfigNode, pgWriteNode], flow(db.url));
    const records = batch('node-b', 40);
    const acks = messages<Ack>('out', 3);
    const w = helper.getNode('w');
    w.receive({ payload: records } as NodeMessage);
    w.receive({ payload: records } as NodeMessage);
    w.receive({ payload: records[0] } as NodeMessage);
    const [first, replay, single] = await acks;
    assert.deepEqual([first.pg.inserted, first.pg.conflicted], [40, 0]);
    assert.deepEqual([replay.pg.inserted, replay.pg.conflicted], [0, 40]);
    assert.deepEqual([single.pg.rows, single.pg.inserted, single.pg.conflicted], [1, 0, 1]);
    const rows = await query<{ n: number }>(
      db.url,
      `SELECT count(*)::int AS n FROM bronze.records WHERE source_key='node-b'`,
    );
    assert.equal(rows[0].n, 40);
  });

  it('fills lineage columns from msg.source and msg.run; listed columns leave other fields out quietly', async () => {
    await helper.load(
      [pgConfigNode, pgWriteNode],
      flow(db.url, {
        columns: 'source_kind, source_key, source_name, line_no, raw, run_id',
        layer: 'bronze',
      }),
    );
    const w = helper.getNode('w') as unknown as { warn: { callCount: number } };
    const runId = '7d1f5a2e-4c1b-4f0e-9d2a-0c5e8b1a9f33';
    const acked = nextMessage<Ack>('out');
    helper.getNode('w').receive({
      payload: [1, 2, 3].map((n) => ({
        line_no: n,
        raw: Buffer.from(`line ${n}`),
        fields: { a: String(n) },
      })),
      source: { kind: 'file', name: 'lineage.csv', sha256: 'f'.repeat(64), batch: 0, last: true },
      run: { id: runId },
    } as NodeMessage);
    assert.equal((await acked).pg.inserted, 3);
    const rows = await query(
      db.url,
      `SELECT source_kind, source_key, source_name, line_no::int, convert_from(raw, 'UTF8') AS raw, run_id::text
         FROM bronze.records WHERE source_name = 'lineage.csv' ORDER BY line_no`,
    );
    assert.deepEqual(
      rows,
      [1, 2, 3].map((n) => ({
        source_kind: 'file',
        source_key: 'f'.repeat(64),
        source_name: 'lineage.csv',
        line_no: n,
        raw: `line ${n}`,
        run_id: runId,
      })),
    );
    assert.equal(w.warn.callCount, 0, 'no warning about the fields left out');
  });

  it('accepts a single record as payload', async () => {
    await helper.load([pgConfigNode, pgWriteNode], flow(db.url));
    const acked = nextMessage<Ack>('out');
    helper.getNode('w').receive({ payload: batch('node-c', 1)[0] } as NodeMessage);
    assert.equal((await acked).pg.inserted, 1);
  });

  it('hands a payload that is not records to a catch node and turns red', async () => {
    await helper.load([pgConfigNode, pgWriteNode], flow(db.url));
    const caught = nextMessage<Caught>('caught');
    helper.getNode('w').receive({ payload: 'temp=21.5' } as NodeMessage);
    const msg = await caught;
    assert.equal(msg.error.source.id, 'w');
    assert.match(msg.error.message, /^Error: pg-write bronze.records: msg.payload is string: send an object/);
    assert.equal(msg.payload, 'temp=21.5', 'the failed message is kept for the flow to handle');
    await waitFor(() => statuses('w').some((s) => s.fill === 'red'), 3000, 'red status');
  });

  it('sends the rows the database refuses on output 2 and the stored ones on output 1', async () => {
    await helper.load([pgConfigNode, pgWriteNode], flow(db.url));
    const acked = nextMessage<Ack>('out');
    const refused = nextMessage<Refused>('refused');
    const records: Array<Record<string, unknown>> = batch('node-d', 5000);
    for (const i of [3, 1234, 4998]) records[i].line_no = `#${i}`;
    helper.getNode('w').receive({ payload: records, topic: 't' } as NodeMessage);
    const [ack, bad] = await Promise.all([acked, refused]);
    assert.equal((ack.payload as unknown[]).length, 4997);
    assert.deepEqual([ack.pg.rows, ack.pg.inserted, ack.pg.conflicted, ack.pg.rejected], [5000, 4997, 0, 3]);
    assert.deepEqual(bad.payload, [records[3], records[1234], records[4998]]);
    assert.equal(bad.topic, 't');
    assert.deepEqual(
      bad.errors.map((e) => [e.index, e.field, e.rule, e.value]),
      [
        [3, 'line_no', 'db:22P02', '#3'],
        [1234, 'line_no', 'db:22P02', '#1234'],
        [4998, 'line_no', 'db:22P02', '#4998'],
      ],
    );
    assert.match(bad.errors[0].message, /invalid input syntax for type bigint: "#3" \(SQLSTATE 22P02\)/);
    const rows = await query<{ n: number }>(
      db.url,
      `SELECT count(*)::int AS n FROM bronze.records WHERE source_key='node-d'`,
    );
    assert.equal(rows[0].n, 4997);
    await waitFor(
      () => statuses('w').some((s) => / · 3 refused$/.test(s.text ?? '')),
      3000,
      'refused count in status',
    );
  });

  it('with Newer by, keeps a stored window whose count is larger than the one written after it', async () => {
    const gold = { table: 'gold.metric_windows', onConflict: 'update', versionColumn: 'count' };
    await helper.load([pgConfigNode, pgWriteNode], flow(db.url, gold));
    const window = (count: number, avg: number) => ({
      location_id: 'newer-by',
      metric: 'temp',
      window_start: '2026-01-01T00:00:00Z',
      window_end: '2026-01-01T01:00:00Z',
      count,
      min: 0,
      max: 10,
      avg,
    });
    for (const [count, avg] of [
      [5, 1],
      [3, 9],
    ]) {
      const acked = nextMessage<Ack>('out');
      helper.getNode('w').receive({ payload: [window(count, avg)] } as NodeMessage);
      await acked;
    }
    const rows = await query(
      db.url,
      "SELECT count, avg FROM gold.metric_windows WHERE location_id = 'newer-by'",
    );
    assert.deepEqual(rows, [{ count: 5, avg: 1 }]);
  });

  it('refuses a Newer by of more than one column at deploy', async () => {
    await helper.load(
      [pgConfigNode, pgWriteNode],
      flow(db.url, { table: 'gold.metric_windows', onConflict: 'update', versionColumn: 'count, avg' }),
    );
    await waitFor(() => statuses('w').some((s) => s.fill === 'red'), 3000, 'red status');
    const caught = nextMessage<Caught>('caught');
    helper.getNode('w').receive({ payload: [{ a: 1 }] } as NodeMessage);
    assert.match((await caught).error.message, /Newer by names one column, not count, avg/);
  });

  it('names a table that does not exist', async () => {
    await helper.load([pgConfigNode, pgWriteNode], flow(db.url, { table: 'silver.missing' }));
    const caught = nextMessage<Caught>('caught');
    helper.getNode('w').receive({ payload: [{ a: 1 }] } as NodeMessage);
    assert.match((await caught).error.message, /table silver.missing does not exist/);
  });

  it('refuses an unsafe table name at deploy and fails its messages clearly', async () => {
    await helper.load([pgConfigNode, pgWriteNode], flow(db.url, { table: 'bronze.records; DROP TABLE x' }));
    await waitFor(() => statuses('w').some((s) => s.fill === 'red'), 3000, 'red status');
    const caught = nextMessage<Caught>('caught');
    helper.getNode('w').receive({ payload: [{ a: 1 }] } as NodeMessage);
    assert.match((await caught).error.message, /invalid table name "records; DROP TABLE x"/);
  });

  it('retries an unreachable database with backoff, then reports it to catch when attempts run out', async () => {
    await helper.load(
      [pgConfigNode, pgWriteNode],
      flow('postgres://nobody@127.0.0.1:1/none', { maxAttempts: 3 }),
    );
    const caught = nextMessage<Caught>('caught', 15_000);
    helper.getNode('w').receive({ payload: batch('node-e', 2) } as NodeMessage);
    assert.match(
      (await caught).error.message,
      /^Error: pg-write bronze.records: gave up after 3 attempts: .*ECONNREFUSED 127.0.0.1:1/,
    );
    const texts = statuses('w').map((s) => `${s.fill}:${s.text}`);
    assert.ok(
      texts.some((t) => /^yellow:retry 1 in \d+\.\d s: .*ECONNREFUSED/.test(t)),
      texts.join('\n'),
    );
    assert.ok(
      texts.some((t) => /^yellow:retry 2 in/.test(t)),
      texts.join('\n'),
    );
    await waitFor(
      () => statuses('w').some((s) => s.fill === 'red' && /ECONNREFUSED/.test(s.text ?? '')),
      3000,
      'red',
    );
  });

  it('resolves ${ENV} in the URL and names an unset variable', async () => {
    process.env.MEDALLION_TEST_PG_URL = db.url;
    try {
      await helper.load([pgConfigNode, pgWriteNode], flow('${MEDALLION_TEST_PG_URL}'));
      const acked = nextMessage<Ack>('out');
      helper.getNode('w').receive({ payload: batch('node-env', 2) } as NodeMessage);
      assert.equal((await acked).pg.inserted, 2);
    } finally {
      delete process.env.MEDALLION_TEST_PG_URL;
    }
    await helper.unload();
    await helper.load([pgConfigNode, pgWriteNode], flow('${MEDALLION_TEST_PG_URL}'));
    const caught = nextMessage<Caught>('caught');
    helper.getNode('w').receive({ payload: batch('node-env', 1) } as NodeMessage);
    assert.match(
      (await caught).error.message,
      /environment variable MEDALLION_TEST_PG_URL, which is not set/,
    );
  });

  it('writes messages one at a time, in order', async () => {
    await helper.load(
      [pgConfigNode, pgWriteNode],
      flow(db.url, { table: 'bronze.records', onConflict: 'update' }),
    );
    const acks = messages<Ack>('out', 20);
    const w = helper.getNode('w');
    for (let i = 0; i < 20; i++) {
      w.receive({
        payload: [{ source_kind: 'sim', source_key: 'node-order', line_no: 1, raw: `v${i}` }],
        i,
      } as NodeMessage);
    }
    const got = await acks;
    assert.deepEqual(
      got.map((m) => (m as unknown as { i: number }).i),
      [...Array(20).keys()],
    );
    const rows = await query<{ raw: string }>(
      db.url,
      `SELECT convert_from(raw,'UTF8') AS raw FROM bronze.records WHERE source_key='node-order'`,
    );
    assert.deepEqual(rows, [{ raw: 'v19' }]);
  });

  it('runs migrations once when several connections start together, and closes its pools', async () => {
    const fresh = await createTestDatabase('pg_write_concurrent');
    try {
      const nodes = [];
      for (let i = 0; i < 4; i++) {
        nodes.push(
          { id: `cfg${i}`, type: 'medallion-pg-config', connection: 'url', url: fresh.url, poolSize: 2 },
          {
            id: `w${i}`,
            type: 'medallion-pg-write',
            pgConfig: `cfg${i}`,
            table: 'bronze.records',
            onConflict: 'nothing',
            wires: [['out']],
          },
        );
      }
      await helper.load([pgConfigNode, pgWriteNode], [...nodes, { id: 'out', type: 'helper' }]);
      const acks = messages<Ack>('out', 4);
      for (let i = 0; i < 4; i++)
        helper.getNode(`w${i}`).receive({ payload: batch(`conc-${i}`, 10) } as NodeMessage);
      const got = await acks;
      assert.deepEqual(
        got.map((m) => m.pg.inserted),
        [10, 10, 10, 10],
      );
      const versions = await query<{ version: number }>(
        fresh.url,
        'SELECT version FROM medallion.schema_migrations ORDER BY version',
      );
      assert.deepEqual(
        versions.map((v) => v.version),
        MIGRATIONS.map((m) => m.version),
        'every migration applied, by whichever start got the lock first',
      );
      const configs = [0, 1, 2, 3].map((i) => helper.getNode(`cfg${i}`) as PgConfigNode);
      await helper.unload();
      for (const c of configs) {
        assert.equal(c.service?.pool.ending, true);
        assert.equal(c.service?.pool.totalCount, 0);
      }
    } finally {
      await fresh.drop();
    }
  });
});

describe('medallion-pg-write micro-batches, retries and progress', () => {
  let db: TestDatabase;
  before(async () => (db = await createTestDatabase('pg_write_batches')));
  after(async () => db.drop());
  afterEach(async () => helper.unload());

  const reading = (key: string, line: number) => ({
    source_kind: 'mqtt',
    source_key: key,
    line_no: line,
    raw: `r${line}`,
  });
  const stored = async (key: string) =>
    (
      await query<{ n: number }>(
        db.url,
        'SELECT count(*)::int AS n FROM bronze.records WHERE source_key = $1',
        [key],
      )
    )[0].n;

  it('gathers single records into one write when the batch size is reached', async () => {
    await helper.load([pgConfigNode, pgWriteNode], flow(db.url, { batchSize: 5, batchTimeout: 60_000 }));
    const acks = messages<Ack>('out', 2);
    const w = helper.getNode('w');
    for (let i = 1; i <= 10; i++)
      w.receive({ payload: reading('micro-count', i), topic: `t${i}` } as NodeMessage);
    const [a, b] = await acks;
    assert.deepEqual(
      (a.payload as Array<{ line_no: number }>).map((r) => r.line_no),
      [1, 2, 3, 4, 5],
    );
    assert.equal(a.topic, 't1', 'a micro-batch carries the properties of its first message');
    assert.deepEqual([a.pg.rows, a.pg.inserted, b.pg.rows, b.pg.inserted], [5, 5, 5, 5]);
    assert.equal(await stored('micro-count'), 10);
  });

  it('writes held records when the batch timeout passes', async () => {
    await helper.load([pgConfigNode, pgWriteNode], flow(db.url, { batchSize: 1000, batchTimeout: 150 }));
    const acked = nextMessage<Ack>('out');
    const w = helper.getNode('w');
    const sent = Date.now();
    for (let i = 1; i <= 3; i++) w.receive({ payload: reading('micro-time', i) } as NodeMessage);
    const ack = await acked;
    assert.ok(Date.now() - sent >= 140, 'not before the timeout');
    assert.equal(ack.pg.rows, 3);
    assert.equal(await stored('micro-time'), 3);
  });

  it('writes held records on close, so a clean stop loses nothing', async () => {
    await helper.load([pgConfigNode, pgWriteNode], flow(db.url, { batchSize: 1000, batchTimeout: 600_000 }));
    const w = helper.getNode('w');
    await waitFor(() => statuses('w').some((s) => s.fill === 'green'), 5000, 'connected');
    for (let i = 1; i <= 7; i++) w.receive({ payload: reading('micro-close', i) } as NodeMessage);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await stored('micro-close'), 0, 'still held');
    await helper.unload();
    assert.equal(await stored('micro-close'), 7);
  });

  it('lands a batch exactly once when its connection is terminated mid-write', async () => {
    await helper.load([pgConfigNode, pgWriteNode], flow(db.url));
    const records = Array.from({ length: 300_000 }, (_, i) => reading('terminated', i));
    const acked = nextMessage<Ack>('out', 60_000);
    helper
      .getNode('w')
      .receive({ payload: records, source: { key: 'terminated', batch: 0, last: true } } as NodeMessage);
    const killed = await poll(
      async () => {
        const rows = await query<{ pid: number }>(
          db.url,
          `SELECT pg_terminate_backend(pid), pid FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = 'node-red-iot-medallion'
              AND state = 'active' AND query LIKE 'COPY%'`,
        );
        return rows.length ? rows : undefined;
      },
      20_000,
      'the COPY to be running',
    );
    assert.equal(killed.length, 1);
    const ack = await acked;
    assert.deepEqual([ack.pg.rows, ack.pg.inserted, ack.pg.conflicted], [300_000, 300_000, 0]);
    assert.deepEqual(ack.pg.progress, {
      replay: false,
      rowsIn: 300_000,
      inserted: 300_000,
      duplicate: 0,
      quarantined: 0,
    });
    assert.equal(await stored('terminated'), 300_000);
    assert.ok(
      statuses('w').some(
        // the retry, or — when the pool saw the connection die first — "connecting…": the status
        // shows one text per second, so the retry's may give way to the green of the stored batch
        (s) =>
          s.fill === 'yellow' &&
          /^(retry 1 in .*(terminating connection|Connection terminated)|connecting…)/.test(s.text ?? ''),
      ),
      'yellow while retrying',
    );
  });

  it('keeps the progress row of a batch unchanged when the batch is replayed', async () => {
    await helper.load([pgConfigNode, pgWriteNode], flow(db.url, { layer: 'bronze' }));
    const records: Array<Record<string, unknown>> = Array.from({ length: 50 }, (_, i) =>
      reading('replay-key', i),
    );
    records[10].line_no = 'x';
    const source = { key: 'replay-key', batch: 4, last: false };
    const run = { id: '0b6c0d8a-3c1e-4b6e-9a3f-7f2d9c1e5a11' };
    const acks = messages<Ack>('out', 2);
    const w = helper.getNode('w');
    w.receive({ payload: records, source, run } as NodeMessage);
    w.receive({ payload: records, source, run } as NodeMessage);
    const [first, replay] = await acks;
    const counts = { rowsIn: 50, inserted: 49, duplicate: 0, quarantined: 1 };
    assert.deepEqual(first.pg.progress, { replay: false, ...counts });
    assert.deepEqual(replay.pg.progress, { replay: true, ...counts });
    assert.deepEqual([replay.pg.inserted, replay.pg.conflicted, replay.pg.rejected], [0, 49, 1]);
    const rows = await query(
      db.url,
      `SELECT layer, batch, rows_in, inserted, duplicate, quarantined, run_id::text FROM medallion.batches WHERE source_key = 'replay-key'`,
    );
    assert.deepEqual(rows, [
      { layer: 'bronze', batch: 4, rows_in: 50, inserted: 49, duplicate: 0, quarantined: 1, run_id: run.id },
    ]);
  });

  it('refuses a batch whose msg.source or msg.run cannot key its progress', async () => {
    await helper.load([pgConfigNode, pgWriteNode], flow(db.url));
    const caught = messages<Caught>('caught', 2);
    const w = helper.getNode('w');
    w.receive({ payload: [reading('bad-key', 1)], source: { key: 'k', batch: -1 } } as NodeMessage);
    w.receive({
      payload: [reading('bad-key', 1)],
      source: { key: 'k', batch: 1 },
      run: { id: 'run-7' },
    } as NodeMessage);
    const [a, b] = await caught;
    assert.match(a.error.message, /msg.source.batch must be a whole number ≥ 0, got -1/);
    assert.match(b.error.message, /msg.run.id must be a UUID, got "run-7"/);
    assert.equal(await stored('bad-key'), 0);
  });
});
