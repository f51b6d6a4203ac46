/**
 * Every way a name reaches SQL, tried with an injection, on real PostgreSQL: schema,
 * table and column names in node configuration are refused with an error naming the
 * setting (Catch-able); names and values in messages are never SQL text — a table in
 * `msg.silver.table` is looked up among the known ones, record field names are matched
 * against the table's columns, report parameters and report names are parameters or
 * refused. Afterwards the database has the same tables and rows as before.
 */
import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
import aggregateNode from '../../nodes/aggregate/aggregate';
import anomalyNode from '../../nodes/anomaly/anomaly';
import pgConfigNode from '../../nodes/pg-config/pg-config';
import pgWriteNode from '../../nodes/pg-write/pg-write';
import reportNode from '../../nodes/report/report';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { helper, nextMessage } from '../support/flow';
import type { FlowNode } from '../support/landing-flow';

type Caught = NodeMessage & { error: { message: string } };

const DROP = `x"; DROP TABLE medallion.files; --`;

const cfg = (url: string, extra: Record<string, unknown> = {}) => ({
  id: 'cfg',
  type: 'medallion-pg-config',
  name: 'db',
  connection: 'url',
  url,
  poolSize: 2,
  ...extra,
});
const catchAll = [
  { id: 'c', type: 'catch', uncaught: false, wires: [['caught']] },
  { id: 'caught', type: 'helper' },
  { id: 'out', type: 'helper' },
];
/** A flow as the helper takes it. */
const flow = (nodes: FlowNode[]) => nodes as Parameters<typeof helper.load>[1];
const NODES = [pgConfigNode, pgWriteNode, aggregateNode, anomalyNode, reportNode];

/** A pg-write into bronze.records, its output to `out`. */
const BRONZE_WRITER = {
  id: 'w',
  type: 'medallion-pg-write',
  pgConfig: 'cfg',
  table: 'bronze.records',
  wires: [['out'], []],
};

