/**
 * How fast does a landing-folder file reach bronze? One generated IoT-temp CSV
 * (1 000 000 data rows by default) goes
 *   copy-lines    the usual way, as a baseline: its lines streamed by COPY into a plain
 *                 text table (no key, no lineage, no parsing): the server's limit here
 *   reader        lib only: CsvFileReader → TableWriter into bronze.records (raw bytea +
 *                 lineage + unique key + progress rows), four batches in flight
 *   reader+jsonb  the same into a bronze table that also keeps the parsed fields as jsonb
 *   node-red      the real nodes in a Node-RED runtime: watch-folder → pg-write (bronze),
 *                 from the drop into the landing folder until the file is in processed/
 *   node-red+silver  the same, on through validate (iot-temp) into silver and quarantine,
 *                 until every batch's silver and quarantine progress is committed
 * and prints rows/s with the ratio to copy-lines measured in the same run.
 *
 *   npm run bench:file-to-bronze                (BENCH_ROWS=… to change the size,
 *                                                BENCH_ONLY=reader,node-red to run only those)
 *   BENCH_DATABASE_URL=postgres://…/postgres    (default: the local server of dev machines)
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { copyFileSync, createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { NodeMessage } from 'node-red';
import helper from 'node-red-node-test-helper';
import { Pool } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { type BenchResult, saveResults, withDatabase } from './support';
import { CsvFileReader } from '../lib/files/csv-reader';
import { sha256File } from '../lib/files/folders';
import { writeIotTempCsv } from '../lib/generators/iot-temp-csv';
import { TableWriter } from '../lib/pg/bulk-write';
import { DEFAULT_SCHEMAS, resolveTable } from '../lib/pg/identifiers';
import { migrate } from '../lib/pg/migrations';
import pgConfigNode from '../nodes/pg-config/pg-config';
import pgWriteNode from '../nodes/pg-write/pg-write';
import validateNode from '../nodes/validate/validate';
import watchFolderNode from '../nodes/watch-folder/watch-folder';
import { landingFlow, pgWrite } from '../test/support/landing-flow';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const BATCH = 5000;
const IN_FLIGHT = 4;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function copyLines(url: string, file: string): Promise<number> {
  const pool = new Pool({ connectionString: url, max: 1 });
  pool.on('error', () => undefined);
  try {
    await pool.query('CREATE TABLE lines (line text)');
    const client = await pool.connect();
    try {
      return await timed(() =>
        pipeline(
          createReadStream(file),
          client.query(copyFrom(`COPY lines FROM STDIN WITH (FORMAT text, DELIMITER E'\\x01')`)),
        ),
      );
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }
}

/** The watch-folder pipeline without Node-RED: read, write, at most IN_FLIGHT batches ahead. */
async function readerToBronze(url: string, file: string, jsonb: boolean): Promise<number> {
  const pool = new Pool({ connectionString: url, max: 2 });
  pool.on('error', () => undefined); // DROP DATABASE … WITH (FORCE) ends idle connections
  try {
    await migrate(pool, { ...DEFAULT_SCHEMAS });
    let table = 'bronze.records';
    if (jsonb) {
      await pool.query(`CREATE TABLE bronze.records_jsonb (LIKE bronze.records INCLUDING ALL, fields jsonb)`);
      table = 'bronze.records_jsonb';
    }
    const writer = new TableWriter(pool, {
      table: resolveTable(table, DEFAULT_SCHEMAS),
      onConflict: 'nothing',
      columns: [
        'source_kind',
        'source_key',
        'source_name',
        'line_no',
        'raw',
        'run_id',
        'batch',
        ...(jsonb ? ['fields'] : []),
      ],
      progressTable: resolveTable('medallion.batches', DEFAULT_SCHEMAS),
    });
    const runId = randomUUID();
    return await timed(async () => {
      const sha256 = await sha256File(file);
      const reader = new CsvFileReader(file, { batchSize: BATCH });
      let chain: Promise<unknown> = Promise.resolve();
      const pending: Promise<unknown>[] = [];
      for await (const batch of reader.read()) {
        const key = { sourceKey: sha256, batch: batch.batch, layer: 'bronze', runId, last: batch.last };
        const lineage = {
          source_kind: 'file',
          source_key: sha256,
          source_name: 'bench.csv',
          run_id: runId,
          batch: batch.batch,
        };
        chain = chain.then(() => writer.write(batch.records, key, lineage));
        pending.push(chain);
        if (pending.length >= IN_FLIGHT) await pending.shift();
      }
      await chain;
    });
  } finally {
    await pool.end();
  }
}

