/**
 * The reports of the operator page (the report node): fixed SQL over the medallion tables,
 * every value a parameter, every result bounded by a row limit and, for time series, a
 * time range, each found by an index (migration 6) so a page refreshing every few seconds
 * stays fast on a large database. Rows come shaped for Dashboard 2.0: tables take them as
 * they are, charts read `x`, `y` and a series property. Pure: a name and parameters in, a
 * statement out, rows in, rows out.
 */
import { stringify } from 'csv-stringify/sync';
import { neutralize } from '../csv-formula';
import { z } from 'zod';
import type { SchemaNames } from '../pg/identifiers';
import { quoteAll, type Quoted } from '../pg/migrations';
import { parseWindowSizes } from '../gold/windows';

export const MAX_LIMIT = 1000;
export const MAX_HOURS = 24 * 366;
/** The quarantined records a per-rule count reads at most (the newest in the range). */
export const RULE_SAMPLE = 10_000;
/** A time series' buckets at most. */
const SERIES_BUCKETS = 120;
/** A metric series shows this many windows when no range is given. */
const SERIES_WINDOWS = 48;

/** The progress layers the counts come from: pg-write's Layer option in the bundled flow. */
export const LAYERS = { bronze: 'bronze', silver: 'silver', quarantine: 'quarantine' } as const;

export const PARAMS = z
  .object({
    limit: z.coerce.number().int().min(1).max(MAX_LIMIT),
    hours: z.coerce.number().positive().max(MAX_HOURS),
    metric: z.string().trim().min(1).max(200),
    location: z.string().trim().min(1).max(200),
    window: z
      .string()
      .trim()
      .regex(/^\d+\s*[smhdw]$/, 'a whole number of s, m, h, d or w, e.g. 1h'),
    threshold: z.coerce.number().min(0).max(1000),
  })
  .partial()
  .strict();

export type ReportParams = z.infer<typeof PARAMS>;
export type Row = Record<string, unknown>;

export class ReportError extends Error {}

interface Statement {
  text: string;
  values: unknown[];
}

interface Report {
  /** One line for the help and the editor. */
  title: string;
  /** The row limit when none is given. */
  limit: number;
  build(p: ReportParams & { limit: number }, q: Quoted): Statement;
  shape?(rows: Row[], p: ReportParams): Row[];
}

const hoursOr = (p: ReportParams, fallback = 24) => p.hours ?? fallback;

function windowSeconds(p: ReportParams): number {
  return parseWindowSizes(p.window ?? '1h')[0].ms / 1000;
}

