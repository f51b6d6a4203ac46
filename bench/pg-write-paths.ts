/**
 * Which bulk path should pg-write use? Writes the same deterministic rows through
 *   staging   pg-write's TableWriter without its fast path: COPY into a temporary table,
 *             then INSERT … SELECT … ON CONFLICT DO NOTHING
 *   unnest    INSERT … SELECT FROM unnest($1::type[], …) ON CONFLICT DO NOTHING
 *   multirow  INSERT … VALUES (…), (…) ON CONFLICT DO NOTHING (≤ 65 535 parameters a statement)
 *   direct    pg-write's TableWriter with its first-load fast path: COPY straight into the table
 *             (a conflict aborts it and the batch goes the staging way)
 *   replay    the staging path again over rows that are all stored already (a crash replay)
 * into bronze.records (bytea + unique (source_key, line_no)) and a silver-like table
 * (unique (location_id, ts)), in batches of 1k / 5k / 20k, and prints rows/s with the
 * ratio to the staging path measured in the same run.
 *
 *   npm run bench:pg-write                      (1 000 000 rows; BENCH_ROWS=… to change)
 *   BENCH_DATABASE_URL=postgres://…/postgres    (default: the local server of dev machines)
 */
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { Client, Pool } from 'pg';
import { ADMIN_URL, saveResults } from './support';
import { TableWriter } from '../lib/pg/bulk-write';
import { inTransaction } from '../lib/pg/client';
import type { DbRecord } from '../lib/pg/write-plan';
import { DEFAULT_SCHEMAS, resolveTable } from '../lib/pg/identifiers';
import { migrate } from '../lib/pg/migrations';
import { describeTable, type TableInfo } from '../lib/pg/table-info';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const BATCH_SIZES = [1000, 5000, 20_000];

interface Target {
  name: string;
  table: string;
  key: string[];
  types: Record<string, string>;
  make(i: number): DbRecord;
}

const METRICS = [
  'temperature_celsius',
  'humidity_percent',
  'air_quality_index',
  'noise_level_db',
  'lighting_lux',
  'crowd_density',
  'stress_level',
  'sleep_hours',
  'mood_score',
];

/** Deterministic values: a cheap hash of the row number. */
function unit(i: number, salt: number): number {
  let x = (i + 1) * 2654435761 + salt * 40503;
  x = (x ^ (x >>> 15)) * 2246822519;
  x = (x ^ (x >>> 13)) * 3266489917;
  return ((x ^ (x >>> 16)) >>> 0) / 4294967296;
}

const T0 = Date.UTC(2024, 4, 1);

const targets: Target[] = [
  {
    name: 'bronze.records',
    table: 'bronze.records',
    key: ['source_key', 'line_no'],
    types: { source_kind: 'text', source_key: 'text', source_name: 'text', line_no: 'bigint', raw: 'bytea' },
    make: (i) => {
      const ts = new Date(T0 + Math.floor(i / 50) * 60_000).toISOString().replace('T', ' ').slice(0, 19);
      const values = METRICS.map((_, m) => (unit(i, m) * 100).toFixed(6)).join(',');
      return {
        source_kind: 'file',
        source_key: `bench-${Math.floor(i / 200_000)}`,
        source_name: 'university_mental_health_iot_dataset.csv',
        line_no: i + 2,
        raw: Buffer.from(`${ts},${100 + (i % 50)},${values},${i % 3}`),
      };
    },
  },
  {
    name: 'silver (location_id, ts unique)',
    table: 'bench.environment_readings',
    key: ['location_id', 'ts'],
    types: {
      location_id: 'text',
      ts: 'timestamptz',
      ...Object.fromEntries(METRICS.map((m) => [m, 'float8'])),
    },
    make: (i) => {
      const r: DbRecord = {
        location_id: String(100 + (i % 50)),
        ts: new Date(T0 + Math.floor(i / 50) * 60_000),
      };
      METRICS.forEach((m, k) => (r[m] = unit(i, k) * 100));
      return r;
    },
  },
];

type Path = (pool: Pool, info: TableInfo, target: Target, rows: DbRecord[]) => Promise<number>;

const writers = new Map<string, TableWriter>();
function writerFor(pool: Pool, target: Target, fastPath: boolean): TableWriter {
  const key = `${target.table}|${fastPath}`;
  let w = writers.get(key);
  if (!w) {
    w = new TableWriter(pool, {
      table: resolveTable(target.table),
      onConflict: 'nothing',
      progressTable: resolveTable('medallion.batches'),
      fastPath,
    });
    writers.set(key, w);
  }
  return w;
}

function columnsOf(target: Target): string[] {
  return Object.keys(target.types);
}

const q = (s: string) => `"${s}"`;
const tableSql = (t: string) => t.split('.').map(q).join('.');

