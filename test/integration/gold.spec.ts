/**
 * The aggregate path on real PostgreSQL, as the flow runs it (silver pg-write, then
 * aggregate, then the gold pg-write upserting), checked against statistics computed
 * directly in the test — for generated readings split into random batches, shuffled,
 * with batches replayed (fast-check).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Pool } from 'pg';
import { AnomalyDetector } from '../../lib/gold/anomaly-detector';
import { Aggregator } from '../../lib/gold/aggregator';
import { windowStats } from '../../lib/gold/window-stats';
import { parseWindowSizes, windowStart } from '../../lib/gold/windows';
import { TableWriter } from '../../lib/pg/bulk-write';
import { DEFAULT_SCHEMAS, resolveTable } from '../../lib/pg/identifiers';
import { migrate } from '../../lib/pg/migrations';
import { createTestDatabase, type TestDatabase } from '../support/db';

const HOUR = 3_600_000;
const START = Date.UTC(2024, 4, 1);

interface Reading {
  location_id: string;
  metric: string;
  ts: Date;
  value: number;
}

/** count, min, max, mean and sample standard deviation, two-pass, straight from the definition. */
function direct(values: number[]) {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const variance = n > 1 ? values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1) : null;
  return {
    count: n,
    min: Math.min(...values),
    max: Math.max(...values),
    avg: mean,
    stddev: variance === null ? null : Math.sqrt(variance),
  };
}

/** Equal to 1e-9 of `scale` (default the values themselves). */
function close(
  a: number | null,
  b: number | null,
  what: string,
  scale = Math.max(Math.abs(a ?? 0), Math.abs(b ?? 0)),
) {
  if (a === null || b === null) return assert.equal(a, b, what);
  assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(scale, 1e-300), `${what}: ${a} vs ${b}`);
}

