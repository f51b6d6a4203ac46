/**
 * The anomaly node without Node-RED. For a batch silver has stored, every series it
 * touched is read back from silver around the batch — the `k` readings before its
 * earliest reading, its span, the `k` after its latest — and every reading from the
 * earliest on is scored again: a late reading changes the baselines of the `k`
 * readings after it. So the anomalies depend on what silver holds, not on the order
 * it arrived in; the state is silver itself, which survives restarts and redeploys.
 * The detector keeps `gold.anomalies` itself, in one transaction per batch: the
 * batch's anomalies upserted, those that are none any more after a rescore deleted,
 * and the batch's progress row — so a later batch's rescore can never be overtaken by
 * an earlier batch's write. Batches are handled one at a time, and the transaction
 * first takes an advisory lock per series it touches (in one order, so two cannot
 * deadlock) and reads the series after that: another Node-RED instance scoring the same
 * series waits, then reads what this one committed, so their writes converge.
 */
import type { Pool, PoolClient } from 'pg';
import { inTransaction } from '../pg/client';
import { qualified, resolveTable, type SchemaNames } from '../pg/identifiers';
import { recordProgress, type ProgressKey } from '../pg/progress';
import { untilReachable } from '../pg/retry-db';
import type { RetryInfo } from '../retry';
import { Serial } from '../serial';
import {
  affected,
  compareSeries,
  pointKey,
  scoreSeries,
  type AnomalyMethod,
  type SeriesPoint,
} from './anomaly';
import { forEachValue, metricSource, timeOf, WindowConfigError, type MetricSource } from './windows';

export interface AnomalyOptions {
  method: AnomalyMethod;
  threshold: number;
  /** Readings in a baseline. */
  k: number;
  /** Fewest readings before one for it to be scored. */
  min: number;
  /** Only these metrics; empty: all of the table's. */
  metrics: string[];
}

export interface AnomalyRow {
  ts: Date;
  location_id: string;
  metric: string;
  /** Which reading at `ts`, where several share one (the reading id), else ''. */
  reading: string;
  value: number;
  score: number;
  baseline: number;
  method: AnomalyMethod;
  threshold: number;
  source_key: string | null;
  line_no: number | null;
}

interface Point extends SeriesPoint {
  source_key: string | null;
  line_no: string | null;
}

export interface Detection {
  anomalies: AnomalyRow[];
  /** Readings scored (the batch's, and those after it whose baselines it changed). */
  scored: number;
  /** Anomalies that are none any more after a rescore, deleted. */
  cleared: number;
  /** The readings gold.anomalies holds that were rescored and found no anomaly (their rows are deleted). */
  stale: Array<[string, string, Date, string]>;
}

/** A series' key: its location and metric. */
const seriesKey = (location: string, metric: string) => `${location}\u0000${metric}`;

export class AnomalyDetector {
  private readonly serial = new Serial();
  private readonly anomalies: string;
  private readonly progressTable: ReturnType<typeof resolveTable>;

  constructor(
    private readonly pool: Pool,
    private readonly schemas: SchemaNames,
    readonly options: AnomalyOptions,
    private readonly onRetry: (info: RetryInfo) => void = () => undefined,
  ) {
    this.anomalies = qualified(resolveTable('gold.anomalies', schemas));
    this.progressTable = resolveTable('medallion.batches', schemas);
  }

  /** Sets the threshold for the batches to come (a dashboard slider). */
  setThreshold(threshold: number): void {
    if (!Number.isFinite(threshold) || threshold <= 0)
      throw new Error(`threshold must be a number > 0, got ${threshold}`);
    this.options.threshold = threshold;
  }

  /**
   * Scores a batch and stores the outcome; `progress` (layer and key of the batch)
   * records it in `medallion.batches` in the same transaction, and `runId` is the
   * anomalies' lineage.
   */
  detect(
    table: string | null | undefined,
    rows: readonly Record<string, unknown>[],
    progress?: ProgressKey,
    signal?: AbortSignal,
  ) {
    return this.serial.run(() =>
      this.db(
        () =>
          inTransaction(this.pool, async (c) => {
            const d = await this.run(c, table, rows);
            d.cleared = await this.store(c, d, rows.length, progress);
            return d;
          }),
        signal,
      ),
    );
  }