const paths: Record<string, Path> = {
  async staging(pool, _info, target, rows) {
    return (await writerFor(pool, target, false).write(rows)).inserted;
  },
  async unnest(pool, _info, target, rows) {
    const cols = columnsOf(target);
    const arrays = cols.map((c) => rows.map((r) => r[c] ?? null));
    const sql =
      `WITH w AS (INSERT INTO ${tableSql(target.table)} (${cols.map(q).join(', ')}) ` +
      `SELECT * FROM unnest(${cols.map((c, i) => `$${i + 1}::${target.types[c]}[]`).join(', ')}) ` +
      `ON CONFLICT (${target.key.map(q).join(', ')}) DO NOTHING RETURNING 1) SELECT count(*)::int AS n FROM w`;
    const { rows: out } = await pool.query<{ n: number }>(sql, arrays);
    return out[0].n;
  },
  async multirow(pool, _info, target, rows) {
    const cols = columnsOf(target);
    const perStatement = Math.floor(65_535 / cols.length);
    return inTransaction(pool, async (c) => {
      let inserted = 0;
      for (let start = 0; start < rows.length; start += perStatement) {
        const part = rows.slice(start, start + perStatement);
        const params: unknown[] = [];
        const tuples = part.map(
          (r) => `(${cols.map((col) => `$${params.push(r[col] ?? null)}`).join(', ')})`,
        );
        const res = await c.query(
          `INSERT INTO ${tableSql(target.table)} (${cols.map(q).join(', ')}) VALUES ${tuples.join(', ')} ` +
            `ON CONFLICT (${target.key.map(q).join(', ')}) DO NOTHING`,
          params,
        );
        inserted += res.rowCount ?? 0;
      }
      return inserted;
    });
  },
  async direct(pool, _info, target, rows) {
    const r = await writerFor(pool, target, true).write(rows);
    if (r.path !== 'direct') throw new Error(`the fast path was not taken (${r.path})`);
    return r.inserted;
  },
};

interface Result {
  table: string;
  path: string;
  batch: number;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  ratioToStaging?: number;
}

/** Writes all ROWS in batches through `path`; only the writes are timed, not making the rows. */
async function timeAll(pool: Pool, info: TableInfo, target: Target, batch: number, path: Path) {
  let seconds = 0;
  let inserted = 0;
  for (let start = 0; start < ROWS; start += batch) {
    const rows: DbRecord[] = [];
    for (let i = start; i < Math.min(ROWS, start + batch); i++) rows.push(target.make(i));
    const t = process.hrtime.bigint();
    inserted += await path(pool, info, target, rows);
    seconds += Number(process.hrtime.bigint() - t) / 1e9;
  }
  return { seconds, inserted };
}

const results: Result[] = [];

function report(target: Target, path: string, batch: number, seconds: number): void {
  const r: Result = { table: target.name, path, batch, rows: ROWS, seconds, rowsPerSecond: ROWS / seconds };
  results.push(r);
  console.log(
    `${target.name.padEnd(32)} ${path.padEnd(9)} batch ${String(batch).padStart(6)}  ` +
      `${seconds.toFixed(2).padStart(7)} s  ${Math.round(r.rowsPerSecond).toLocaleString('en').padStart(9)} rows/s`,
  );
}

async function main(): Promise<void> {
  const dbName = `medallion_bench_${randomBytes(3).toString('hex')}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${dbName}`;
  const pool = new Pool({ connectionString: url.toString(), max: 2 });
  try {
    await migrate(pool, { ...DEFAULT_SCHEMAS });
    await pool.query(`CREATE SCHEMA bench; CREATE TABLE bench.environment_readings (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, location_id text NOT NULL, ts timestamptz NOT NULL,
      ${METRICS.map((m) => `${m} double precision`).join(', ')}, UNIQUE (location_id, ts))`);
    console.log(`pg-write bulk paths: ${ROWS.toLocaleString('en')} rows per run, ${cpus().length} cores`);
    for (const target of targets) {
      const info = await describeTable(pool, resolveTable(target.table));
      for (const batch of BATCH_SIZES) {
        for (const [name, path] of Object.entries(paths)) {
          await pool.query(`TRUNCATE ${tableSql(target.table)}`);
          await pool.query(`VACUUM ANALYZE ${tableSql(target.table)}`);
          const { seconds, inserted } = await timeAll(pool, info, target, batch, path);
          if (inserted !== ROWS) throw new Error(`${name} inserted ${inserted} of ${ROWS}`);
          report(target, name, batch, seconds);
          if (name === 'staging') {
            const replay = await timeAll(pool, info, target, batch, path);
            if (replay.inserted !== 0) throw new Error(`replay inserted ${replay.inserted}`);
            report(target, 'replay', batch, replay.seconds);
          }
        }
      }
    }
  } finally {
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
  for (const r of results) {
    const base = results.find((b) => b.table === r.table && b.batch === r.batch && b.path === 'staging');
    r.ratioToStaging = base ? r.rowsPerSecond / base.rowsPerSecond : undefined;
  }
  const table = [
    '| table | path | batch | rows/s | × staging |',
    '| --- | --- | ---: | ---: | ---: |',
    ...results.map(
      (r) =>
        `| ${r.table} | ${r.path} | ${r.batch.toLocaleString('en')} | ${Math.round(r.rowsPerSecond).toLocaleString('en')} | ${r.ratioToStaging?.toFixed(2)} |`,
    ),
  ].join('\n');
  console.log(`\n${table}`);
  saveResults('pg-write-paths', { rows: ROWS, postgres: await serverVersion(), results });
}

async function serverVersion(): Promise<string> {
  const c = new Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0].v;
  } finally {
    await c.end();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
