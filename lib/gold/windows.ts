/**
 * Gold windows: event-time tumbling windows per location × metric over a silver
 * table, and the one statement that recomputes the windows a batch touched from
 * silver itself. Recomputing from silver (rather than merging partial results kept in
 * memory) makes a window exactly what SQL says it is whatever arrived twice, late or
 * shuffled: silver holds each reading once, and a replayed batch recomputes the same
 * values. Pure: rows in, window keys and SQL out.
 */
import { listOf } from '../form-values';
import { qualified, quoteIdent, resolveTable, type SchemaNames } from '../pg/identifiers';
import { PROFILES } from '../validate/profiles';

export interface WindowSize {
  /** As written in the form, e.g. `1h`. */
  label: string;
  ms: number;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export class WindowConfigError extends Error {}

/** `1h, 1d` → sizes in ms, distinct, smallest first; each a whole number of s, m, h, d or w. */
export function parseWindowSizes(text: string): WindowSize[] {
  const parts = listOf(text);
  if (!parts.length) throw new WindowConfigError('give at least one window size, e.g. 1h');
  const sizes = new Map<number, WindowSize>();
  for (const label of parts) {
    const m = /^(\d+)\s*([smhdw])$/.exec(label);
    const ms = m ? Number(m[1]) * UNITS[m[2]] : 0;
    if (!ms)
      throw new WindowConfigError(
        `window size "${label}" is not a whole number of s, m, h, d or w (e.g. 15m, 1h, 1d)`,
      );
    if (!sizes.has(ms)) sizes.set(ms, { label, ms });
  }
  return [...sizes.values()].sort((a, b) => a.ms - b.ms);
}

/** The tumbling window of `size` holding `ts` (windows are aligned to the Unix epoch, UTC). */
export function windowOf(ts: number, size: number): { start: number; end: number } {
  const start = Math.floor(ts / size) * size;
  return { start, end: start + size };
}

/** How a silver table reads as (location, metric, ts, value). */
export interface MetricSource {
  /** `silver.<table>` as validate names it. */
  table: string;
  /** The metrics a row of the table carries, by field name (long format: the row's own `metric`). */
  metrics: readonly string[] | 'column';
  /** The location of a row. */
  location(row: Record<string, unknown>): string | undefined;
  /** What tells a row from others of its series with the same `ts` (as `tiebreak` in `longSql`). */
  tiebreak(row: Record<string, unknown>): string;
  /**
   * The table's rows as (location_id, metric, ts, value, tiebreak, source_key, line_no),
   * `s` the table alias, restricted to the location (and, long format, the metric) of
   * `w`; `tiebreak` orders rows of one series with the same `ts`.
   */
  longSql(table: string): string;
}

/** iot-environment's metrics: the profile's fields marked `metric`, which are silver's columns. */
const ENVIRONMENT_METRICS = PROFILES['iot-environment'].fields.filter((f) => f.metric).map((f) => f.field);

const text = (v: unknown) => (v === undefined || v === null || v === '' ? undefined : String(v));

/** The built-in profiles' tables and the long format of custom rule sets. */
export const METRIC_SOURCES: Readonly<Record<string, MetricSource>> = {
  environment_readings: {
    table: 'environment_readings',
    metrics: ENVIRONMENT_METRICS,
    location: (r) => text(r.location_id),
    tiebreak: () => '',
    longSql: (t) =>
      `SELECT s.location_id, m.metric, s.ts, m.value, '' AS tiebreak, s.source_key, s.line_no FROM ${t} s
         CROSS JOIN LATERAL (VALUES ${ENVIRONMENT_METRICS.map((m) => `('${m}', s.${quoteIdent(m)})`).join(', ')}) m(metric, value)
        WHERE s.location_id = w.location_id`,
  },
  // iot-temp: temp per room and In/Out, the location written `<room>/<In|Out>`
  temperature_readings: {
    table: 'temperature_readings',
    metrics: ['temp'],
    location: (r) => (text(r.room_id) && text(r.out_in) ? `${r.room_id}/${r.out_in}` : undefined),
    tiebreak: (r) => String(r.id ?? ''),
    longSql: (t) =>
      `SELECT s.room_id || '/' || s.out_in AS location_id, 'temp' AS metric, s.ts, s.temp AS value,
              s.id AS tiebreak, s.source_key, s.line_no FROM ${t} s
        WHERE s.room_id = regexp_replace(w.location_id, '/[^/]*$', '')
          AND s.out_in = substring(w.location_id from '[^/]*$')`,
  },
  readings: {
    table: 'readings',
    metrics: 'column',
    location: (r) => text(r.location_id),
    tiebreak: () => '',
    longSql: (t) =>
      `SELECT s.location_id, s.metric, s.ts, s.value, '' AS tiebreak, s.source_key, s.line_no FROM ${t} s
        WHERE s.location_id = w.location_id AND s.metric = w.metric`,
  },
};

/** The source of `silver.<table>` (or `<table>`), or undefined for a table gold knows nothing of. */
export function metricSource(table: string | undefined | null): MetricSource | undefined {
  if (!table) return undefined;
  return METRIC_SOURCES[table.replace(/^[^.]*\./, '')];
}

export interface WindowKey {
  location_id: string;
  metric: string;
  window_start: Date;
  window_end: Date;
}

/** A row's `ts` in ms (a Date, or an ISO string after a trip through JSON). */
export function timeOf(v: unknown): number | undefined {
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'string' || typeof v === 'number') {
    const t = new Date(v).getTime();
    return Number.isFinite(t) ? t : undefined;
  }
  return undefined;
}

