import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INGEST_HELP, MAIN_HELP, parseCommand, UsageError } from '../../lib/cli/args';
import { FlowShapeError, headlessFlow, profileOption, type FlowNode } from '../../lib/cli/headless-flow';
import { IngestReporter } from '../../lib/cli/reporter';
import { exitCode, outcomeLine, progressBar, summarize, summaryText } from '../../lib/cli/summary';
import type { FileOutcome } from '../../lib/files/watch-types';

const BUNDLED = JSON.parse(
  readFileSync(join(__dirname, '..', '..', 'flows', 'medallion.json'), 'utf8'),
) as FlowNode[];

describe('lib/cli/args', () => {
  it('reads ingest and status with their flags', () => {
    assert.deepEqual(
      parseCommand([
        'ingest',
        'data/in',
        '--once',
        '--profile',
        'iot-temp',
        '--batch-size',
        '2000',
        '--json',
        '--quarantine-dir',
        'q',
        '--database-url',
        'postgres://x/y',
      ]),
      {
        kind: 'ingest',
        input: 'data/in',
        profile: 'iot-temp',
        once: true,
        databaseUrl: 'postgres://x/y',
        json: true,
        batchSize: 2000,
        quarantineDir: 'q',
      },
    );
    assert.deepEqual(parseCommand(['status']), {
      kind: 'status',
      databaseUrl: undefined,
      json: false,
      limit: 10,
    });
    assert.deepEqual(parseCommand(['status', '--limit', '3', '--json']), {
      kind: 'status',
      databaseUrl: undefined,
      json: true,
      limit: 3,
    });
  });

  it('answers help for no command, --help, and a command with --help', () => {
    assert.deepEqual(parseCommand([]), { kind: 'help', text: MAIN_HELP });
    assert.deepEqual(parseCommand(['--help']), { kind: 'help', text: MAIN_HELP });
    assert.deepEqual(parseCommand(['ingest', '-h']), { kind: 'help', text: INGEST_HELP });
  });

  it('refuses what it cannot use, in one line', () => {
    for (const [argv, message] of [
      [['ingest'], /needs a file or directory/],
      [['ingest', 'a', 'b'], /one file or directory, got 2: a b/],
      [['ingest', 'a', '--nope'], /Unknown option '--nope'/],
      [['ingest', 'a', '--profile'], /--profile/],
      [
        ['ingest', 'a', '--batch-size', '1.5'],
        /--batch-size must be a whole number from 1 to 1000000, got "1.5"/,
      ],
      [['status', 'x'], /status takes no arguments/],
      [['load'], /unknown command "load"/],
    ] as const) {
      assert.throws(
        () => parseCommand([...argv]),
        (err: Error) => err instanceof UsageError && message.test(err.message) && !err.message.includes('\n'),
        argv.join(' '),
      );
    }
  });
});

