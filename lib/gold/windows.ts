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
 * The statement that recomputes windows from silver. Parameters: the touched windows as
 * four arrays (location, metric, start, end), the time ranges that hold them (location,
 * metric, from, to: `touchedRanges`) and the window sizes in ms. Silver is read once per
 * range, by index on (location, ts), each reading put in its window of every size
 * (`date_bin` from the Unix epoch, as `windowOf`) and joined to the touched windows on
 * equality, so the cost is the readings in the ranges, not readings × windows. One row
 * per window with a value: count, min, max, avg, sample stddev (NULL for one value, as
 * `stddev_samp`), and with `percentiles` the median and 95th percentile. The sums are taken
 * in value order, so a window comes out bit for bit the same whatever order silver stored
 * its rows in.
 */
export function recomputeSql(source: MetricSource, schemas: SchemaNames, percentiles: boolean): string {
  const table = qualified(resolveTable(`silver.${source.table}`, schemas));
  const extra = percentiles
    ? `, percentile_cont(0.5) WITHIN GROUP (ORDER BY x.value) AS median,
         percentile_cont(0.95) WITHIN GROUP (ORDER BY x.value) AS p95`
    : ', NULL::double precision AS median, NULL::double precision AS p95';
  return `WITH k(location_id, metric, window_start, window_end) AS MATERIALIZED (
      SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])),
    w(location_id, metric, lo, hi) AS MATERIALIZED (
      SELECT * FROM unnest($5::text[], $6::text[], $7::timestamptz[], $8::timestamptz[])),
    x AS MATERIALIZED (
      SELECT l.location_id, l.metric, date_bin(z.ms * interval '1 millisecond', l.ts, timestamptz 'epoch') AS window_start,
             z.ms, l.value
        FROM w CROSS JOIN LATERAL (
          SELECT r.location_id, r.metric, r.ts, r.value FROM (${source.longSql(table)}) r
           WHERE r.metric = w.metric AND r.ts >= w.lo AND r.ts < w.hi AND r.value IS NOT NULL
          OFFSET 0) l
        CROSS JOIN unnest($9::bigint[]) z(ms))
    SELECT k.location_id, k.metric, k.window_start, k.window_end, count(*)::int AS count,
           min(x.value) AS min, max(x.value) AS max,
           avg(x.value ORDER BY x.value) AS avg, stddev_samp(x.value ORDER BY x.value) AS stddev${extra}
      FROM k JOIN x ON x.location_id = k.location_id AND x.metric = k.metric AND x.window_start = k.window_start
                   AND k.window_end = x.window_start + x.ms * interval '1 millisecond'
     GROUP BY k.location_id, k.metric, k.window_start, k.window_end
     ORDER BY k.location_id, k.metric, k.window_start, k.window_end`;
}

/**
 * The time ranges per location and metric that hold `keys`: windows that meet or overlap
 * are one range, so a late reading's windows make a range of their own instead of
 * stretching one over everything in between.
 */
export function touchedRanges(keys: readonly WindowKey[]): WindowKey[] {
  const series = new Map<string, WindowKey[]>();
  for (const k of keys) {
    const id = `${k.location_id}\u0000${k.metric}`;
    let list = series.get(id);
    if (!list) series.set(id, (list = []));
    list.push(k);
  }
  const ranges: WindowKey[] = [];
  for (const windows of series.values()) {
    windows.sort((a, b) => a.window_start.getTime() - b.window_start.getTime());
    let current: WindowKey | undefined;
    for (const w of windows) {
      if (current && w.window_start.getTime() <= current.window_end.getTime()) {
        if (w.window_end > current.window_end) current.window_end = w.window_end;
      } else {
        current = { ...w };
        ranges.push(current);
      }
    }
  }
  return ranges;
}

/** The statement's parameters for `keys` of windows of `sizes`. */
export function recomputeParams(keys: readonly WindowKey[], sizes: readonly WindowSize[]): unknown[] {
  const ranges = touchedRanges(keys);
  return [
    keys.map((k) => k.location_id),
    keys.map((k) => k.metric),
    keys.map((k) => k.window_start),
    keys.map((k) => k.window_end),
    ranges.map((r) => r.location_id),
    ranges.map((r) => r.metric),
    ranges.map((r) => r.window_start),
    ranges.map((r) => r.window_end),
    sizes.map((s) => s.ms),
  ];
}
