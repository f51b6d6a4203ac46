/**
 * Gold windows: event-time tumbling windows per location × metric over a silver
 * table, and how the windows a batch touched are recomputed from silver itself: the
 * ranges of silver that hold them are read back in one statement and each window's
 * statistics computed from what silver returned (window-stats.ts: what PostgreSQL's
 * aggregates give, to the bit). Recomputing from silver (rather than merging partial
 * results kept in memory) makes a window exactly what SQL says it is whatever arrived
 * twice, late or shuffled: silver holds each reading once, and a replayed batch
 * recomputes the same values. Pure: rows in, windows, ranges and SQL out.
 */
import { listOf } from '../form-values';
import { qualified, quoteIdent, resolveTable, type SchemaNames } from '../pg/identifiers';
import { PROFILES } from '../validate/profiles';
import { windowStats, type WindowStats } from './window-stats';

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

/** The start of the tumbling window of `size` holding `ts` (windows are aligned to the Unix epoch, UTC). */
export function windowStart(ts: number, size: number): number {
  return Math.floor(ts / size) * size;
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
  /**
   * The table's rows of range `w` (location_id, and metric in the long format), `s` the
   * table alias, with the columns `location`, `forEachValue`, `tiebreak` and `timeOf` read, `ts`
   * in epoch milliseconds, and the lineage (source_key, line_no); ends in a WHERE clause
   * the caller adds the time range to.
   */
  rowsSql(table: string): string;
}

/** `ts` of alias `s` in epoch milliseconds, and the row's lineage. */
const TS_MS = '(extract(epoch FROM s.ts) * 1000)::float8 AS ts, s.source_key, s.line_no';

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
    rowsSql: (t) =>
      `SELECT s.location_id, ${TS_MS}, ${ENVIRONMENT_METRICS.map((m) => `s.${quoteIdent(m)}`).join(', ')}
         FROM ${t} s WHERE s.location_id = w.location_id`,
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
    rowsSql: (t) =>
      `SELECT s.room_id, s.out_in, s.id, ${TS_MS}, s.temp FROM ${t} s
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
    rowsSql: (t) =>
      `SELECT s.location_id, s.metric, ${TS_MS}, s.value FROM ${t} s
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

/**
 * Calls `fn` with each metric of a row that has a value (all of the source's, or those in
 * `only`) and the value; no array or object a call: it runs for every row of every batch.
 */
export function forEachValue(
  source: MetricSource,
  row: Record<string, unknown>,
  only: readonly string[] | undefined,
  fn: (metric: string, value: number) => void,
): void {
  const take = (metric: string, raw: unknown) => {
    if (raw !== null && raw !== undefined && (!only?.length || only.includes(metric)))
      fn(metric, Number(raw));
  };
  if (source.metrics === 'column') take(String(row.metric), row.value);
  else for (const metric of source.metrics) take(metric, row[metric]);
}

/** A time range of silver to read: one location (and, long format, one metric). */
export interface Range {
  location_id: string;
  /** The metric of a long-format range, else ''. */
  metric: string;
  lo: number;
  hi: number;
}

/** A touched window (start and end in ms) and the values silver holds for it. */
interface Bin {
  start: number;
  end: number;
  values: number[];
}

/** A series' windows by `start × number of sizes + the size's index`: ascending is start, then end. */
type SeriesBins = Map<number, Bin>;

/**
 * The windows a batch of silver rows touches (`touch`), the ranges of silver that hold
 * them (`ranges`), and their statistics from the rows silver returns for those ranges
 * (`fill`, then `windows`). Silver holds each reading once, so a window comes out the
 * same whatever arrived twice, late or shuffled, and a replayed batch gives the same rows.
 * A batch touches thousands of windows, so they are kept by number, not by string key.
 */
export class WindowBins {
  /** location → metric → windows */
  private readonly series = new Map<string, Map<string, SeriesBins>>();

  constructor(
    private readonly source: MetricSource,
    private readonly sizes: readonly WindowSize[],
    private readonly only?: readonly string[],
  ) {}

  /** Adds the windows of every size and metric with a value in `rows` (once each). */
  touch(rows: readonly Record<string, unknown>[]): this {
    this.visit(rows, true, (bins, id, start, size) => {
      if (!bins.has(id)) bins.set(id, { start, end: start + size, values: [] });
    });
    return this;
  }