describe('gold windows against a direct computation (real PostgreSQL, fast-check)', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let pool: Pool;

  before(async () => {
    db = await createTestDatabase('gold');
    pool = new Pool({ connectionString: db.url, max: 3 });
    await migrate(pool, { ...DEFAULT_SCHEMAS });
  });
  after(async () => {
    await pool.end();
    await db.drop();
  });

  it('ends with every touched window equal to its readings, whatever the batches, order and replays', async () => {
    const sizes = parseWindowSizes('1h, 1d');
    const progressTable = resolveTable('medallion.batches');
    const reading = fc.record({
      location_id: fc.constantFrom('a', 'b'),
      metric: fc.constantFrom('co2', 'temp'),
      minute: fc.integer({ min: 0, max: 3 * 24 * 60 }),
      // sensor-like values (three decimals, up to ±1e6): no subnormal squares, whose precision no sum keeps
      value: fc.integer({ min: -1e9, max: 1e9 }).map((n) => n / 1000),
    });
    const scenario = fc.record({
      readings: fc.uniqueArray(reading, {
        minLength: 1,
        maxLength: 150,
        selector: (r) => `${r.location_id}|${r.metric}|${r.minute}`,
      }),
      seed: fc.integer(),
      batches: fc.integer({ min: 1, max: 6 }),
      replays: fc.integer({ min: 0, max: 2 }),
    });
    await fc.assert(
      fc.asyncProperty(scenario, async ({ readings, seed, batches, replays }) => {
        await pool.query('TRUNCATE silver.readings, gold.metric_windows, medallion.batches');
        const rows: Reading[] = readings.map((r) => ({
          location_id: r.location_id,
          metric: r.metric,
          ts: new Date(START + r.minute * 60_000),
          value: r.value,
        }));
        // shuffled, cut into batches, some batches sent again (a replay after a crash)
        const order = rows.map((r, i) => ({ r, k: Math.sin(seed + i * 7919) })).sort((x, y) => x.k - y.k);
        const cut = Math.ceil(order.length / batches);
        const sent: Reading[][] = [];
        for (let i = 0; i < order.length; i += cut) sent.push(order.slice(i, i + cut).map((x) => x.r));
        for (let i = 0; i < replays; i++) sent.push(sent[Math.abs(seed + i) % sent.length]);

        const silver = new TableWriter(pool, {
          table: resolveTable('silver.readings'),
          onConflict: 'nothing',
          progressTable,
        });
        const gold = new TableWriter(pool, {
          table: resolveTable('gold.metric_windows'),
          onConflict: 'update',
          versionColumn: 'count',
          progressTable,
        });
        const aggregator = new Aggregator(
          pool,
          { ...DEFAULT_SCHEMAS },
          { sizes, metrics: [], percentiles: false },
        );
        for (const batch of sent) {
          const stored = batch.map((r) => ({ ...r, quality_score: 1, rule_version: 'p/1', source_key: 'p' }));
          await silver.write(stored);
          const windows = await aggregator.windows('silver.readings', stored);
          if (windows.length) await gold.write(windows as unknown as Record<string, unknown>[]);
        }

        const expected = new Map<string, number[]>();
        for (const r of rows) {
          for (const size of sizes) {
            const start = windowStart(r.ts.getTime(), size.ms);
            const key = `${r.location_id}|${r.metric}|${start}|${start + size.ms}`;
            expected.set(key, [...(expected.get(key) ?? []), r.value]);
          }
        }
        const { rows: got } = await pool.query(
          'SELECT location_id, metric, window_start, window_end, count, min, max, avg, stddev FROM gold.metric_windows',
        );
        assert.equal(got.length, expected.size, 'one gold row per window with readings');
        for (const g of got) {
          const key = `${g.location_id}|${g.metric}|${g.window_start.getTime()}|${g.window_end.getTime()}`;
          const values = expected.get(key);
          assert.ok(values, `unexpected window ${key}`);
          const d = direct(values);
          assert.equal(g.count, d.count, key);
          assert.ok(
            g.min === d.min && g.max === d.max,
            `${key}: min/max ${g.min}/${g.max} vs ${d.min}/${d.max}`,
          );
          close(g.avg, d.avg, `${key} avg`);
          // a spread far below the values' size is only as exact as the values (cancellation in either sum)
          close(g.stddev, d.stddev, `${key} stddev`, Math.max(Math.abs(d.stddev ?? 0), Math.abs(d.avg)));
        }
      }),
      { numRuns: 25 },
    );
  });

  it('flags the same anomalies whatever the batches and the order, and clears one a late reading explains', async () => {
    const progressTable = resolveTable('medallion.batches');
    // a daily cycle with noise and three spikes, two locations, 10-minute readings over two days
    const rows: Reading[] = [];
    for (const location_id of ['a', 'b']) {
      for (let i = 0; i < 288; i++) {
        const spike = (location_id === 'a' && (i === 100 || i === 200)) || (location_id === 'b' && i === 150);
        const value = 20 + 5 * Math.sin((2 * Math.PI * i) / 144) + Math.sin(i * 12.9898) + (spike ? 40 : 0);
        rows.push({ location_id, metric: 'temp', ts: new Date(START + i * 600_000), value });
      }
    }
    const options = { method: 'zscore' as const, threshold: 3, k: 30, min: 10, metrics: [] };
    async function ingest(batches: Reading[][]) {
      await pool.query('TRUNCATE silver.readings, gold.anomalies, medallion.batches');
      const silver = new TableWriter(pool, {
        table: resolveTable('silver.readings'),
        onConflict: 'nothing',
        progressTable,
      });
      const detector = new AnomalyDetector(pool, { ...DEFAULT_SCHEMAS }, { ...options });
      for (const batch of batches) {
        const stored = batch.map((r) => ({ ...r, quality_score: 1, rule_version: 'p/1', source_key: 'p' }));
        await silver.write(stored);
        await detector.detect('silver.readings', stored);
      }
      const { rows: found } = await pool.query(
        `SELECT location_id, ts, round(score::numeric, 9)::float AS score FROM gold.anomalies ORDER BY location_id, ts`,
      );
      return found;
    }
    const inOrder = await ingest([rows]);
    assert.deepEqual(
      inOrder.map((r) => `${r.location_id}@${(r.ts.getTime() - START) / 600_000}`),
      ['a@100', 'a@200', 'b@150'],
      'the three spikes',
    );
    const shuffled = rows
      .map((r, i) => ({ r, k: Math.sin(i * 78.233) }))
      .sort((x, y) => x.k - y.k)
      .map((x) => x.r);
    const batches: Reading[][] = [];
    for (let i = 0; i < shuffled.length; i += 37) batches.push(shuffled.slice(i, i + 37));
    assert.deepEqual(await ingest(batches), inOrder, 'shuffled, in batches of 37');
    assert.deepEqual(await ingest([...batches, batches[3], batches[0]]), inOrder, 'with batches replayed');

    // a level shift at 140 seen first without 140…149: 150 looks like a spike until they arrive, then it is
    // cleared, and the end is what the readings in order give
    const shift: Reading[] = [];
    for (let i = 0; i < 200; i++) {
      const value = (i >= 140 ? 60 : 20) + Math.sin(i * 12.9898);
      shift.push({ location_id: 'c', metric: 'temp', ts: new Date(START + i * 600_000), value });
    }
    const at = (found: Array<{ ts: Date }>) => found.map((r) => (r.ts.getTime() - START) / 600_000);
    const expected = await ingest([shift]);
    assert.ok(!at(expected).includes(150) && at(expected).includes(140), JSON.stringify(at(expected)));
    const early = shift.filter((_, i) => i < 140 || i >= 150);
    assert.ok(at(await ingest([early])).includes(150), 'without 140…149, 150 is an anomaly');
    assert.deepEqual(await ingest([early, shift.slice(140, 150)]), expected, 'and not once they arrive');
  });

  it('scores a series only after another transaction holding its lock (another instance) has committed', async () => {
    await pool.query('TRUNCATE silver.readings, gold.anomalies, medallion.batches');
    const silver = new TableWriter(pool, {
      table: resolveTable('silver.readings'),
      onConflict: 'nothing',
      progressTable: resolveTable('medallion.batches'),
    });
    // a level shift at 140: without 140…149, 150 looks like a spike
    const shift = Array.from({ length: 200 }, (_, i) => ({
      location_id: 'lock',
      metric: 'temp',
      ts: new Date(START + i * 600_000),
      value: (i >= 140 ? 60 : 20) + Math.sin(i * 12.9898),
      quality_score: 1,
      rule_version: 'p/1',
      source_key: 'p',
    }));
    const early = shift.filter((_, i) => i < 140 || i >= 150);
    await silver.write(early);
    // the other instance: holds the series' lock while it stores 140…149, as its detector would
    const other = await pool.connect();
    try {
      await other.query('BEGIN');
      await other.query(
        `SELECT pg_advisory_xact_lock(hashtext('"gold"."anomalies"'), hashtext('lock|temp'))`,
      );
      await other.query(
        `INSERT INTO silver.readings (location_id, metric, ts, value, quality_score, rule_version, source_key)
         SELECT 'lock', 'temp', ts, value, 1, 'p/1', 'p' FROM unnest($1::timestamptz[], $2::float8[]) u(ts, value)`,
        [shift.slice(140, 150).map((r) => r.ts), shift.slice(140, 150).map((r) => r.value)],
      );
      const detector = new AnomalyDetector(
        pool,
        { ...DEFAULT_SCHEMAS },
        { method: 'zscore', threshold: 3, k: 30, min: 10, metrics: [] },
      );
      let done = false;
      const detecting = detector.detect('silver.readings', early).finally(() => (done = true));
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(done, false, 'the detector waits for the lock');
      await other.query('COMMIT');
      await detecting;
    } finally {
      other.release();
    }
    const { rows: found } = await pool.query<{ ts: Date }>(
      `SELECT ts FROM gold.anomalies WHERE location_id = 'lock' ORDER BY ts`,
    );
    const at = found.map((r) => (r.ts.getTime() - START) / 600_000);
    assert.ok(!at.includes(150), `150 is scored with 140…149 in its baseline: ${JSON.stringify(at)}`);
  });

  it('reads wide tables once per location: environment rows score and aggregate as their long format, iot-temp ties by reading', async () => {
    const progressTable = resolveTable('medallion.batches');
    const options = { method: 'zscore' as const, threshold: 3, k: 20, min: 5, metrics: [] };
    const sizes = parseWindowSizes('1h, 1d');
    const writer = (table: string) =>
      new TableWriter(pool, { table: resolveTable(table), onConflict: 'nothing', progressTable });
    /** Batches of 37, in order or shuffled. */
    const batchesOf = <T>(rows: T[], shuffled: boolean) => {
      const order = shuffled
        ? rows
            .map((r, i) => ({ r, k: Math.sin(i * 78.233) }))
            .sort((x, y) => x.k - y.k)
            .map((x) => x.r)
        : rows;
      const out: T[][] = [];
      for (let i = 0; i < order.length; i += 37) out.push(order.slice(i, i + 37));
      return out;
    };
    const lineage = { quality_score: 1, rule_version: 'p/1', source_key: 'p' };
    // two locations, 10-minute readings; humidity missing on every third row, so its k-th reading
    // before a batch lies further back than temperature's; its spikes are the second row of a
    // batch in order (a: rows 148…184, b: rows 222…258 of the file), scored against readings
    // from before the batch
    const wide: Array<Record<string, unknown>> = [];
    for (const location_id of ['a', 'b']) {
      for (let i = 0; i < 200; i++) {
        const spike = (n: number) => (i === n ? 40 : 0);
        wide.push({
          location_id,
          ts: new Date(START + i * 600_000),
          temperature_celsius: 20 + Math.sin(i * 12.9898) + spike(location_id === 'a' ? 120 : 90),
          humidity_percent:
            i % 3 === 0 ? null : 50 + Math.sin(i * 4.1414) + spike(location_id === 'a' ? 149 : 23),
          ...lineage,
        });
      }
    }
    const long = wide.flatMap((r) =>
      ['temperature_celsius', 'humidity_percent']
        .filter((metric) => r[metric] !== null)
        .map((metric) => ({ location_id: r.location_id, metric, ts: r.ts, value: r[metric], ...lineage })),
    );
    async function outcome(table: string, rows: Array<Record<string, unknown>>, shuffled: boolean) {
      await pool.query(
        'TRUNCATE silver.readings, silver.environment_readings, silver.temperature_readings, gold.anomalies, medallion.batches',
      );
      const detector = new AnomalyDetector(pool, { ...DEFAULT_SCHEMAS }, { ...options });
      for (const batch of batchesOf(rows, shuffled)) {
        await writer(table).write(batch);
        await detector.detect(table, batch);
      }
      const { rows: anomalies } = await pool.query(
        `SELECT location_id, metric, ts, reading, round(score::numeric, 9)::float AS score
           FROM gold.anomalies ORDER BY location_id, metric, ts, reading`,
      );
      const aggregator = new Aggregator(
        pool,
        { ...DEFAULT_SCHEMAS },
        { sizes, metrics: [], percentiles: false },
      );
      return { anomalies, windows: await aggregator.windows(table, rows) };
    }
    for (const shuffled of [false, true]) {
      const fromWide = await outcome('silver.environment_readings', wide, shuffled);
      const fromLong = await outcome('silver.readings', long, shuffled);
      assert.deepEqual(
        fromWide.anomalies.map((r) => `${r.location_id} ${r.metric} ${(r.ts.getTime() - START) / 600_000}`),
        [
          'a humidity_percent 149',
          'a temperature_celsius 120',
          'b humidity_percent 23',
          'b temperature_celsius 90',
        ],
      );
      const how = shuffled ? 'shuffled' : 'in order';
      assert.deepEqual(
        fromWide,
        fromLong,
        `the same anomalies and windows from the wide and the long table, ${how}`,
      );
    }

    // iot-temp: two readings of one room share a timestamp, the second a spike: flagged by its id
    const temp: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 150; i++) {
      const row = (id: string, value: number) => ({
        id,
        room_id: 'Room Admin',
        out_in: 'In',
        ts: new Date(START + i * 600_000),
        temp: value,
        ...lineage,
      });
      temp.push(row(`r${i}`, 30 + Math.sin(i * 12.9898)));
      if (i === 100) temp.push(row('r100-bis', 70));
    }
    const { anomalies } = await outcome('silver.temperature_readings', temp, true);
    assert.deepEqual(
      anomalies.map((r) => [r.location_id, r.metric, (r.ts.getTime() - START) / 600_000, r.reading]),
      [['Room Admin/In', 'temp', 100, 'r100-bis']],
    );
  });

  it("computes a window's statistics to the bit as PostgreSQL's aggregates in value order do", async () => {
    const value = fc
      .oneof(
        fc.integer({ min: -1e9, max: 1e9 }).map((n) => n / 1000),
        fc.double({ min: -1e12, max: 1e12, noNaN: true }),
        fc.constantFrom(0.1, 2.3, 7.22),
      )
      .filter((v) => !Object.is(v, -0)); // PostgreSQL compares -0 and 0 equal, so their order is the input's
    await fc.assert(
      fc.asyncProperty(fc.array(value, { minLength: 1, maxLength: 60 }), async (values) => {
        const {
          rows: [sql],
        } = await pool.query(
          `SELECT count(*)::int AS count, min(v) AS min, max(v) AS max, avg(v ORDER BY v) AS avg,
                  stddev_samp(v ORDER BY v) AS stddev, percentile_cont(0.5) WITHIN GROUP (ORDER BY v) AS median,
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY v) AS p95
             FROM unnest($1::float8[]) v`,
          [values],
        );
        assert.deepEqual(windowStats(values, true), sql);
        assert.deepEqual(windowStats(values, false), { ...sql, median: null, p95: null });
      }),
      { numRuns: 300 },
    );
  });

  it('adds the median and 95th percentile when asked, and refuses a table it has no metrics for', async () => {
    await pool.query('TRUNCATE silver.readings, gold.metric_windows');
    const rows = [1, 2, 3, 4, 100].map((value, i) => ({
      location_id: 'a',
      metric: 'co2',
      ts: new Date(START + i * 60_000),
      value,
      quality_score: 1,
      rule_version: 'p/1',
      source_key: 'p',
    }));
    await pool.query(
      `INSERT INTO silver.readings (location_id, metric, ts, value, quality_score, rule_version, source_key)
       SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::float8[], $5::real[], $6::text[], $7::text[])`,
      [
        rows.map((r) => r.location_id),
        rows.map((r) => r.metric),
        rows.map((r) => r.ts),
        rows.map((r) => r.value),
        rows.map((r) => r.quality_score),
        rows.map((r) => r.rule_version),
        rows.map((r) => r.source_key),
      ],
    );
    const aggregator = new Aggregator(
      pool,
      { ...DEFAULT_SCHEMAS },
      { sizes: parseWindowSizes('1h'), metrics: [], percentiles: true },
    );
    const [w] = await aggregator.windows('silver.readings', rows);
    assert.deepEqual([w.count, w.median], [5, 3]);
    close(w.p95, 80.8, 'p95: 4 + 0.8 × (100 − 4), interpolated as percentile_cont does');
    assert.equal(w.window_end.getTime() - w.window_start.getTime(), HOUR);
    await assert.rejects(
      aggregator.windows('silver.quarantine', rows),
      /no gold metrics for table silver\.quarantine/,
    );
    assert.deepEqual(await aggregator.windows('silver.quarantine', []), [], 'an empty batch needs no table');
  });
});
