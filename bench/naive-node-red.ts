/**
 * The usual Node-RED way, as a baseline (issue #12): one generated IoT-temp CSV (100 000
 * data rows by default) through Node-RED's core nodes, one message per row and one INSERT
 * per row, the flow a user builds by hand:
 *   file in    "a msg per line" (format lines, encoding none)
 *   csv        RFC 4180 mode, "first row contains column names" ticked, a message per row,
 *              numbers parsed. The header needs nothing else: file in sets msg.parts, and
 *              the csv node takes the line of parts.index 0 as the header and keeps its
 *              columns for the lines after it, so the rows come keyed `id`, `room_id/id`,
 *              `noted_date`, `temp`, `out/in`. After the file's last line the csv node sends
 *              `{ complete: true }` without a payload; the function skips it (unguarded it
 *              fails once per file with "Cannot read properties of undefined")
 *   function   `pool.query('INSERT INTO readings … ON CONFLICT (id) DO NOTHING', [...])` on
 *              a pg Pool from functionGlobalContext (`global.get('pool')`), the row sent on
 *              and node.done() called when the INSERT is committed. The pool has 10
 *              connections, what node-red-contrib-postgresql's config node gives by default
 *   catch      → the benchmark, which fails on the first error
 * into a plain hand-written table, `id` its primary key so that a file read twice is not
 * doubled. Timed from the message into file in until the function has sent on every row;
 * the table must then hold exactly the file's rows. Peak RSS is sampled every 100 ms while
 * it runs. The test helper's sinon spies on Node.prototype (send, status, …, which keep every
 * call's arguments and stack) are restored before the clock starts, so that memory and time
 * are those of a real Node-RED, not of the test helper recording some 300 000 sends (left in
 * place, at 5 000 rows they added ~50 MB to the peak and made the run ~40 % slower).
 *
 *   npm run bench:naive                         (BENCH_ROWS=… to change the size)
 *   BENCH_DATABASE_URL=postgres://…/postgres    (default: the local server of dev machines)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeMessage } from 'node-red';
import helper from 'node-red-node-test-helper';
import { Pool } from 'pg';
import { saveResults, withDatabase, withoutHelperSpies } from './support';
import { writeIotTempCsv } from '../lib/generators/iot-temp-csv';

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const POOL_MAX = 10;
const RSS_EVERY_MS = 100;
const STALL_MS = 60_000;
const NODE_RED_VERSION = (
  JSON.parse(readFileSync(require.resolve('node-red/package.json'), 'utf8')) as { version: string }
).version;

/* eslint-disable @typescript-eslint/no-require-imports -- Node-RED's core nodes are CommonJS modules */
const CORE_NODES = ['storage/10-file', 'parsers/70-CSV', 'function/10-function'].map((m) =>
  require(`@node-red/nodes/core/${m}.js`),
);
/* eslint-enable @typescript-eslint/no-require-imports */

const INSERT_ROW = `if (msg.payload === undefined) {
  node.done();
  return null;
}
const r = msg.payload;
global.get('pool')
  .query(
    'INSERT INTO readings (id, room_id, noted_date, temp, out_in) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING',
    [r.id, r['room_id/id'], r.noted_date, r.temp, r['out/in']],
  )
  .then(
    () => {
      node.send(msg);
      node.done();
    },
    (err) => {
      node.error(err, msg);
      node.done();
    },
  );
return null;`;

