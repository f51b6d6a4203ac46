import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
import pgConfigNode from '../../nodes/pg-config/pg-config';
import type { PgConfigNode } from '../../nodes/pg-config/pg-config-node';
import pgWriteNode from '../../nodes/pg-write/pg-write';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { helper, messages, nextMessage, statuses, waitFor } from '../support/flow';

type Ack = NodeMessage & {
  payload: unknown;
  pg: {
    table: string;
    rows: number;
    inserted: number;
    updated: number;
    conflicted: number;
    durationMs: number;
  };
};
type Caught = NodeMessage & { error: { message: string; source: { id: string } } };

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
      wires: [['out']],
      ...extra,
    },
    { id: 'out', type: 'helper' },
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

  it('hands a value the database rejects to a catch node, writing nothing of the batch', async () => {
    await helper.load([pgConfigNode, pgWriteNode], flow(db.url));
    const caught = nextMessage<Caught>('caught');
    const records = batch('node-d', 3);
    (records[1] as Record<string, unknown>).line_no = 'two';
    helper.getNode('w').receive({ payload: records } as NodeMessage);
    const msg = await caught;
    assert.match(msg.error.message, /invalid input syntax for type bigint: "two" \(SQLSTATE 22P02\)/);
    const rows = await query<{ n: number }>(
      db.url,
      `SELECT count(*)::int AS n FROM bronze.records WHERE source_key='node-d'`,
    );
    assert.equal(rows[0].n, 0);
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

  it('reports an unreachable database on the status and to catch, without crashing', async () => {
    await helper.load([pgConfigNode, pgWriteNode], flow('postgres://nobody@127.0.0.1:1/none'));
    const caught = nextMessage<Caught>('caught');
    helper.getNode('w').receive({ payload: batch('node-e', 2) } as NodeMessage);
    assert.match((await caught).error.message, /^Error: pg-write bronze.records: .*ECONNREFUSED 127.0.0.1:1/);
    await waitFor(
      () => statuses('w').some((s) => s.fill === 'red' && /ECONNREFUSED/.test(s.text ?? '')),
      3000,
      'red status with the reason',
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
      const versions = await query<{ version: number; n: number }>(
        fresh.url,
        'SELECT version, count(*)::int AS n FROM medallion.schema_migrations GROUP BY version',
      );
      assert.ok(versions.length >= 1 && versions.every((v) => v.n === 1));
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