/** A row's metrics that have a value (all of the source's, or those in `only`), with the value. */
export function valuesOf(
  source: MetricSource,
  row: Record<string, unknown>,
  only?: readonly string[],
): Array<{ metric: string; value: number }> {
  const pairs =
    source.metrics === 'column'
      ? [{ metric: String(row.metric), value: row.value }]
      : source.metrics.map((metric) => ({ metric, value: row[metric] }));
  return pairs
    .filter((p) => p.value !== null && p.value !== undefined && (!only?.length || only.includes(p.metric)))
    .map((p) => ({ metric: p.metric, value: Number(p.value) }));
}

/**
 * The windows a batch of silver rows touches, once each: every size × the metrics
 * (all of the source's, or those in `only`) that have a value in a row.
 */
export function touchedWindows(
  source: MetricSource,
  rows: readonly Record<string, unknown>[],
  sizes: readonly WindowSize[],
  only?: readonly string[],
): WindowKey[] {
  const keys = new Map<string, WindowKey>();
  for (const row of rows) {
    const location = source.location(row);
    const ts = timeOf(row.ts);
    if (location === undefined || ts === undefined) continue;
    for (const { metric } of valuesOf(source, row, only)) {
      for (const size of sizes) {
        const { start, end } = windowOf(ts, size.ms);
        const id = `${location}\u0000${metric}\u0000${start}\u0000${end}`;
        if (!keys.has(id)) {
          keys.set(id, {
            location_id: location,
            metric,
            window_start: new Date(start),
            window_end: new Date(end),
          });
        }
      }
    }
  }
  return [...keys.values()];
}

/**
 * The statement that recomputes windows from silver: parameters are four arrays
 * (location, metric, start, end); one row per window with a value, with count, min,
 * max, avg, sample stddev (NULL for one value, as `stddev_samp`), and with
 * `percentiles` the median and 95th percentile. The sums are taken in value order,
 * so a window comes out bit for bit the same whatever order silver stored its rows in.
 * `OFFSET 0` keeps the per-window lookup a subquery the planner cannot flatten: flattened,
 * it misjudged the windows (an unnest) and merge-joined silver on location and metric
 * alone, testing the time range row by row (11 745 windows of a 5 000-row batch: 6 s);
 * kept apart, each window is an index range scan on (location_id, ts) (0.9 s).
 */
export function recomputeSql(source: MetricSource, schemas: SchemaNames, percentiles: boolean): string {
  const table = qualified(resolveTable(`silver.${source.table}`, schemas));
  const extra = percentiles
    ? `, percentile_cont(0.5) WITHIN GROUP (ORDER BY x.value) AS median,
         percentile_cont(0.95) WITHIN GROUP (ORDER BY x.value) AS p95`
    : ', NULL::double precision AS median, NULL::double precision AS p95';
  return `WITH w(location_id, metric, window_start, window_end) AS (
      SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]))
    SELECT w.location_id, w.metric, w.window_start, w.window_end, count(*)::int AS count,
           min(x.value) AS min, max(x.value) AS max,
           avg(x.value ORDER BY x.value) AS avg, stddev_samp(x.value ORDER BY x.value) AS stddev${extra}
      FROM w CROSS JOIN LATERAL (
        SELECT l.value FROM (${source.longSql(table)}) l
         WHERE l.metric = w.metric AND l.ts >= w.window_start AND l.ts < w.window_end AND l.value IS NOT NULL
        OFFSET 0) x
     GROUP BY w.location_id, w.metric, w.window_start, w.window_end
     ORDER BY w.location_id, w.metric, w.window_start, w.window_end`;
}

/** The statement's parameters for `keys`. */
export function recomputeParams(keys: readonly WindowKey[]): unknown[] {
  return [
    keys.map((k) => k.location_id),
    keys.map((k) => k.metric),
    keys.map((k) => k.window_start),
    keys.map((k) => k.window_end),
  ];
}
