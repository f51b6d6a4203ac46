import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
import type { WindowRow } from '../../lib/gold/aggregator';
import aggregateNode from '../../nodes/aggregate/aggregate';
import pgConfigNode from '../../nodes/pg-config/pg-config';
import pgWriteNode from '../../nodes/pg-write/pg-write';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { helper, nextMessage, statuses, waitFor } from '../support/flow';
import { pgWrite, type FlowNode } from '../support/landing-flow';
import { pgProxy } from '../support/pg-proxy';

type Windows = NodeMessage & { payload: WindowRow[]; gold: { windows: number } };
type Caught = NodeMessage & { error: { message: string } };

const row = (location_id: string, minute: number, temperature_celsius: number | null, mood_score = 3) => ({
  location_id,
  ts: new Date(Date.UTC(2024, 4, 1, 8, minute)),
  temperature_celsius,
  mood_score,
  quality_score: 1,
  rule_version: 'iot-environment/1',
  source_key: 'k',
  line_no: minute + 2,
});

describe('medallion-aggregate node (real PostgreSQL)', function () {
  this.timeout(30_000);
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase('aggregate');
  });
  afterEach(async () => {
    await helper.unload();
    await db.drop();
  });

  function load(aggregate: Record<string, unknown> = {}, url = db.url) {
    const flow: FlowNode[] = [
      { id: 'cfg', type: 'medallion-pg-config', name: 'db', connection: 'url', url, poolSize: 2 },
      { ...pgWrite('pgs', 'silver.environment_readings', 'silver'), wires: [['agg'], []] },
      {
        id: 'agg',
        type: 'medallion-aggregate',
        pgConfig: 'cfg',
        windows: '1h',
        wires: [['pgg']],
        ...aggregate,
      },
      { ...pgWrite('pgg', 'gold.metric_windows', 'gold', 'out'), onConflict: 'update' },
      { id: 'out', type: 'helper' },
      { id: 'c', type: 'catch', scope: ['agg'], uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ];
    return helper.load([pgConfigNode, pgWriteNode, aggregateNode], flow);
  }

  it('holds a batch that arrives while the database is away, and recomputes it once it is back', async () => {
    const proxy = await pgProxy(db.url);
    try {
      await load({ windows: '1h', metrics: 'temperature_celsius' }, proxy.url);
      const caught: Caught[] = [];
      (helper.getNode('caught') as unknown as NodeJS.EventEmitter).on('input', (m: Caught) => caught.push(m));
      const silver = { table: 'silver.environment_readings' };
      const batch = [row('101', 0, 20), row('101', 10, 22)];
      let got = nextMessage<Windows>('out');
      helper.getNode('pgs').receive({ payload: batch, silver });
      await got;

      // the pool's idle connections cut: the shared state turns red (pg-write shows it)
      await proxy.down();
      await waitFor(() => statuses('pgs').at(-1)?.fill === 'red', 10_000, 'the database shown away');
      got = nextMessage<Windows>('out');
      helper.getNode('agg').receive({ payload: batch, silver });
      await waitFor(
        () => /^retry \d+/.test(statuses('agg').at(-1)?.text ?? ''),
        10_000,
        'aggregate retrying',
      );
      await proxy.up();
      const windows = await got;
      assert.deepEqual(
        windows.payload.map((w) => [w.location_id, w.count, w.avg]),
        [['101', 2, 21]],
      );
      assert.deepEqual(caught, []);
    } finally {
      await proxy.close();
    }
  });

  it('recomputes the windows a silver batch touched and keeps gold equal to silver as batches arrive', async () => {
    await load({ windows: '1h, 1d', metrics: 'temperature_celsius' });
    const silver = { table: 'silver.environment_readings' };
    let got = nextMessage<Windows>('out');
    helper
      .getNode('pgs')
      .receive({ payload: [row('101', 0, 20), row('101', 10, 22), row('102', 5, null)], silver });
    const first = await got;
    assert.equal(first.gold.windows, 2, '101 temperature: its hour and its day; 102 has no temperature');
    assert.deepEqual(
      first.payload.map((w) => [w.location_id, w.metric, w.count, w.min, w.max, w.avg]),
      [
        ['101', 'temperature_celsius', 2, 20, 22, 21],
        ['101', 'temperature_celsius', 2, 20, 22, 21],
      ],
    );
    // a late reading for the same hour, and the first batch again (a replay)
    got = nextMessage<Windows>('out');
    helper.getNode('pgs').receive({ payload: [row('101', 50, 30)], silver });
    await got;
    got = nextMessage<Windows>('out');
    helper.getNode('pgs').receive({ payload: [row('101', 0, 20), row('101', 10, 22)], silver });
    await got;
    const stored = await query(
      db.url,
      `SELECT window_end - window_start AS size, count, min, max, avg, round(stddev::numeric, 6)::float AS stddev
         FROM gold.metric_windows ORDER BY size`,
    );
    assert.deepEqual(
      stored.map((w) => ({ ...w, size: undefined })),
      [
        { size: undefined, count: 3, min: 20, max: 30, avg: 24, stddev: 5.291503 },
        { size: undefined, count: 3, min: 20, max: 30, avg: 24, stddev: 5.291503 },
      ],
    );
    await waitFor(() => statuses('agg').some((s) => /windows updated/.test(String(s.text))), 5000);
  });

  it('passes an empty batch on empty, and sends a batch of a table without metrics to catch', async () => {
    await load();
    const out = nextMessage<Windows>('out');
    helper.getNode('agg').receive({ payload: [], silver: { table: null } });
    assert.deepEqual((await out).payload, []);
    const caught = nextMessage<Caught>('caught');
    helper.getNode('agg').receive({ payload: [{ ts: new Date() }], silver: { table: 'silver.quarantine' } });
    assert.match(
      (await caught).error.message,
      /^Error: aggregate: no gold metrics for table silver\.quarantine/,
    );
  });

  it('refuses window sizes it cannot use at deploy', async () => {
    await load({ windows: '1 hour' });
    await waitFor(() => statuses('agg').some((s) => /window size "1 hour"/.test(String(s.text))), 5000);
    const caught = nextMessage<Caught>('caught');
    helper.getNode('agg').receive({ payload: [], silver: { table: 'silver.environment_readings' } });
    assert.match(
      (await caught).error.message,
      /^Error: aggregate: window size "1 hour" is not a whole number/,
    );
  });
});