/** "k=v, k=v" for a table cell and a CSV column. */
function valuesText(values: unknown): string {
  if (!values || typeof values !== 'object') return '';
  return Object.entries(values as Record<string, unknown>)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

const SILVER_META = `ARRAY['location_id','room_id','out_in','id','ts','quality_score','rule_version','source_key','line_no','run_id','validated_at','metric','value','unit']`;

export const REPORTS = {
  overview: {
    title: "today's files, rows, valid %, quarantined, the last run and the MQTT lag",
    limit: 1,
    build: (_p, q) => ({
      text: `
        WITH t0 AS (SELECT date_trunc('day', now()) AS t),
        today AS (
          SELECT layer, sum(rows_in)::bigint AS rows_in, sum(inserted)::bigint AS inserted
          FROM ${q.medallion}.batches, t0
          WHERE committed_at >= t0.t AND layer = ANY($1::text[])
          GROUP BY layer
        )
        SELECT
          (SELECT count(*) FROM ${q.medallion}.files, t0
            WHERE finished_at >= t0.t AND state IN ('loaded', 'quarantined'))::int AS files_today,
          coalesce((SELECT inserted FROM today WHERE layer = $2), 0)::bigint AS rows_today,
          coalesce((SELECT inserted FROM today WHERE layer = $4), 0)::bigint AS quarantined_today,
          (SELECT round(100.0 * s.rows_in / nullif(s.rows_in + coalesce(qu.rows_in, 0), 0), 1)::float8
            FROM (SELECT rows_in FROM today WHERE layer = $3) s
            LEFT JOIN (SELECT rows_in FROM today WHERE layer = $4) qu ON true) AS valid_pct,
          (SELECT row_to_json(r) FROM (
            SELECT source_key, status, started_at, finished_at, rows_read, rows_quarantined
            FROM ${q.medallion}.runs ORDER BY started_at DESC LIMIT 1) r) AS last_run,
          (SELECT round(extract(epoch FROM now() - received_at)::numeric, 1)::float8
            FROM ${q.bronze}.records WHERE source_kind = 'mqtt' ORDER BY id DESC LIMIT 1) AS mqtt_lag_s`,
      values: [Object.values(LAYERS), LAYERS.bronze, LAYERS.silver, LAYERS.quarantine],
    }),
  },
  runs: {
    title: 'pipeline runs (medallion.runs), newest first, with status and counts',
    limit: 50,
    build: (p, q) => ({
      text: `
        SELECT run_id, source, source_key, status, started_at, finished_at, duration_ms, rows_read,
               rows_inserted, rows_duplicate, rows_quarantined, rows_skipped, error
        FROM ${q.medallion}.runs
        WHERE started_at >= now() - $1 * interval '1 hour'
        ORDER BY started_at DESC LIMIT $2`,
      values: [hoursOr(p), p.limit],
    }),
  },
  quality: {
    title: 'data quality per run: rows read, stored, duplicate, quarantined and the valid %',
    limit: 50,
    build: (p, q) => ({
      text: `
        SELECT source_key, started_at, status, rows_read, rows_inserted, rows_duplicate, rows_quarantined,
               round(100.0 * (rows_inserted + rows_duplicate)
                 / nullif(rows_inserted + rows_duplicate + rows_quarantined, 0), 1)::float8 AS valid_pct
        FROM ${q.medallion}.runs
        WHERE started_at >= now() - $1 * interval '1 hour'
        ORDER BY started_at DESC LIMIT $2`,
      values: [hoursOr(p), p.limit],
    }),
  },
  'ingest-rate': {
    title: 'rows per minute committed into bronze, silver and quarantine (chart: x, y, layer)',
    limit: MAX_LIMIT,
    build: (p, q) => {
      const hours = hoursOr(p, 1);
      const bucket = Math.max(60, Math.ceil((hours * 3600) / SERIES_BUCKETS / 60) * 60);
      return {
        text: `
          SELECT date_bin($1::int * interval '1 second', committed_at, timestamptz 'epoch') AS x, layer,
                 round(sum(inserted) * 60.0 / $1::int, 1)::float8 AS y
          FROM ${q.medallion}.batches
          WHERE committed_at >= now() - $2 * interval '1 hour' AND layer = ANY($3::text[])
          GROUP BY 1, 2 ORDER BY 1 DESC LIMIT $4`,
        values: [bucket, hours, Object.values(LAYERS), p.limit],
      };
    },
    shape: (rows) => rows.reverse(),
  },
  bronze: {
    title: 'the newest bronze records: source, line and the raw text as received',
    limit: 100,
    build: (p, q) => ({
      text: `
        SELECT id, source_kind, source_name, line_no, batch, raw, received_at
        FROM ${q.bronze}.records ORDER BY id DESC LIMIT $1`,
      values: [p.limit],
    }),
    shape: (rows) =>
      rows.map((r) => ({ ...r, raw: Buffer.isBuffer(r.raw) ? r.raw.toString('utf8') : r.raw })),
  },
  silver: {
    title: 'the newest silver rows of every silver table, with their quality score',
    limit: 100,
    build: (p, q) => {
      const part = (table: string, location: string) => `
        (SELECT '${table}' AS "table", ${location} AS location, ts,
                jsonb_strip_nulls(to_jsonb(t) - ${SILVER_META}) AS "values", quality_score, rule_version, source_key, line_no,
                validated_at
         FROM ${q.silver}.${table} t ORDER BY validated_at DESC LIMIT $1)`;
      return {
        text: `
          ${part('environment_readings', 'location_id')}
          UNION ALL ${part('temperature_readings', "room_id || ' ' || out_in")}
          UNION ALL ${part('readings', 'location_id')}
          ORDER BY validated_at DESC LIMIT $1`,
        values: [p.limit],
      };
    },
    shape: (rows) => rows.map((r) => ({ ...r, values: valuesText(r.values) })),
  },
  quarantine: {
    title: 'the newest quarantined records: where they came from, the rules they broke and why',
    limit: 100,
    build: (p, q) => ({
      text: `
        SELECT id, source_name, line_no, rule_version, errors, record, quarantined_at, replayed_at
        FROM ${q.silver}.quarantine ORDER BY id DESC LIMIT $1`,
      values: [p.limit],
    }),
    shape: (rows) =>
      rows.map(({ errors, record, ...r }) => {
        const list = Array.isArray(errors) ? (errors as Array<Record<string, unknown>>) : [];
        return {
          ...r,
          rules: [...new Set(list.map((e) => `${e.field}: ${e.rule}`))].join(', '),
          detail: list.map((e) => e.message).join('; '),
          record: JSON.stringify(record),
        };
      }),
  },
  'quarantine-rules': {
    title: `quarantined records per field and rule, with an example message (the newest ${RULE_SAMPLE} in the range)`,
    limit: 50,
    build: (p, q) => ({
      text: `
        WITH recent AS (
          SELECT errors FROM ${q.silver}.quarantine
          WHERE quarantined_at >= now() - $1 * interval '1 hour'
          ORDER BY quarantined_at DESC LIMIT $2
        ), total AS (SELECT count(*) AS n FROM recent)
        SELECT e->>'field' AS field, e->>'rule' AS rule, count(*)::int AS records,
               round(100.0 * count(*) / nullif(max(total.n), 0), 1)::float8 AS pct, min(e->>'message') AS example
        FROM recent CROSS JOIN total CROSS JOIN LATERAL jsonb_array_elements(recent.errors) e
        GROUP BY 1, 2 ORDER BY records DESC, field, rule LIMIT $3`,
      values: [hoursOr(p), RULE_SAMPLE, p.limit],
    }),
  },
  metrics: {
    title: 'the metrics gold has windows for, as dropdown options ({value, label})',
    limit: 200,
    build: (p, q) => ({
      text: `
        WITH RECURSIVE m AS (
          SELECT min(metric) AS metric FROM ${q.gold}.metric_windows
          UNION ALL
          SELECT (SELECT min(metric) FROM ${q.gold}.metric_windows w WHERE w.metric > m.metric)
          FROM m WHERE m.metric IS NOT NULL
        )
        SELECT metric AS value, metric AS label FROM m WHERE metric IS NOT NULL LIMIT $1`,
      values: [p.limit],
    }),
  },
  'metric-series': {
    title: `a metric's windows per location up to its newest (chart: x, y = avg, location; the first metric unless one is given, ${SERIES_WINDOWS} windows unless hours is given)`,
    limit: MAX_LIMIT,
    build: (p, q) => {
      const size = windowSeconds(p);
      const hours = p.hours ?? (size * SERIES_WINDOWS) / 3600;
      return {
        text: `
          WITH m AS (SELECT coalesce($1::text, (SELECT min(metric) FROM ${q.gold}.metric_windows)) AS metric),
          newest AS (
            SELECT max(window_start) AS t FROM ${q.gold}.metric_windows, m
            WHERE metric_windows.metric = m.metric AND window_end - window_start = $2 * interval '1 second'
          )
          SELECT location_id AS location, window_start AS x, avg AS y, min, max, stddev, count, w.metric
          FROM ${q.gold}.metric_windows w, m, newest
          WHERE w.metric = m.metric AND window_end - window_start = $2 * interval '1 second'
            AND window_start > newest.t - $3 * interval '1 hour'
            AND ($4::text IS NULL OR location_id = $4)
          ORDER BY window_start DESC, location_id DESC LIMIT $5`,
        values: [p.metric ?? null, size, hours, p.location ?? null, p.limit],
      };
    },
    shape: (rows) => rows.reverse(),
  },
  anomalies: {
    title:
      'anomalies with |score| at or above the threshold, up to the newest (chart: x = ts, y = value, metric)',
    limit: 100,
    build: (p, q) => ({
      text: `
        WITH newest AS (SELECT max(ts) AS t FROM ${q.gold}.anomalies)
        SELECT ts AS x, value AS y, location_id AS location, metric, round(score::numeric, 2)::float8 AS score,
               baseline, method, source_key, line_no, detected_at
        FROM ${q.gold}.anomalies, newest
        WHERE ts > newest.t - $1 * interval '1 hour' AND abs(score) >= $2
          AND ($3::text IS NULL OR metric = $3) AND ($4::text IS NULL OR location_id = $4)
        ORDER BY ts DESC LIMIT $5`,
      values: [hoursOr(p, 24 * 7), p.threshold ?? 0, p.metric ?? null, p.location ?? null, p.limit],
    }),
  },
} satisfies Record<string, Report>;

export type ReportName = keyof typeof REPORTS;
export const REPORT_NAMES = Object.keys(REPORTS) as ReportName[];

export function isReportName(name: unknown): name is ReportName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(REPORTS, name);
}

