/**
 * `medallion` as operators run it: the built CLI in its own process against real
 * PostgreSQL (a database per test, or the embedded server) and the real datasets.
 * Every exit code, the summary against the database, `--json`, a file given twice,
 * and the same tables as the bundled flow makes from the same files.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { NodeMessage } from 'node-red';
import type { IngestSummary } from '../../lib/cli/summary';
import type { StatusReport } from '../../lib/cli/status';
import type { FileOutcome } from '../../lib/files/watch-types';
import { fingerprints, debugNode, loadBundled } from '../support/bundled';
import { DATASETS, expectCampus, expectIotTemp } from '../support/datasets';
import { goldMismatches } from '../support/gold';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { helper, messages } from '../support/flow';
import { freePort, processesMentioning } from '../support/processes';

const cli = resolve(__dirname, '..', '..', 'dist', 'bin', 'medallion.js');
const CAMPUS = 'university_mental_health_iot_dataset.csv';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to its end (no TTY: plain progress lines). */
function medallion(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return new Promise((done, fail) => {
    const childEnv = { ...process.env, ...env };
    if (!('DATABASE_URL' in env)) delete childEnv.DATABASE_URL;
    const child = spawn(process.execPath, [cli, ...args], {
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('medallion CLI (real PostgreSQL, the real datasets)', function () {
  this.timeout(180_000);
  let db: TestDatabase;
  let work: string;

  before(() => assert.ok(existsSync(cli), 'dist/ is missing: `npm test` builds it (npm run build)'));
  beforeEach(async () => {
    db = await createTestDatabase('cli');
    work = mkdtempSync(join(tmpdir(), 'medallion-cli-test-'));
  });
  afterEach(async () => {
    rmSync(work, { recursive: true, force: true });
    await db.drop();
  });

  /** The sums of the complete runs. */
  async function runTotals() {
    const [row] = await query<Record<string, number>>(
      db.url,
      `SELECT count(*)::int AS runs, coalesce(sum(rows_read), 0)::int AS read,
              coalesce(sum(rows_inserted), 0)::int AS inserted, coalesce(sum(rows_duplicate), 0)::int AS duplicate,
              coalesce(sum(rows_quarantined), 0)::int AS quarantined, coalesce(sum(rows_skipped), 0)::int AS skipped
         FROM medallion.runs WHERE status = 'complete'`,
    );
    return row;
  }

  it('prints help, and exits 2 with a one-line reason on usage and configuration errors', async () => {
    for (const [args, pattern] of [
      [['--help'], /^Usage: medallion <command> \[options\]/],
      [[], /^Usage: medallion <command>/],
      [['ingest', '--help'], /^Usage: medallion ingest <file\|dir> \[options\]/],
      [['status', '-h'], /^Usage: medallion status \[options\]/],
    ] as const) {
      const r = await medallion([...args]);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, pattern);
    }
    // npx runs the package's own bin in the repository: it must be executable after a build
    const npx = spawnSync('npx', ['--no-install', 'medallion', '--help'], {
      cwd: resolve(__dirname, '..', '..'),
      encoding: 'utf8',
    });
    assert.equal(npx.status, 0, npx.stderr);
    assert.match(npx.stdout, /^Usage: medallion <command>/);
    writeFileSync(
      join(work, 'bad-rules.json'),
      JSON.stringify({ name: 'x', version: 'x/1', fields: [{ field: 'a', type: 'colour' }] }),
    );
    writeFileSync(join(work, 'a.csv'), 'a\n1\n');
    for (const [args, reason] of [
      [['ingest'], /ingest needs a file or directory/],
      [['ingest', 'a', 'b'], /ingest takes one file or directory, got 2/],
      [['ingest', join(work, 'a.csv'), '--bogus'], /Unknown option '--bogus'/],
      [['ingest', join(work, 'nope.csv')], /cannot read .*nope\.csv: ENOENT/],
      [
        ['ingest', join(work, 'a.csv'), '--profile', 'iot-nope'],
        /unknown profile "iot-nope": use auto, iot-temp/,
      ],
      [
        ['ingest', join(work, 'a.csv'), '--profile', join(work, 'bad-rules.json')],
        /--profile .*bad-rules\.json: invalid rule set at fields\.0\.type/,
      ],
      [['ingest', join(work, 'a.csv'), '--batch-size', '0'], /--batch-size must be a whole number from 1/],
      [['status', '--limit', 'x'], /--limit must be a whole number/],
      [['purge'], /unknown command "purge"/],
    ] as const) {
      const r = await medallion([...args], { DATABASE_URL: db.url });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, reason);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    }
  });

  it('exits 3 when the database is unreachable', async () => {
    writeFileSync(join(work, 'a.csv'), 'a\n1\n');
    const url = `postgres://postgres@127.0.0.1:${await freePort(0)}/medallion`;
    for (const args of [['ingest', join(work, 'a.csv')], ['status']]) {
      const r = await medallion([...args, '--database-url', url]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(
        r.stderr,
        /cannot reach PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/medallion: .*ECONNREFUSED/,
      );
    }
  });

  it('ingests a folder of both seed datasets with --once: the summary is the database, the tables are the flow', async () => {
    const landing = join(work, 'in');
    mkdirSync(landing);
    copyFileSync(join(DATASETS, 'IOT-temp.csv'), join(landing, 'IOT-temp.csv'));
    copyFileSync(join(DATASETS, CAMPUS), join(landing, CAMPUS));
    const r = await medallion(['ingest', landing, '--once', '--json'], { DATABASE_URL: db.url });
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as IngestSummary;
    const [temp, campus] = [
      expectIotTemp(join(DATASETS, 'IOT-temp.csv')),
      expectCampus(join(DATASETS, CAMPUS)),
    ];
    assert.deepEqual(summary.files, { loaded: 2, duplicate: 0, quarantined: 0, failed: 0 });
    assert.deepEqual(summary.rows, {
      read: temp.valid + temp.invalid + campus.valid + campus.invalid,
      inserted: temp.distinct + campus.distinct,
      duplicate: temp.valid - temp.distinct + campus.valid - campus.distinct,
      quarantined: temp.invalid + campus.invalid,
      skipped: temp.skipped + campus.skipped,
    });
    const { runs, ...totals } = await runTotals();
    assert.equal(runs, 2);
    assert.deepEqual(totals, summary.rows, 'the summary is what medallion.runs holds');
    assert.deepEqual(summary.errors, []);
    for (const name of ['IOT-temp.csv', CAMPUS])
      assert.ok(existsSync(join(landing, 'processed', name)), name);
    assert.ok(
      readdirSync(join(work, 'quarantine')).some((f) => f.endsWith('.rejected.csv')),
      'quarantine/ beside the input',
    );

    // the same files through flows/medallion.json in Node-RED make the same tables
    const viaFlow = await createTestDatabase('cli_flow');
    const flowWork = join(work, 'flow');
    const { restore } = await loadBundled(viaFlow.url, flowWork);
    try {
      const outcomes = messages<NodeMessage & { payload: FileOutcome }>(
        debugNode('Landing (files)', 'files'),
        2,
        60_000,
      );
      copyFileSync(join(DATASETS, 'IOT-temp.csv'), join(flowWork, 'landing', 'IOT-temp.csv'));
      copyFileSync(join(DATASETS, CAMPUS), join(flowWork, 'landing', CAMPUS));
      assert.deepEqual(
        (await outcomes).map((m) => m.payload.state),
        ['loaded', 'loaded'],
      );
      assert.deepEqual(await fingerprints(db.url), await fingerprints(viaFlow.url));
    } finally {
      await helper.unload();
      restore();
      await viaFlow.drop();
    }
  });

  it('gives identical gold windows and anomalies for the same data shuffled, in other batches, and ingested twice', async () => {
    const lines = readFileSync(join(DATASETS, CAMPUS), 'utf8').trimEnd().split('\n');
    const [header, ...data] = lines;
    // a fixed shuffle (a different order, not a different random one each run)
    const shuffled = data
      .map((l, i) => ({ l, k: (Math.sin(i * 12.9898) * 43758.5453) % 1 }))
      .sort((a, b) => a.k - b.k);
    writeFileSync(join(work, 'shuffled.csv'), [header, ...shuffled.map((x) => x.l)].join('\n') + '\n');
    writeFileSync(join(work, 'first-half.csv'), [header, ...data.slice(0, 400)].join('\n') + '\n');
    writeFileSync(join(work, 'second-half.csv'), [header, ...data.slice(400)].join('\n') + '\n');
    copyFileSync(join(DATASETS, CAMPUS), join(work, 'campus.csv'));

    assert.equal((await medallion(['ingest', join(work, 'campus.csv')], { DATABASE_URL: db.url })).code, 0);
    const other = await createTestDatabase('cli_other');
    try {
      for (const [file, batch] of [
        ['shuffled.csv', '37'],
        ['first-half.csv', '100'],
        ['second-half.csv', '1000'],
        ['campus.csv', '5000'],
      ]) {
        const r = await medallion(['ingest', join(work, file), '--batch-size', batch], {
          DATABASE_URL: other.url,
        });
        assert.equal(r.code, 0, `${file}: ${r.stderr}`);
      }
      const [a, b] = [await fingerprints(db.url), await fingerprints(other.url)];
      assert.equal(b.gold, a.gold, 'gold windows');
      assert.equal(b.anomalies, a.anomalies, 'anomalies');
      assert.equal(b.environment.split(',')[0], a.environment.split(',')[0], 'silver row count');
      assert.deepEqual((await goldMismatches(other.url, [3600, 86400])).mismatches, []);
    } finally {
      await other.drop();
    }
  });

  it('reads a file in place with progress lines, and a file given twice loads once', async () => {
    const file = join(work, 'campus.csv');
    copyFileSync(join(DATASETS, CAMPUS), file);
    const first = await medallion(['ingest', file, '--batch-size', '200'], { DATABASE_URL: db.url });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /campus\.csv: 100 %, 1,000 rows sent/);
    assert.match(
      first.stderr,
      /campus\.csv: loaded 1,000 rows — 931 inserted, 0 duplicate, 69 quarantined, 0 skipped/,
    );
    assert.match(first.stdout, /^files {10}1 loaded, 0 already loaded, 0 quarantined, 0 failed$/m);
    assert.match(first.stdout, /^ {2}quarantined {2}69$/m);
    assert.ok(existsSync(file), 'read in place, not moved');
    const [{ batches }] = await query<{ batches: number }>(db.url, 'SELECT batches FROM medallion.runs');
    assert.equal(batches, 5, '--batch-size 200');

    const second = await medallion(['ingest', file, '--json'], { DATABASE_URL: db.url });
    assert.equal(second.code, 0, second.stderr);
    const summary = JSON.parse(second.stdout) as IngestSummary;
    assert.deepEqual(summary.files, { loaded: 0, duplicate: 1, quarantined: 0, failed: 0 });
    assert.equal(summary.outcomes[0].error, 'already loaded as campus.csv');
    assert.equal((await runTotals()).runs, 1);
    const [{ n }] = await query<{ n: number }>(
      db.url,
      'SELECT count(*)::int AS n FROM silver.environment_readings',
    );
    assert.equal(n, 931);
  });

  it('exits 1 when a file is quarantined whole, and status reports runs, ledger and quarantine', async () => {
    const png = join(work, 'photo.csv');
    writeFileSync(png, Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
    const r = await medallion(['ingest', png], { DATABASE_URL: db.url });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /photo\.csv: quarantined \(binary\) — photo\.csv: the file is a PNG image/);
    assert.match(r.stdout, /0 loaded, 0 already loaded, 1 quarantined, 0 failed/);

    copyFileSync(join(DATASETS, CAMPUS), join(work, 'campus.csv'));
    assert.equal((await medallion(['ingest', join(work, 'campus.csv')], { DATABASE_URL: db.url })).code, 0);
    const status = await medallion(['status', '--json', '--database-url', db.url]);
    assert.equal(status.code, 0, status.stderr);
    const report = JSON.parse(status.stdout) as StatusReport;
    assert.deepEqual(
      report.runs.map((x) => [x.source, x.status, x.rows_read, x.rows_quarantined]),
      [
        ['file:campus.csv', 'complete', 1000, 69],
        ['file:photo.csv', 'failed', 0, 0],
      ],
    );
    assert.deepEqual(report.ledger, [
      { state: 'loaded', files: 1, stale: 0 },
      { state: 'quarantined', files: 1, stale: 0 },
    ]);
    const [{ q }] = await query<{ q: number }>(db.url, 'SELECT count(*)::int AS q FROM silver.quarantine');
    assert.deepEqual(report.quarantine, [{ rule: 'min', records: q }]);
    const text = await medallion(['status'], { DATABASE_URL: db.url });
    assert.match(
      text.stdout,
      /^Recent runs\n {2}\S+ \S+ {2}complete file:campus\.csv: read 1,000, inserted 931/,
    );
    assert.match(text.stdout, /^Quarantined records by rule\n {2}min {10}69$/m);
  });

  it('uses the embedded PostgreSQL without a database URL, and stops it after', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'medallion-cli-home-'));
    chmodSync(parent, 0o755); // the postgres account must reach the data directory
    const home = join(parent, 'home');
    try {
      copyFileSync(join(DATASETS, CAMPUS), join(work, 'campus.csv'));
      const r = await medallion(['ingest', join(work, 'campus.csv'), '--json'], { MEDALLION_HOME: home });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /PostgreSQL: embedded \d+\.\d+ on 127\.0\.0\.1:\d+/);
      assert.equal((JSON.parse(r.stdout) as IngestSummary).rows.inserted, 931);
      assert.deepEqual(processesMentioning(home), [], 'the embedded server is stopped after');
      const status = await medallion(['status', '--json'], { MEDALLION_HOME: home });
      assert.equal(status.code, 0, status.stderr);
      assert.equal((JSON.parse(status.stdout) as StatusReport).runs[0].rows_inserted, 931);
    } finally {
      for (const pid of processesMentioning(home)) process.kill(pid, 'SIGKILL');
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
