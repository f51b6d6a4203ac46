/**
 * The pack's file branch end to end, against the schema's limit (bench/schema-limit.ts) and
 * the usual Node-RED way (bench/naive-node-red.ts). One generated iot-environment CSV
 * (1 000 000 rows by default, every row valid, lib/generators/iot-environment-csv.ts):
 *   file-branch  the bundled flow's file branch (flows/medallion.json: watch-folder → bronze →
 *                validate → silver and quarantine → anomaly → aggregate → gold) in a Node-RED
 *                runtime, its MQTT branch and simulators disabled; timed from the drop into the
 *                landing folder until the file's run in medallion.runs is complete (every batch
 *                in silver, quarantine, gold and anomalies); peak RSS sampled every 100 ms
 *                (the test helper's spies taken off first: see withoutHelperSpies)
 *   cli          `medallion ingest <file> --once` as a process, from its start (Node-RED's
 *                start-up included) until it exits with the run complete
 *   latency      a 10 000-row file dropped into the landing folder of the loaded flow until
 *                all its rows can be read in silver (polled every 20 ms); watch-folder's
 *                settings in the bundled flow: polled every 250 ms, a file taken once its
 *                size held for 2 polls, so about half a second of it is waiting for the file
 *                to be complete
 * and prints rows/s with the ratios to the last saved schema-limit and naive runs (`npm run bench`
 * runs those first, so there they are of the same run; bench/run-all.ts computes its own).
 *
 *   npm run bench:ours-file                     (BENCH_ROWS=… to change the size,
 *                                                BENCH_ONLY=file-branch,cli,latency to run only those)
 *   BENCH_DATABASE_URL=postgres://…/postgres    (default: the local server of dev machines)
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BenchResult, saveResults, withDatabase, withoutHelperSpies } from './support';
import { writeIotEnvironmentCsv } from '../lib/generators/iot-environment-csv';
import { loadBundled } from '../test/support/bundled';
import { query } from '../test/support/db';
import { helper } from '../test/support/flow';
import { poll, spawnCollecting } from '../test/support/processes';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const LATENCY_ROWS = 10_000;
const REPO = resolve(__dirname, '..');

/** Peak RSS of this process while `fn` runs, sampled every 100 ms. */
async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ value: T; peakRssMB: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
  try {
    const value = await fn();
    return { value, peakRssMB: Math.round(Math.max(peak, process.memoryUsage().rss) / 2 ** 20) };
  } finally {
    clearInterval(timer);
  }
}

/** The bundled flow's file branch on a fresh database, `fn` given its landing folder. */
async function withFileBranch<T>(fn: (url: string, landing: string) => Promise<T>): Promise<T> {
  return withDatabase(async (url) => {
    const work = mkdtempSync(join(tmpdir(), 'medallion-bench-branch-'));
    const loaded = await loadBundled(url, work);
    withoutHelperSpies(helper);
    try {
      // migrated and watching before the clock starts
      await poll(
        async () =>
          (await query(url, 'SELECT 1 FROM medallion.schema_migrations')).length ? true : undefined,
        30_000,
        'the migrations',
      );
      await new Promise((r) => setTimeout(r, 1000));
      return await fn(url, join(work, 'landing'));
    } finally {
      await helper.unload();
      loaded.restore();
      rmSync(work, { recursive: true, force: true });
    }
  });
}

async function runComplete(url: string, rows: number): Promise<void> {
  await poll(
    async () => {
      const [r] = await query<{ status: string; rows_read: string }>(
        url,
        'SELECT status, rows_read FROM medallion.runs',
      );
      if (r?.status === 'failed') throw new Error('the run failed');
      if (r?.status !== 'complete') return undefined;
      if (Number(r.rows_read) !== rows) throw new Error(`the run read ${r.rows_read} rows, not ${rows}`);
      return true;
    },
    30 * 60_000,
    'the run complete',
    100,
  );
}

async function fileBranch(file: string): Promise<BenchResult> {
  return withFileBranch(async (url, landing) => {
    const { value: seconds, peakRssMB } = await withPeakRss(async () => {
      const started = process.hrtime.bigint();
      copyFileSync(file, join(landing, 'bench.csv'));
      await runComplete(url, ROWS);
      return Number(process.hrtime.bigint() - started) / 1e9;
    });
    const [silver] = await query<{ n: number }>(
      url,
      'SELECT count(*)::int AS n FROM silver.environment_readings',
    );
    if (silver.n !== ROWS) throw new Error(`silver holds ${silver.n} rows, not ${ROWS}`);
    return { scenario: 'file-branch', rows: ROWS, seconds, rowsPerSecond: ROWS / seconds, peakRssMB };
  });
}