  private db<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return untilReachable(fn, { signal, onRetry: this.onRetry });
  }

  private async run(
    c: PoolClient,
    table: string | null | undefined,
    rows: readonly Record<string, unknown>[],
  ): Promise<Detection> {
    const none: Detection = { anomalies: [], scored: 0, cleared: 0, stale: [] };
    if (!rows.length) return none;
    const source = metricSource(table);
    if (!source) {
      throw new WindowConfigError(
        `no metrics to score for ${table ? `table ${table}` : 'rows without msg.silver.table'}: anomaly reads silver.environment_readings, silver.temperature_readings or silver.readings`,
      );
    }
    // each touched series and the span of its batch readings
    const spans = new Map<
      string,
      { location: string; metric: string; lo: number; hi: number; touched: Set<string> }
    >();
    for (const row of rows) {
      const location = source.location(row);
      const ts = timeOf(row.ts);
      if (location === undefined || ts === undefined) continue;
      const point = pointKey({ ts: new Date(ts), tiebreak: source.tiebreak(row) });
      forEachValue(source, row, this.options.metrics, (metric) => {
        const key = seriesKey(location, metric);
        let s = spans.get(key);
        if (!s) spans.set(key, (s = { location, metric, lo: ts, hi: ts, touched: new Set() }));
        s.lo = Math.min(s.lo, ts);
        s.hi = Math.max(s.hi, ts);
        s.touched.add(point);
      });
    }
    const { method, threshold, k, min } = this.options;
    const anomalies: AnomalyRow[] = [];
    const cleared: Array<[string, string, Date, string]> = [];
    let scored = 0;
    const spanList = [...spans.values()];
    await this.lockSeries(c, spanList);
    // the series are read by walking the (location, ts) index k readings back and ahead: a plan
    // of its own. During a first big load silver grows faster than autovacuum analyzes it, and
    // without statistics the planner guesses a few dozen rows a location and picks a bitmap
    // scan and sort of the location's whole past, or a scan of the whole table, for every batch
    await c.query('SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off');
    const around = await this.seriesAround(c, source, spanList);
    const stored = await this.storedAnomalies(c, spanList, around);
    for (const [n, { location, metric, touched }] of spanList.entries()) {
      const series = around[n];
      // the batch's readings and the k after each: the only scores a new reading can change
      const targets = affected(series, touched, k);
      const flagged = new Set<string>();
      for (const s of scoreSeries(series, targets, { method, k, min })) {
        scored++;
        if (Math.abs(s.score) > threshold) {
          flagged.add(pointKey(s.point));
          anomalies.push({
            ts: s.point.ts,
            location_id: location,
            metric,
            reading: s.point.tiebreak,
            value: s.point.value,
            score: s.score,
            baseline: s.baseline,
            method,
            threshold,
            source_key: s.point.source_key,
            line_no: s.point.line_no === null ? null : Number(s.point.line_no),
          });
        }
      }
      if (stored[n].size) {
        for (const i of targets) {
          const p = series[i];
          const key = pointKey(p);
          if (stored[n].has(key) && !flagged.has(key)) cleared.push([location, metric, p.ts, p.tiebreak]);
        }
      }
    }
    return { anomalies, scored, cleared: 0, stale: cleared };
  }

  /** Upserts the anomalies, deletes the stale ones, records progress; returns how many were deleted. */
  private async store(c: PoolClient, d: Detection, rowsIn: number, progress?: ProgressKey): Promise<number> {
    const { method } = this.options;
    const removed = d.stale.length ? await this.clear(c, d.stale, method) : 0;
    if (d.anomalies.length) {
      const a = d.anomalies;
      await c.query(
        `INSERT INTO ${this.anomalies} AS t
           (ts, location_id, metric, reading, value, score, baseline, method, threshold, source_key, line_no, run_id)
         SELECT x.*, $12::uuid FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::float8[],
                $6::float8[], $7::float8[], $8::text[], $9::float8[], $10::text[], $11::bigint[]) AS x
         ON CONFLICT (location_id, metric, ts, reading, method) DO UPDATE SET
           value = EXCLUDED.value, score = EXCLUDED.score, baseline = EXCLUDED.baseline,
           threshold = EXCLUDED.threshold, source_key = EXCLUDED.source_key, line_no = EXCLUDED.line_no,
           run_id = EXCLUDED.run_id, detected_at = now()`,
        [
          a.map((x) => x.ts),
          a.map((x) => x.location_id),
          a.map((x) => x.metric),
          a.map((x) => x.reading),
          a.map((x) => x.value),
          a.map((x) => x.score),
          a.map((x) => x.baseline),
          a.map((x) => x.method),
          a.map((x) => x.threshold),
          a.map((x) => x.source_key),
          a.map((x) => x.line_no),
          progress?.runId ?? null,
        ],
      );
    }
    if (progress) {
      await recordProgress(c, this.progressTable, progress, {
        rowsIn,
        inserted: d.anomalies.length,
        duplicate: 0,
        quarantined: 0,
      });
    }
    return removed;
  }

  /**
   * Takes the transaction's advisory locks of the series (by table, location and metric),
   * in the order of their keys, so two transactions locking overlapping series cannot deadlock.
   */
  private async lockSeries(c: PoolClient, series: ReadonlyArray<{ location: string; metric: string }>) {
    await c.query(
      `SELECT pg_advisory_xact_lock(hashtext($1), k)
         FROM (SELECT DISTINCT hashtext(l || '|' || m) AS k FROM unnest($2::text[], $3::text[]) u(l, m) ORDER BY 1) s`,
      [this.anomalies, series.map((s) => s.location), series.map((s) => s.metric)],
    );
  }

  /**
   * Each series around its [lo, hi], in one statement: the k points before lo, lo…hi, and
   * the k points after hi; in the order of `spans`. Silver is read once per location (per
   * location and metric in the long format), a wide row holding every metric, from the k-th
   * reading before lo of the metric that reaches back furthest to the k-th after hi of the
   * one that reaches furthest ahead, walking the (location, ts) index. Every reading in there
   * is read, ties at the ends included, and the series' own order (compareSeries) puts them
   * in place, so each point has exactly the k readings before it that silver holds, and a
   * series may start earlier than its k (which changes no score). `ts` travels as epoch
   * milliseconds: one `Date` a row instead of a date to parse for every point.
   */
  private async seriesAround(
    c: PoolClient,
    source: MetricSource,
    spans: ReadonlyArray<{ location: string; metric: string; lo: number; hi: number }>,
  ): Promise<Point[][]> {
    const table = qualified(resolveTable(`silver.${source.table}`, this.schemas));
    const long = source.longSql(table);
    const kth = (where: string, direction: string) =>
      `(SELECT k.ts FROM (${long}) k WHERE k.metric = w.metric AND k.value IS NOT NULL AND ${where}
         ORDER BY k.ts ${direction} OFFSET $5::int - 1 LIMIT 1)`;
    const { rows } = await c.query<Record<string, unknown>>(
      `WITH b AS (
         SELECT w.location_id, ${source.metrics === 'column' ? 'w.metric' : "''"} AS metric,
                min(coalesce(${kth('k.ts < w.lo', 'DESC')}, '-infinity')) AS lo,
                max(coalesce(${kth('k.ts > w.hi', 'ASC')}, 'infinity')) AS hi
           FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) w(location_id, metric, lo, hi)
          GROUP BY 1, 2)
       SELECT r.* FROM b w CROSS JOIN LATERAL (${source.rowsSql(table)} AND s.ts >= w.lo AND s.ts <= w.hi OFFSET 0) r`,
      [
        spans.map((x) => x.location),
        spans.map((x) => x.metric),
        spans.map((x) => new Date(x.lo)),
        spans.map((x) => new Date(x.hi)),
        this.options.k,
      ],
    );
    const index = new Map(spans.map((x, n) => [seriesKey(x.location, x.metric), n]));
    const series: Point[][] = spans.map(() => []);
    for (const row of rows) {
      const location = source.location(row);
      if (location === undefined) continue;
      const ts = new Date(row.ts as number);
      const tiebreak = source.tiebreak(row);
      const source_key = row.source_key as string | null;
      const line_no = row.line_no as string | null;
      forEachValue(source, row, this.options.metrics, (metric, value) => {
        const n = index.get(seriesKey(location, metric));
        if (n !== undefined) series[n].push({ ts, value, tiebreak, source_key, line_no });
      });
    }
    return series.map((points) => points.sort(compareSeries));
  }

  /**
   * The readings gold.anomalies holds (for this method) from each span's lo to the end of
   * its series, by `pointKey`, in the order of `spans`: the only ones a rescore can clear.
   */
  private async storedAnomalies(
    c: PoolClient,
    spans: ReadonlyArray<{ location: string; metric: string; lo: number }>,
    series: readonly Point[][],
  ): Promise<Array<Set<string>>> {
    const { rows } = await c.query<{ n: string; ts: number; reading: string }>(
      `SELECT w.n, (extract(epoch FROM a.ts) * 1000)::float8 AS ts, a.reading
         FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) WITH ORDINALITY w(location_id, metric, lo, hi, n)
         JOIN ${this.anomalies} a ON a.location_id = w.location_id AND a.metric = w.metric
                                 AND a.ts >= w.lo AND a.ts <= w.hi AND a.method = $5`,
      [
        spans.map((x) => x.location),
        spans.map((x) => x.metric),
        spans.map((x) => new Date(x.lo)),
        series.map((points, n) => points.at(-1)?.ts ?? new Date(spans[n].lo)),
        this.options.method,
      ],
    );
    const stored = spans.map(() => new Set<string>());
    for (const r of rows) stored[Number(r.n) - 1].add(pointKey({ ts: new Date(r.ts), tiebreak: r.reading }));
    return stored;
  }

  /** Deletes the anomalies of readings that are none any more; returns how many there were. */
  private async clear(c: PoolClient, points: Array<[string, string, Date, string]>, method: AnomalyMethod) {
    const { rowCount } = await c.query(
      `DELETE FROM ${this.anomalies} a
        USING unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]) p(location_id, metric, ts, reading)
        WHERE a.location_id = p.location_id AND a.metric = p.metric AND a.ts = p.ts AND a.reading = p.reading
          AND a.method = $5`,
      [
        points.map((p) => p[0]),
        points.map((p) => p[1]),
        points.map((p) => p[2]),
        points.map((p) => p[3]),
        method,
      ],
    );
    return rowCount ?? 0;
  }
}
