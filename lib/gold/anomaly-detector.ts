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
import { metricSource, timeOf, valuesOf, WindowConfigError, type MetricSource } from './windows';

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
  /** The readings rescored and found no anomaly (their rows are deleted). */
  stale: Array<[string, string, Date, string]>;
}

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
      for (const { metric } of valuesOf(source, row, this.options.metrics)) {
        const key = `${location}\u0000${metric}`;
        let s = spans.get(key);
        if (!s) spans.set(key, (s = { location, metric, lo: ts, hi: ts, touched: new Set() }));
        s.lo = Math.min(s.lo, ts);
        s.hi = Math.max(s.hi, ts);
        s.touched.add(point);
      }
    }
    const { method, threshold, k, min } = this.options;
    const anomalies: AnomalyRow[] = [];
    const cleared: Array<[string, string, Date, string]> = [];
    let scored = 0;
    const spanList = [...spans.values()];
    await this.lockSeries(c, spanList);
    const around = await this.seriesAround(c, source, spanList);
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
      for (const i of targets) {
        const p = series[i];
        if (!flagged.has(pointKey(p))) cleared.push([location, metric, p.ts, p.tiebreak]);
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
   * the k points after hi; in the order of `spans`.
   */
  private async seriesAround(
    c: PoolClient,
    source: MetricSource,
    spans: ReadonlyArray<{ location: string; metric: string; lo: number; hi: number }>,
  ): Promise<Point[][]> {
    const long = source.longSql(qualified(resolveTable(`silver.${source.table}`, this.schemas)));
    const part = (where: string) =>
      `(SELECT l.ts, l.value, l.tiebreak, l.source_key, l.line_no FROM (${long}) l
         WHERE l.metric = w.metric AND l.value IS NOT NULL AND ${where})`;
    // the time of the k-th reading before lo (after hi), walking the (location, ts) index: every
    // reading from there on is read, ties at that time included, and the series' own order
    // (compareSeries) puts them in place, so the k readings next to the batch are exact
    const kth = (where: string, direction: string, none: string) =>
      `coalesce((SELECT k.ts FROM (${long}) k WHERE k.metric = w.metric AND k.value IS NOT NULL AND ${where}
                  ORDER BY k.ts ${direction} OFFSET $5::int - 1 LIMIT 1), '${none}'::timestamptz)`;
    const { rows } = await c.query<Point & { n: string }>(
      `SELECT w.n, p.* FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])
                       WITH ORDINALITY w(location_id, metric, lo, hi, n)
       CROSS JOIN LATERAL (
         SELECT * FROM ${part(`l.ts < w.lo AND l.ts >= ${kth('k.ts < w.lo', 'DESC', '-infinity')}`)} b
         UNION ALL SELECT * FROM ${part('l.ts >= w.lo AND l.ts <= w.hi')} m
         UNION ALL SELECT * FROM ${part(`l.ts > w.hi AND l.ts <= ${kth('k.ts > w.hi', 'ASC', 'infinity')}`)} a) p`,
      [
        spans.map((x) => x.location),
        spans.map((x) => x.metric),
        spans.map((x) => new Date(x.lo)),
        spans.map((x) => new Date(x.hi)),
        this.options.k,
      ],
    );
    const series: Point[][] = spans.map(() => []);
    for (const { n, ...point } of rows) series[Number(n) - 1].push({ ...point, value: Number(point.value) });
    return series.map((points) => points.sort(compareSeries));
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