async function cli(file: string): Promise<BenchResult> {
  const bin = join(REPO, 'dist', 'bin', 'medallion.js');
  if (!existsSync(bin)) throw new Error('dist/ is missing: run npm run build');
  return withDatabase(async (url) => {
    const started = process.hrtime.bigint();
    const p = spawnCollecting(process.execPath, [bin, 'ingest', file, '--once', '--database-url', url], {
      cwd: REPO,
      env: { ...process.env },
    });
    const code = await p.exited(30 * 60_000);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (code !== 0) throw new Error(`medallion ingest exited ${code}:\n${p.output().slice(-2000)}`);
    return { scenario: 'cli', rows: ROWS, seconds, rowsPerSecond: ROWS / seconds };
  });
}

async function latency(file: string): Promise<BenchResult> {
  return withFileBranch(async (url, landing) => {
    const started = process.hrtime.bigint();
    copyFileSync(file, join(landing, 'small.csv'));
    await poll(
      async () => {
        const [r] = await query<{ n: number }>(
          url,
          'SELECT count(*)::int AS n FROM silver.environment_readings',
        );
        return r.n === LATENCY_ROWS ? true : undefined;
      },
      120_000,
      'the small file in silver',
      20,
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { scenario: 'latency', rows: LATENCY_ROWS, seconds, rowsPerSecond: LATENCY_ROWS / seconds };
  });
}

/** rows/s of `scenario` in the last saved run of bench `name`, if any. */
function saved(name: string, scenario: string): number | undefined {
  const path = join(__dirname, 'results', `${name}.json`);
  if (!existsSync(path)) return undefined;
  const run = JSON.parse(readFileSync(path, 'utf8')) as {
    rowsPerSecond?: number;
    results?: Array<{ scenario: string; rowsPerSecond: number }>;
  };
  return run.results?.find((r) => r.scenario === scenario)?.rowsPerSecond ?? run.rowsPerSecond;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'medallion-bench-'));
  try {
    const file = join(work, 'bench.csv');
    const small = join(work, 'small.csv');
    const bytes = await writeIotEnvironmentCsv(file, ROWS);
    await writeIotEnvironmentCsv(small, LATENCY_ROWS);
    console.log(`ours-file: ${ROWS} iot-environment rows, ${(bytes / 1048576).toFixed(1)} MB`);
    const only = process.env.BENCH_ONLY?.split(',');
    const results: BenchResult[] = [];
    for (const [scenario, fn] of [
      ['file-branch', () => fileBranch(file)],
      ['cli', () => cli(file)],
      ['latency', () => latency(small)],
    ] as const) {
      if (only && !only.includes(scenario)) continue;
      const r = await fn();
      r.seconds = Math.round(r.seconds * 100) / 100;
      r.rowsPerSecond = Math.round(r.rowsPerSecond);
      results.push(r);
      console.log(
        `  ${scenario.padEnd(12)} ${String(r.rows).padStart(8)} rows ${r.seconds.toFixed(2).padStart(8)} s ` +
          `${String(r.rowsPerSecond).padStart(8)} rows/s${r.peakRssMB ? `  peak RSS ${r.peakRssMB} MB` : ''}`,
      );
    }
    const limit = saved('schema-limit', 'schema-limit');
    const naive = saved('naive', 'naive');
    const branch = results.find((r) => r.scenario === 'file-branch');
    const ratios =
      branch && limit && naive
        ? {
            toSchemaLimit: Math.round((branch.rowsPerSecond / limit) * 1000) / 1000,
            toNaive: Math.round((branch.rowsPerSecond / naive) * 10) / 10,
          }
        : undefined;
    if (ratios) {
      console.log(
        `  file-branch: ${ratios.toSchemaLimit} × the schema limit (${limit} rows/s, bench:schema-limit), ` +
          `${ratios.toNaive} × naive (${naive} rows/s, bench:naive)`,
      );
    }
    console.table(results);
    saveResults('ours-file', { rows: ROWS, bytes, results, ratios, schemaLimit: limit, naive });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
