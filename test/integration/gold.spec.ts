/**
 * The aggregate path on real PostgreSQL, as the flow runs it (silver pg-write, then
 * aggregate, then the gold pg-write upserting), checked against statistics computed
 * directly in the test — for generated readings split into random batches, shuffled,
 * with batches replayed (fast-check).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Pool } from 'pg';
import { Aggregator } from '../../lib/gold/aggregator';
import { parseWindowSizes, windowOf } from '../../lib/gold/windows';
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
      value: fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }),
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
            const w = windowOf(r.ts.getTime(), size.ms);
            const key = `${r.location_id}|${r.metric}|${w.start}|${w.end}`;
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
          assert.equal(g.min, d.min, key);
          assert.equal(g.max, d.max, key);
          close(g.avg, d.avg, `${key} avg`);
          // a spread far below the values' size is only as exact as the values (cancellation in either sum)
          close(g.stddev, d.stddev, `${key} stddev`, Math.max(Math.abs(d.stddev ?? 0), Math.abs(d.avg)));
        }
      }),
      { numRuns: 25 },
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