describe('SQL safety: names from configuration and messages (real PostgreSQL)', function () {
  this.timeout(30_000);
  let db: TestDatabase;
  let before: unknown[];

  const tables = () =>
    query(
      db.url,
      `SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
        ORDER BY 1, 2`,
    );
  const canary = async () =>
    (
      await query<{ n: number }>(
        db.url,
        `SELECT count(*)::int AS n FROM bronze.records WHERE source_key = 'canary'`,
      )
    )[0].n;

  beforeEach(async () => {
    db = await createTestDatabase('sql_safety');
    // migrations, and one row that must survive
    await helper.load(NODES, flow([cfg(db.url), BRONZE_WRITER, ...catchAll]));
    const stored = nextMessage('out');
    helper.getNode('w').receive({
      payload: [{ source_kind: 'file', source_key: 'canary', line_no: 1, raw: Buffer.from('x') }],
    } as NodeMessage);
    await stored;
    await helper.unload();
    before = await tables();
  });
  afterEach(async () => {
    await helper.unload();
    assert.deepEqual(await tables(), before, 'the same tables');
    assert.equal(await canary(), 1, 'the canary row');
    await db.drop();
  });

  const configCases: Array<[string, Record<string, unknown>, Record<string, unknown>, RegExp]> = [
    [
      'a schema name in pg-config',
      { schemaSilver: DROP },
      {},
      /invalid silver schema name "x\\"; DROP TABLE/,
    ],
    [
      'a table name in pg-write',
      {},
      { table: `bronze.records; DROP TABLE medallion.files` },
      /invalid table "bronze\.records; DROP/,
    ],
    ['a table name with a quote', {}, { table: `bronze."records"` }, /invalid table name/],
    [
      'key columns in pg-write',
      {},
      { keyColumns: `line_no) DO NOTHING; DROP TABLE medallion.files; --` },
      /invalid key column/,
    ],
    ['columns in pg-write', {}, { columns: `raw, ${DROP}` }, /invalid column name/],
  ];
  for (const [what, config, write, error] of configCases) {
    it(`refuses ${what}, naming the setting`, async () => {
      await helper.load(
        NODES,
        flow([
          cfg(db.url, config),
          {
            id: 'w',
            type: 'medallion-pg-write',
            pgConfig: 'cfg',
            table: 'bronze.records',
            ...write,
            wires: [['out'], []],
          },
          ...catchAll,
        ]),
      );
      const caught = nextMessage<Caught>('caught');
      helper.getNode('w').receive({ payload: [{ source_key: 'k', line_no: 1, raw: 'x' }] } as NodeMessage);
      assert.match((await caught).error.message, error);
    });
  }

  it('never puts names or values from messages into SQL text', async () => {
    await helper.load(
      NODES,
      flow([
        cfg(db.url),
        BRONZE_WRITER,
        { id: 'agg', type: 'medallion-aggregate', pgConfig: 'cfg', windows: '1h', wires: [['out']] },
        {
          id: 'an',
          type: 'medallion-anomaly',
          pgConfig: 'cfg',
          method: 'zscore',
          threshold: 3,
          wires: [['out'], []],
        },
        { id: 'rep', type: 'medallion-report', pgConfig: 'cfg', report: 'anomalies', wires: [['out']] },
        { id: 'byTopic', type: 'medallion-report', pgConfig: 'cfg', report: '', wires: [['out']] },
        ...catchAll,
      ]),
    );

    // a record's field names are matched against the table's columns: an unknown one is not written
    const stored = nextMessage<NodeMessage & { pg: { inserted: number } }>('out');
    helper.getNode('w').receive({
      payload: [
        {
          source_kind: 'file',
          source_key: `k'); DROP TABLE bronze.records; --`,
          line_no: 1,
          raw: 'x',
          [DROP]: 'y',
        },
      ],
    } as NodeMessage);
    assert.equal((await stored).pg.inserted, 1);
    const [row] = await query<{ source_key: string }>(
      db.url,
      'SELECT source_key FROM bronze.records WHERE line_no = 1 AND source_key <> $1',
      ['canary'],
    );
    assert.equal(row.source_key, `k'); DROP TABLE bronze.records; --`, 'a value is stored as it is');

    // a table named by a message is one of the known silver tables, or refused
    const reading = { ts: new Date(), location_id: '101', temperature_celsius: 20 };
    for (const [node, error] of [
      ['agg', /aggregate: no gold metrics for table silver\.readings; DROP TABLE gold\.metric_windows/],
      ['an', /anomaly: no metrics to score for table silver\.readings; DROP TABLE gold\.metric_windows/],
    ] as const) {
      const caught = nextMessage<Caught>('caught');
      helper.getNode(node).receive({
        payload: [reading],
        silver: { table: 'silver.readings; DROP TABLE gold.metric_windows' },
      } as NodeMessage);
      assert.match((await caught).error.message, error);
    }

    // report parameters are parameters; a topic that is no report's name names none
    const read = nextMessage<NodeMessage & { payload: unknown[] }>('out');
    helper.getNode('rep').receive({
      params: { location: `'; DROP TABLE gold.anomalies; --`, metric: DROP },
    } as NodeMessage);
    assert.deepEqual((await read).payload, []);
    const other = nextMessage<NodeMessage & { report: { name: string } }>('out');
    helper.getNode('rep').receive({ topic: 'runs; DROP TABLE medallion.runs' } as NodeMessage);
    assert.equal((await other).report.name, 'anomalies', "the node's own report");
    const caught = nextMessage<Caught>('caught');
    helper.getNode('byTopic').receive({ topic: 'runs; DROP TABLE medallion.runs' } as NodeMessage);
    assert.match(
      (await caught).error.message,
      /msg\.topic "runs; DROP TABLE medallion\.runs" is not a report/,
    );
  });
});