describe('lib/cli/headless-flow', () => {
  it("takes the bundled flow's file branch: what the landing group wires to, its database, nothing else", () => {
    const h = headlessFlow(BUNDLED, { watch: true });
    const types = new Set(h.flow.map((n) => n.type));
    assert.ok(!types.has('inject') && !types.has('function'), 'the simulated readings are left out');
    assert.ok(!types.has('medallion-mqtt-ingest'), 'the MQTT branch is left out');
    assert.equal(
      h.flow.filter((n) => n.table === 'bronze.records').length,
      1,
      "the files' bronze pg-write only",
    );
    for (const t of ['tab', 'group', 'medallion-pg-config', 'medallion-watch-folder', 'medallion-validate']) {
      assert.ok(types.has(t), t);
    }
    const ids = new Set(h.flow.map((n) => n.id));
    for (const n of h.flow)
      for (const w of n.wires ?? []) for (const id of w) assert.ok(ids.has(id), `${n.id} → ${id}`);
    const byId = new Map(h.flow.map((n) => [n.id, n]));
    assert.equal(byId.get(h.bronze)!.table, 'bronze.records');
    assert.equal(byId.get(h.outcomes)!.type, 'debug');
    assert.equal(h.refused.length, 3, 'the refused and not-stored debug nodes');
    assert.ok(types.has('medallion-anomaly') && types.has('medallion-aggregate'), 'gold');
    assert.equal(
      byId.get(h.watchFolder)!.folder,
      '${MEDALLION_LANDING}',
      'folders stay environment references',
    );
    assert.deepEqual(
      h.flow.filter((n) => n.type === 'medallion-pg-write').map((n) => n.table),
      [
        'silver.temperature_readings',
        'silver.environment_readings',
        'silver.readings',
        'silver.quarantine',
        'bronze.records',
        'gold.metric_windows',
      ],
    );
  });

  it('applies the command line: watching or not, the rules, the batch size; the bundled flow is not changed', () => {
    const before = JSON.stringify(BUNDLED);
    const h = headlessFlow(BUNDLED, { watch: false, profile: 'custom', rules: '{"x":1}', batchSize: 100 });
    const wf = h.flow.find((n) => n.id === h.watchFolder)!;
    const v = h.flow.find((n) => n.type === 'medallion-validate')!;
    assert.deepEqual([wf.watch, wf.batchSize, v.profile, v.rules], [false, 100, 'custom', '{"x":1}']);
    assert.equal(JSON.stringify(BUNDLED), before);
    assert.throws(
      () =>
        headlessFlow(
          BUNDLED.filter((n) => n.type !== 'group'),
          { watch: true },
        ),
      FlowShapeError,
    );
  });

  it('checks --profile as validate would at deploy', () => {
    assert.deepEqual(
      profileOption('iot-environment', () => ''),
      { profile: 'iot-environment', rules: '' },
    );
    assert.throws(
      () => profileOption('iot', () => ''),
      /unknown profile "iot": use auto, iot-temp, iot-environment/,
    );
    const rules = JSON.stringify({
      name: 'office',
      version: 'office/1',
      key: ['ts'],
      fields: [
        { field: 'ts', from: 'date', type: 'timestamp', formats: ['yyyy-mm-dd HH:MM:SS'] },
        { field: 'location_id', constant: 'office', type: 'string' },
        { field: 'co2', from: 'CO2', type: 'number', metric: true },
      ],
    });
    assert.deepEqual(
      profileOption('office.json', () => rules),
      { profile: 'custom', rules },
    );
    assert.throws(() => profileOption('bad.JSON', () => '{"name":"x"}'), /invalid rule set/);
  });
});

describe('lib/cli/summary', () => {
  const loaded = (file: string, read: number, inserted: number, dup: number, q: number): FileOutcome => ({
    file,
    path: `/in/${file}`,
    state: 'loaded',
    rowsRead: read,
    rowsInserted: inserted,
    rowsDuplicate: dup,
    rowsQuarantined: q,
    rowsSkipped: 1,
    movedTo: `/in/processed/${file}`,
  });

  it('adds up the files and their rows, and exits 1 only for a whole file lost or a failed write', () => {
    const s = summarize(
      [
        loaded('a.csv', 100, 90, 5, 5),
        loaded('b.csv', 50, 50, 0, 0),
        { file: 'c.csv', path: '/in/c.csv', state: 'duplicate', error: 'already loaded as a.csv' },
      ],
      2,
    );
    assert.deepEqual(s.files, { loaded: 2, duplicate: 1, quarantined: 0, failed: 0 });
    assert.deepEqual(s.rows, { read: 150, inserted: 140, duplicate: 5, quarantined: 5, skipped: 2 });
    assert.equal(s.rowsPerSecond, 75);
    assert.ok(!('path' in s.outcomes[0]) && !('movedTo' in s.outcomes[0]), 'no local paths in the summary');
    assert.equal(exitCode(s), 0);
    assert.equal(exitCode(summarize([{ file: 'x', path: 'x', state: 'quarantined' }], 1)), 1);
    assert.equal(exitCode(summarize([loaded('a.csv', 1, 1, 0, 0)], 1, ['pg-write silver: refused'])), 1);
    assert.match(
      summaryText(s),
      /^files {10}2 loaded, 1 already loaded, 0 quarantined, 0 failed\nrows read {6}150\n/,
    );
    assert.match(summaryText(s), /time {11}2\.00 s, 75 rows\/s$/);
  });

  it('tells one line per file and draws a progress bar', () => {
    assert.equal(
      outcomeLine(loaded('a.csv', 1234, 1200, 4, 30)),
      'a.csv: loaded 1,234 rows — 1,200 inserted, 4 duplicate, 30 quarantined, 1 skipped',
    );
    assert.equal(
      outcomeLine({
        file: 'p.csv',
        path: 'p',
        state: 'quarantined',
        rule: 'binary',
        error: 'p.csv: a PNG image',
      }),
      'p.csv: quarantined (binary) — p.csv: a PNG image',
    );
    assert.equal(
      progressBar('a.csv', 5 * 1048576, 10 * 1048576, 50_000, 10),
      '█████░░░░░  50 % 5.0 MB of 10.0 MB · 50,000 rows · a.csv',
    );
  });
});

