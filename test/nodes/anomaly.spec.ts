import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
import type { AnomalyRow } from '../../lib/gold/anomaly-detector';
import anomalyNode from '../../nodes/anomaly/anomaly';
import pgConfigNode from '../../nodes/pg-config/pg-config';
import pgWriteNode from '../../nodes/pg-write/pg-write';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { helper, nextMessage, statuses, waitFor } from '../support/flow';
import { pgWrite, type FlowNode } from '../support/landing-flow';
import { pgProxy } from '../support/pg-proxy';

type Anomalies = NodeMessage & {
  payload: AnomalyRow[];
  anomalies: { scored: number; flagged: number; threshold: number };
};
type Caught = NodeMessage & { error: { message: string } };

/** Campus-shaped rows: a steady temperature with one spike at minute 30. */
const rows = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => {
    const minute = from + i;
    return {
      location_id: '101',
      ts: new Date(Date.UTC(2024, 4, 1, 8, minute)),
      temperature_celsius: minute === 30 ? 45 : 22 + Math.sin(minute),
      quality_score: 1,
      rule_version: 'iot-environment/1',
      source_key: 'k',
      line_no: minute + 2,
    };
  });

describe('medallion-anomaly node (real PostgreSQL)', function () {
  this.timeout(30_000);
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase('anomaly');
  });
  afterEach(async () => {
    await helper.unload();
    await db.drop();
  });

  function load(anomaly: Record<string, unknown> = {}, url = db.url) {
    const flow: FlowNode[] = [
      { id: 'cfg', type: 'medallion-pg-config', name: 'db', connection: 'url', url, poolSize: 2 },
      { ...pgWrite('pgs', 'silver.environment_readings', 'silver'), wires: [['an'], []] },
      {
        id: 'an',
        type: 'medallion-anomaly',
        pgConfig: 'cfg',
        method: 'zscore',
        threshold: 3,
        window: 20,
        minBaseline: 10,
        metrics: 'temperature_celsius',
        wires: [['readings'], ['stored']],
        ...anomaly,
      },
      { id: 'readings', type: 'helper' },
      { id: 'stored', type: 'helper' },
      { id: 'c', type: 'catch', scope: ['an'], uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ];
    return helper.load([pgConfigNode, pgWriteNode, anomalyNode], flow);
  }

  it('holds a batch that arrives while the database is away, and scores it once it is back', async () => {
    const proxy = await pgProxy(db.url);
    try {
      await load({}, proxy.url);
      const caught: Caught[] = [];
      (helper.getNode('caught') as unknown as NodeJS.EventEmitter).on('input', (m: Caught) => caught.push(m));
      const silver = { table: 'silver.environment_readings' };
      let stored = nextMessage<Anomalies>('stored');
      helper.getNode('pgs').receive({ payload: rows(0, 60), silver });
      await stored;

      await proxy.down();
      await waitFor(() => statuses('pgs').at(-1)?.fill === 'red', 10_000, 'the database shown away');
      stored = nextMessage<Anomalies>('stored');
      helper.getNode('an').receive({ payload: rows(0, 60), silver });
      await waitFor(() => /^retry \d+/.test(statuses('an').at(-1)?.text ?? ''), 10_000, 'anomaly retrying');
      await proxy.up();
      const again = await stored;
      assert.deepEqual(
        again.payload.map((a) => a.ts.toISOString()),
        ['2024-05-01T08:30:00.000Z'],
      );
      assert.deepEqual(caught, []);
    } finally {
      await proxy.close();
    }
  });

  it('passes the batch on, stores the spike in gold.anomalies, and takes a new threshold from a message', async () => {
    await load();
    const silver = { table: 'silver.environment_readings' };
    const passed = nextMessage('readings');
    const stored = nextMessage<Anomalies>('stored');
    helper.getNode('pgs').receive({ payload: rows(0, 60), silver });
    assert.equal(((await passed).payload as unknown[]).length, 60, 'the readings go on unchanged');
    const first = await stored;
    assert.deepEqual(
      first.payload.map((a) => [a.location_id, a.metric, a.ts.toISOString(), a.method, a.threshold]),
      [['101', 'temperature_celsius', '2024-05-01T08:30:00.000Z', 'zscore', 3]],
    );
    assert.equal(first.anomalies.scored, 50, 'every reading with 10 before it');
    const [row] = await query<{ value: number; score: number; line_no: number }>(
      db.url,
      'SELECT value, round(score::numeric, 3)::float AS score, line_no::int FROM gold.anomalies',
    );
    assert.equal(row.value, 45);
    assert.ok(row.score > 3 && row.line_no === 32, JSON.stringify(row));

    // a slider message: a threshold above the spike's score, then the same batch again clears it
    helper.getNode('an').receive({ threshold: row.score + 1 });
    await waitFor(() => statuses('an').some((s) => s.text === `|score| > ${row.score + 1}`), 5000);
    const again = nextMessage<Anomalies>('stored');
    helper.getNode('pgs').receive({ payload: rows(0, 60), silver });
    assert.deepEqual((await again).payload, []);
    const [{ n }] = await query<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM gold.anomalies');
    assert.equal(n, 0, 'the rescored reading is no anomaly under the new threshold: deleted');
  });

  it('takes its threshold from an environment variable when the field is env-typed', async () => {
    process.env.MEDALLION_TEST_THRESHOLD = '4.5';
    try {
      await load({ threshold: 'MEDALLION_TEST_THRESHOLD', thresholdType: 'env' });
      helper.getNode('an').receive({});
      await waitFor(() => statuses('an').some((s) => s.text === '|score| > 4.5'), 5000, 'threshold 4.5');
    } finally {
      delete process.env.MEDALLION_TEST_THRESHOLD;
    }
    await helper.unload();
    delete process.env.MEDALLION_TEST_UNSET;
    await load({ threshold: 'MEDALLION_TEST_UNSET', thresholdType: 'env' });
    await waitFor(() => statuses('an').some((s) => s.fill === 'red'), 5000, 'red status');
    assert.equal(
      statuses('an').find((s) => s.fill === 'red')!.text,
      'threshold: the environment variable MEDALLION_TEST_UNSET is not set',
    );
  });

  it('sends a batch of a table without metrics and a bad threshold to catch', async () => {
    await load();
    let caught = nextMessage<Caught>('caught');
    helper.getNode('an').receive({ payload: [{ ts: new Date() }], silver: { table: 'silver.quarantine' } });
    assert.match((await caught).error.message, /anomaly: no metrics to score for table silver\.quarantine/);
    caught = nextMessage<Caught>('caught');
    helper.getNode('an').receive({ threshold: 'high' });
    assert.match(
      (await caught).error.message,
      /anomaly: msg\.threshold: threshold must be a number > 0, got NaN/,
    );
  });
});