  /** Puts the values of silver's `rows` into the touched windows they fall in. */
  fill(rows: readonly Record<string, unknown>[]): this {
    this.visit(rows, false, (bins, id, _start, _size, value) => bins.get(id)?.values.push(value));
    return this;
  }

  /**
   * The statistics of every touched window silver has a value for, ordered by location,
   * metric, start and end.
   */
  windows(percentiles: boolean): Array<WindowKey & WindowStats> {
    const out: Array<WindowKey & WindowStats> = [];
    for (const location_id of [...this.series.keys()].sort(compareText)) {
      const metrics = this.series.get(location_id)!;
      for (const metric of [...metrics.keys()].sort(compareText)) {
        const bins = metrics.get(metric)!;
        for (const id of [...bins.keys()].sort((x, y) => x - y)) {
          const { start, end, values } = bins.get(id)!;
          if (!values.length) continue;
          // Object.assign, not a spread: several times faster for the ~12 000 windows of a batch
          const key = { location_id, metric, window_start: new Date(start), window_end: new Date(end) };
          out.push(Object.assign(key, windowStats(values, percentiles)));
        }
      }
    }
    return out;
  }

  /**
   * The ranges of silver that hold the touched windows, per location (per location and
   * metric for the long format, whose rows hold one metric each): windows that meet or
   * overlap make one range, so a late reading's windows are a range of their own instead
   * of stretching one over everything in between.
   */
  ranges(): Range[] {
    const ranges: Range[] = [];
    const merge = (location_id: string, metric: string, list: Bin[]) => {
      list.sort((a, b) => a.start - b.start);
      let current: Range | undefined;
      for (const w of list) {
        if (current && w.start <= current.hi) current.hi = Math.max(current.hi, w.end);
        else ranges.push((current = { location_id, metric, lo: w.start, hi: w.end }));
      }
    };
    for (const [location, metrics] of this.series) {
      if (this.source.metrics !== 'column')
        merge(
          location,
          '',
          [...metrics.values()].flatMap((bins) => [...bins.values()]),
        );
      else for (const [metric, bins] of metrics) merge(location, metric, [...bins.values()]);
    }
    return ranges;
  }

  /** Calls `fn` for each window of each value of `rows`; series not seen yet only when `add`. */
  private visit(
    rows: readonly Record<string, unknown>[],
    add: boolean,
    fn: (bins: SeriesBins, id: number, start: number, size: number, value: number) => void,
  ): void {
    const n = this.sizes.length;
    for (const row of rows) {
      const location = this.source.location(row);
      const ts = timeOf(row.ts);
      if (location === undefined || ts === undefined) continue;
      forEachValue(this.source, row, this.only, (metric, value) => {
        let metrics = this.series.get(location);
        if (!metrics) {
          if (!add) return;
          this.series.set(location, (metrics = new Map()));
        }
        let bins = metrics.get(metric);
        if (!bins) {
          if (!add) return;
          metrics.set(metric, (bins = new Map()));
        }
        for (let i = 0; i < n; i++) {
          const size = this.sizes[i].ms;
          const start = windowStart(ts, size);
          fn(bins, start * n + i, start, size, value);
        }
      });
    }
  }
}

const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The statement that reads silver's rows in `ranges` (parameters: `rangeParams`), each
 * range by index on (location, ts), with `ts` as epoch milliseconds (a number: no `Date`
 * to parse for every row). `OFFSET 0` keeps each range its own index scan: flattened into
 * a join, a planner without statistics (a first big load outruns autovacuum) hashes the
 * ranges against a scan of the whole table.
 */
export function readSql(source: MetricSource, schemas: SchemaNames): string {
  const table = qualified(resolveTable(`silver.${source.table}`, schemas));
  return `SELECT r.* FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) w(location_id, metric, lo, hi)
    CROSS JOIN LATERAL (${source.rowsSql(table)} AND s.ts >= w.lo AND s.ts < w.hi OFFSET 0) r`;
}

/** `readSql`'s parameters for `ranges`. */
export function rangeParams(ranges: readonly Range[]): unknown[] {
  return [
    ranges.map((r) => r.location_id),
    ranges.map((r) => r.metric),
    ranges.map((r) => new Date(r.lo)),
    ranges.map((r) => new Date(r.hi)),
  ];
}