/** Parameters as given (a message's, a form's): checked, with a message naming each bad one. */
export function checkParams(input: unknown): ReportParams {
  if (input === undefined || input === null) return {};
  const parsed = PARAMS.safeParse(input);
  if (!parsed.success) {
    throw new ReportError(
      parsed.error.issues
        .map((i) => (i.path.length ? `params.${i.path.join('.')}: ${i.message}` : i.message))
        .join('; '),
    );
  }
  return parsed.data;
}

/** The statement of `name` with `params` (already checked), for the schemas of a pg-config. */
export function reportStatement(name: ReportName, params: ReportParams, schemas: SchemaNames): Statement {
  const report: Report = REPORTS[name];
  return report.build({ ...params, limit: params.limit ?? report.limit }, quoteAll(schemas));
}

/** The rows of `name` as the page shows them; times as ISO 8601 text (charts, tables and CSV read it). */
export function shapeRows(name: ReportName, rows: Row[], params: ReportParams): Row[] {
  const report: Report = REPORTS[name];
  const shaped = report.shape ? report.shape(rows, params) : rows;
  return shaped.map((r) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v])),
  );
}

/**
 * Rows as RFC 4180 CSV with a header line (the columns in the order the rows first name
 * them), empty cells for missing values and JSON for nested ones, a text a spreadsheet
 * would run as a formula with a leading apostrophe; no rows, no text.
 */
export function rowsAsCsv(rows: readonly Row[]): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  if (!columns.length) return '';
  return stringify(rows as Row[], {
    header: true,
    columns,
    record_delimiter: 'windows',
    cast: { string: neutralize, object: (v) => JSON.stringify(v), boolean: (v) => String(v) },
  });
}

/** `runs-20261124T153000Z.csv`: the report and when it was read, safe as a file name anywhere. */
export function csvFileName(report: ReportName, at: Date): string {
  return `${report}-${at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}.csv`;
}
