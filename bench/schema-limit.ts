/**
 * What does the database alone need for our layout? One generated iot-environment CSV
 * (1 000 000 data rows, 12 columns, by default) is COPYed, on a migrated database, into
 *   plain-copy    a table of 12 text columns, no index: the file piped into COPY … CSV HEADER,
 *                 the server's reference rate
 *   bronze-limit  a table `LIKE bronze.records INCLUDING ALL` (identity key, unique
 *                 (source_key, line_no), its indexes): per line what bronze holds for it
 *                 (source kind, the file's sha256, name, line, raw bytes, run, batch)
 *   silver-limit  a table `LIKE silver.environment_readings INCLUDING ALL` (key
 *                 (location_id, ts), its indexes): the typed row of each line, split at its
 *                 commas (the generated lines have no quotes) with quality 1
 *   schema-limit  bronze-limit + silver-limit: rows / (their seconds added), what the
 *                 database needs to take a row into both layers
 * bronze-limit and silver-limit build their COPY text in this process from the file's
 * lines, with the pack's COPY encoding (lib/pg/copy-text): reading the file and building
 * the stream are inside their time (they overlap the server's work, on another core).
 * No validation, no progress rows, no batched writes: each table takes the whole file in
 * one COPY (bronze's batch column is filled all the same, a batch every 5000 lines). A
 * CHECKPOINT before each scenario. Prints rows/s with the ratio to plain-copy of the same run.
 *
 *   npm run bench:schema-limit                  (BENCH_ROWS=… to change the size)
 *   BENCH_DATABASE_URL=postgres://…/postgres    (default: the local server of dev machines;
 *                                                a superuser, or a member of pg_checkpoint)
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Pool, type PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { type BenchResult, saveResults, withDatabase } from './support';
import { sha256File } from '../lib/files/folders';
import { IOT_ENVIRONMENT_HEADER, writeIotEnvironmentCsv } from '../lib/generators/iot-environment-csv';
import { copyField, escapeCopyText } from '../lib/pg/copy-text';
import { DEFAULT_SCHEMAS, quoteIdent } from '../lib/pg/identifiers';
import { migrate } from '../lib/pg/migrations';
import { PROFILES } from '../lib/validate/profiles';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const BATCH = 5000;
const NAME = 'bench.csv';
const LF = 0x0a;

/** The file's data lines (no line ending), each as a COPY text line made by `row`, in chunks. */
async function* copyText(file: string, row: (line: Buffer, index: number) => string): AsyncGenerator<string> {
  let rest: Buffer = Buffer.alloc(0);
  let index = -1; // the header line
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    let out = '';
    let start = 0;
    for (let end = buf.indexOf(LF); end >= 0; start = end + 1, end = buf.indexOf(LF, start)) {
      if (index >= 0) out += row(buf.subarray(start, end), index);
      index++;
    }
    rest = buf.subarray(start);
    if (out) yield out;
  }
  if (rest.length && index >= 0) yield row(rest, index);
}

const text = (value: unknown) => copyField(value, 'other');

/** bronze.records' columns of a file line: data line `index` is line index + 2, after the header. */
function bronzeRow(sha256: string, runId: string): (line: Buffer, index: number) => string {
  const head = `${text('file')}\t${text(sha256)}\t${text(NAME)}\t`;
  const tail = `\t${text(runId)}\t`;
  return (line, index) =>
    `${head}${text(index + 2)}\t${copyField(line, 'bytea')}${tail}${text(Math.floor(index / BATCH))}\n`;
}

/**
 * silver.environment_readings' columns of a file line, the naive timestamp read as UTC.
 * The line is escaped whole: escaping leaves its commas alone, so its fields come out escaped.
 */
function silverRow(sha256: string, runId: string): (line: Buffer, index: number) => string {
  const tail = `\t${text(1)}\t${text(PROFILES['iot-environment'].version)}\t${text(sha256)}\t`;
  const run = `\t${text(runId)}\n`;
  return (line, index) => {
    const f = escapeCopyText(line.toString('utf8')).split(',');
    return `${f[1]}\t${f[0]}+00\t${f.slice(2, 12).join('\t')}${tail}${text(index + 2)}${run}`;
  };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** Times one COPY into `table` fed by `source`, then checks that the table holds every row. */
async function copyInto(
  client: PoolClient,
  table: string,
  sql: string,
  source: () => NodeJS.ReadableStream | AsyncIterable<string>,
): Promise<number> {
  // the scenario before's dirty pages are written now, not during this one
  await client.query('CHECKPOINT');
  const seconds = await timed(() => pipeline(source(), client.query(copyFrom(sql))));
  const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
  if (Number(rows[0].n) !== ROWS) throw new Error(`${table} holds ${rows[0].n} rows, not ${ROWS}`);
  return seconds;
}

async function measure(url: string, file: string, sha256: string): Promise<Record<string, number>> {
  const pool = new Pool({ connectionString: url, max: 1 });
  pool.on('error', () => undefined); // DROP DATABASE … WITH (FORCE) ends idle connections
  try {
    await migrate(pool, { ...DEFAULT_SCHEMAS });
    const runId = randomUUID();
    const client = await pool.connect();
    try {
      const columns = IOT_ENVIRONMENT_HEADER.split(',').map((c) => quoteIdent(c));
      await client.query(`CREATE TABLE plain (${columns.map((c) => `${c} text`).join(', ')})`);
      await client.query('CREATE TABLE bronze_limit (LIKE bronze.records INCLUDING ALL)');
      await client.query('CREATE TABLE silver_limit (LIKE silver.environment_readings INCLUDING ALL)');
      return {
        'plain-copy': await copyInto(
          client,
          'plain',
          'COPY plain FROM STDIN WITH (FORMAT csv, HEADER true)',
          () => createReadStream(file),
        ),
        'bronze-limit': await copyInto(
          client,
          'bronze_limit',
          'COPY bronze_limit (source_kind, source_key, source_name, line_no, raw, run_id, batch) FROM STDIN',
          () => copyText(file, bronzeRow(sha256, runId)),
        ),
        'silver-limit': await copyInto(
          client,
          'silver_limit',
          `COPY silver_limit (location_id, ts, temperature_celsius, humidity_percent, air_quality_index,
             noise_level_db, lighting_lux, crowd_density, stress_level, sleep_hours, mood_score,
             mental_health_status, quality_score, rule_version, source_key, line_no, run_id) FROM STDIN`,
          () => copyText(file, silverRow(sha256, runId)),
        ),
      };
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'medallion-bench-'));
  const file = join(work, NAME);
  try {
    const bytes = await writeIotEnvironmentCsv(file, ROWS);
    const sha256 = await sha256File(file);
    console.log(`schema-limit: ${ROWS} rows, ${(bytes / 1048576).toFixed(1)} MB`);
    const seconds = await withDatabase((url) => measure(url, file, sha256));
    seconds['schema-limit'] = seconds['bronze-limit'] + seconds['silver-limit'];
    const results: BenchResult[] = Object.entries(seconds).map(([scenario, s]) => ({
      scenario,
      rows: ROWS,
      seconds: Math.round(s * 100) / 100,
      rowsPerSecond: Math.round(ROWS / s),
    }));
    const base = results[0].rowsPerSecond;
    for (const r of results) r.ratio = Math.round((r.rowsPerSecond / base) * 1000) / 1000;
    console.table(results);
    saveResults('schema-limit', { rows: ROWS, bytes, batch: BATCH, results });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