/**
 * The real nodes in a Node-RED runtime, from the drop until the file is in processed/;
 * with `silver`, bronze → validate (iot-temp) → pg-write silver.temperature_readings and
 * → quarantine, the run complete in both (watch-folder's completion layers).
 */
async function nodeRed(url: string, file: string, silver: boolean): Promise<number> {
  const landing = mkdtempSync(join(tmpdir(), 'medallion-bench-landing-'));
  helper.init(require.resolve('node-red'));
  try {
    const [cfg, wf, bronze] = landingFlow({
      url,
      landing,
      watch: {
        pollInterval: 250,
        batchSize: BATCH,
        readAhead: IN_FLIGHT,
        completeLayers: silver ? 'silver, quarantine' : '',
      },
      filesTo: 'files',
    });
    const flow = [
      cfg,
      wf,
      silver ? { ...bronze, wires: [['v'], []] } : bronze,
      { id: 'files', type: 'helper' },
      ...(silver
        ? [
            { id: 'v', type: 'medallion-validate', profile: 'iot-temp', wires: [['pgs'], ['pgq']] },
            pgWrite('pgs', 'silver.temperature_readings', 'silver'),
            pgWrite('pgq', 'silver.quarantine', 'quarantine'),
          ]
        : []),
    ];
    await helper.load([pgConfigNode, pgWriteNode, watchFolderNode, validateNode], flow);
    const filesNode = helper.getNode('files') as unknown as NodeJS.EventEmitter;
    // the database is migrated and the folder watched before the clock starts
    await new Promise((r) => setTimeout(r, 2000));
    return await timed(async () => {
      const done = once(filesNode, 'input') as Promise<[NodeMessage & { payload: { state: string } }]>;
      copyFileSync(file, join(landing, 'bench.csv'));
      const [msg] = await done;
      if (msg.payload.state !== 'loaded') throw new Error(`bench.csv was ${msg.payload.state}`);
    });
  } finally {
    await helper.unload();
    rmSync(landing, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'medallion-bench-'));
  const file = join(work, 'bench.csv');
  try {
    const bytes = await writeIotTempCsv(file, ROWS);
    console.log(`file-to-bronze: ${ROWS} rows, ${(bytes / 1048576).toFixed(1)} MB, batches of ${BATCH}`);
    const results: BenchResult[] = [];
    const only = process.env.BENCH_ONLY?.split(',');
    const run = async (scenario: string, fn: (url: string) => Promise<number>) => {
      if (only && !only.includes(scenario) && scenario !== 'copy-lines') return;
      const seconds = await withDatabase(fn);
      const r = {
        scenario,
        rows: ROWS,
        seconds: Math.round(seconds * 100) / 100,
        rowsPerSecond: Math.round(ROWS / seconds),
      };
      results.push(r);
      console.log(
        `  ${scenario.padEnd(16)} ${r.seconds.toFixed(2).padStart(7)} s  ${String(r.rowsPerSecond).padStart(8)} rows/s`,
      );
    };
    await run('copy-lines', (url) => copyLines(url, file));
    await run('reader', (url) => readerToBronze(url, file, false));
    await run('reader+jsonb', (url) => readerToBronze(url, file, true));
    await run('node-red', (url) => nodeRed(url, file, false));
    await run('node-red+silver', (url) => nodeRed(url, file, true));
    const base = results[0].rowsPerSecond;
    for (const r of results) r.ratio = Math.round((r.rowsPerSecond / base) * 1000) / 1000;
    console.table(results);
    saveResults('file-to-bronze', { rows: ROWS, bytes, batch: BATCH, inFlight: IN_FLIGHT, results });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