describe('lib/cli/reporter', () => {
  const source = (batch: number, bytes: number, last = false) => ({
    kind: 'file' as const,
    name: 'a.csv',
    key: 'k',
    sha256: 'k',
    path: '/in/a.csv',
    batch,
    last,
    lineStart: 0,
    lineEnd: 0,
    bytes,
    size: 1000,
  });

  it('writes a line per tenth of a file and per finished file without a terminal', () => {
    const out: string[] = [];
    const r = new IngestReporter('lines', (t) => out.push(t));
    r.batch(source(0, 150), 100);
    r.batch(source(1, 190), 100);
    r.batch(source(2, 1000), 100);
    r.batch(source(3, 1000, true), 50);
    assert.deepEqual(r.pending, new Set(['k']));
    r.outcome({ file: 'a.csv', path: '/in/a.csv', sha256: 'k', state: 'loaded', rowsRead: 350 });
    assert.deepEqual(r.pending, new Set());
    assert.deepEqual(out, [
      'a.csv: 10 %, 100 rows sent\n',
      'a.csv: 90 %, 300 rows sent\n',
      'a.csv: 100 %, 350 rows sent\n',
      'a.csv: loaded 350 rows — 0 inserted, 0 duplicate, 0 quarantined, 0 skipped\n',
    ]);
  });

  it('redraws a bar at most every 100 ms on a terminal, and shows nothing with --json', () => {
    let now = 0;
    const out: string[] = [];
    const bar = new IngestReporter(
      'bar',
      (t) => out.push(t),
      () => now,
    );
    bar.batch(source(0, 100), 10);
    now = 50;
    bar.batch(source(1, 200), 10);
    now = 150;
    bar.batch(source(2, 300), 10);
    assert.equal(out.length, 2);
    assert.ok(out[1].startsWith('\r\x1b[2K'), 'the line is cleared and redrawn');
    assert.match(out[1], / 30 % .* 30 rows · a\.csv$/);
    const quiet: string[] = [];
    const q = new IngestReporter('quiet', (t) => quiet.push(t));
    q.batch(source(0, 1000, true), 10);
    q.outcome({ file: 'a.csv', path: '/in/a.csv', sha256: 'k', state: 'loaded' });
    assert.deepEqual(quiet, []);
    assert.equal(q.outcomes.length, 1);
  });

  it("keeps nodes' errors for the summary, watch-folder's apart, and drops the runtime's warnings", () => {
    const out: string[] = [];
    const r = new IngestReporter('lines', (t) => out.push(t));
    r.log({ level: 30, msg: 'Projects disabled' });
    r.log({ level: 20, type: 'medallion-watch-folder', msg: 'watch-folder: a.csv: a PNG image' });
    r.log({ level: 20, type: 'medallion-pg-write', name: 'silver', msg: 'pg-write: refused' });
    r.log({ level: 30, type: 'medallion-validate', msg: 'careful' });
    assert.deepEqual(r.fileErrors, ['[medallion-watch-folder] watch-folder: a.csv: a PNG image']);
    assert.deepEqual(r.errors, ['[medallion-pg-write:silver] pg-write: refused']);
    assert.deepEqual(out, [
      'error: [medallion-pg-write:silver] pg-write: refused\n',
      'warn: [medallion-validate] careful\n',
    ]);
  });
});