function flow(file: string) {
  return [
    {
      id: 'read',
      type: 'file in',
      filename: file,
      filenameType: 'str',
      format: 'lines',
      chunk: false,
      sendError: false,
      encoding: 'none',
      allProps: false,
      wires: [['parse']],
    },
    {
      id: 'parse',
      type: 'csv',
      spec: 'rfc',
      sep: ',',
      hdrin: true,
      hdrout: 'none',
      multi: 'one',
      ret: '\\n',
      temp: '',
      skip: '0',
      strings: true,
      include_empty_strings: '',
      include_null_values: '',
      wires: [['insert']],
    },
    {
      id: 'insert',
      type: 'function',
      func: INSERT_ROW,
      outputs: 1,
      timeout: 0,
      noerr: 0,
      initialize: '',
      finalize: '',
      libs: [],
      wires: [['inserted']],
    },
    { id: 'inserted', type: 'helper' },
    { id: 'c', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper' },
  ];
}

/** Resolves when `inserted` has received ROWS messages; rejects on a caught error or when nothing lands for STALL_MS. */
function allInserted(inserted: NodeJS.EventEmitter, caught: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve, reject) => {
    let count = 0;
    let seen = -1;
    const watchdog = setInterval(() => {
      if (count === seen) fail(new Error(`stalled at ${count} of ${ROWS} rows`));
      seen = count;
    }, STALL_MS);
    const fail = (err: Error) => {
      clearInterval(watchdog);
      reject(err);
    };
    inserted.on('input', () => {
      if (++count === ROWS) {
        clearInterval(watchdog);
        resolve();
      }
    });
    caught.on('input', (msg: NodeMessage & { error: { message: string } }) =>
      fail(new Error(msg.error.message)),
    );
  });
}

interface Run {
  seconds: number;
  peakRssMB: number;
  rssBeforeMB: number;
}

async function naive(url: string, file: string): Promise<Run> {
  const pool = new Pool({ connectionString: url, max: POOL_MAX });
  pool.on('error', () => undefined); // DROP DATABASE … WITH (FORCE) ends idle connections
  helper.init(require.resolve('node-red'));
  helper.settings({ functionGlobalContext: { pool } });
  try {
    await pool.query(
      `CREATE TABLE readings (id text PRIMARY KEY, room_id text, noted_date text, temp double precision, out_in text)`,
    );
    await helper.load(CORE_NODES, flow(file));
    withoutHelperSpies(helper);
    const done = allInserted(
      helper.getNode('inserted') as unknown as NodeJS.EventEmitter,
      helper.getNode('caught') as unknown as NodeJS.EventEmitter,
    );
    const rssBefore = process.memoryUsage.rss();
    let peakRss = rssBefore;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
    }, RSS_EVERY_MS);
    const started = process.hrtime.bigint();
    try {
      helper.getNode('read').receive({});
      await done;
    } finally {
      clearInterval(sampler);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM readings');
    if (rows[0].n !== ROWS) throw new Error(`readings holds ${rows[0].n} rows, the file ${ROWS}`);
    return {
      seconds,
      peakRssMB: Math.round(peakRss / 2 ** 20),
      rssBeforeMB: Math.round(rssBefore / 2 ** 20),
    };
  } finally {
    await helper.unload();
    await pool.end();
  }
}

const grouped = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'medallion-bench-naive-'));
  const file = join(work, 'bench.csv');
  try {
    const bytes = await writeIotTempCsv(file, ROWS);
    console.log(
      `naive-node-red: ${ROWS} rows, ${(bytes / 1048576).toFixed(1)} MB, pg pool of ${POOL_MAX}, Node-RED ${NODE_RED_VERSION}`,
    );
    const run = await withDatabase((url) => naive(url, file));
    const seconds = Math.round(run.seconds * 100) / 100;
    const rowsPerSecond = Math.round(ROWS / run.seconds);
    console.log(
      `naive (file in → csv → function INSERT per row): ${ROWS} rows in ${run.seconds.toFixed(1)} s = ` +
        `${grouped(rowsPerSecond)} rows/s, peak RSS ${run.peakRssMB} MB (${run.rssBeforeMB} MB before the file)`,
    );
    saveResults('naive', {
      rows: ROWS,
      bytes,
      seconds,
      rowsPerSecond,
      peakRssMB: run.peakRssMB,
      rssBeforeMB: run.rssBeforeMB,
      pool: POOL_MAX,
      nodeRed: NODE_RED_VERSION,
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
