/**
 * Broken disks and permissions, on real PostgreSQL. Root ignores file modes, so the
 * folders are made unwritable for Node-RED by running it as `nobody` (setpriv, else
 * runuser) with folders owned by root, or, where that cannot work, by read-only bind
 * mounts; the full disk is a 64 KiB tmpfs, or, where mounting is refused, a 64 KiB
 * file-size limit. The output says which. A landing folder Node-RED cannot write, a
 * quarantine folder it cannot write, a disk that fills while quarantine files are
 * written and a landing `quarantine/` it cannot write each give a clear error, keep the
 * data (in the landing folder, in silver.quarantine, in processing/), leave nothing
 * half-written, and leave the other files and the process alone. Files truncated or
 * renamed while they are read, in-process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { NodeMessage } from 'node-red';
import type { FileOutcome } from '../../lib/files/landing-watcher';
import pgConfigNode from '../../nodes/pg-config/pg-config';
import pgWriteNode from '../../nodes/pg-write/pg-write';
import watchFolderNode from '../../nodes/watch-folder/watch-folder';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { helper, nextMessage } from '../support/flow';
import { campusLine, HEADER } from '../support/hostile-corpus';
import { landingFlow, pgWrite, type FlowNode } from '../support/landing-flow';
import { redJs, startNodeRed, type RunningNodeRed } from '../support/node-red';
import { poll } from '../support/processes';

const NOBODY = 65534;
const FULL_BYTES = 64 * 1024;

const REPO = join(__dirname, '..', '..');

/**
 * How folders are made unwritable for Node-RED. Root ignores file modes, so: Node-RED runs
 * as `nobody` (setpriv, else runuser) and the folders belong to root (EACCES); where that
 * cannot work (neither command, or `nobody` cannot read this repository), Node-RED runs
 * as root and the folders are read-only bind mounts (EROFS). Undefined, with the reasons,
 * when neither works.
 */
interface Denial {
  how: string;
  wrap: string[];
  uid: number;
  code: 'EACCES' | 'EROFS';
  /** Node-RED's own folder. */
  own(path: string): string;
  /** A folder Node-RED cannot write. */
  deny(path: string): string;
  /** Makes a denied folder writable again. */
  allow(path: string): void;
}

function denial(mounts: string[]): Denial | { why: string } {
  const why: string[] = [];
  const make = (path: string, uid: number) => {
    mkdirSync(path, { recursive: true });
    chownSync(path, uid, uid ? 65534 : 0);
    return path;
  };
  for (const [cmd, args] of [
    ['setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups']],
    ['runuser', ['-u', 'nobody', '--']],
  ] as const) {
    // nobody must be able to run this Node.js, its Node-RED and the pack (not so under a home folder of mode 700)
    const files = [redJs(), join(REPO, 'dist', 'nodes', 'pg-write', 'pg-write.js')];
    const r = spawnSync(cmd, [
      ...args,
      process.execPath,
      '-e',
      'for (const f of process.argv.slice(1)) require("fs").accessSync(f, require("fs").constants.R_OK)',
      ...files,
    ]);
    if (r.status === 0) {
      return {
        how: `Node-RED as nobody (${cmd}), folders owned by root`,
        wrap: [cmd, ...args],
        uid: NOBODY,
        code: 'EACCES',
        own: (path) => make(path, NOBODY),
        deny: (path) => make(path, 0),
        allow: (path) => chownSync(path, NOBODY, 65534),
      };
    }
    const said = (r.error?.message || r.stderr?.toString() || `status ${r.status}`).trim().split('\n')[0];
    why.push(`${cmd} as nobody cannot run ${process.execPath} on ${files.join(', ')}: ${said}`);
  }
  const probe = make(join(tmpdir(), `medallion-ro-probe-${process.pid}`), 0);
  const bind = spawnSync(
    'sh',
    ['-c', `mount --bind "$1" "$1" && mount -o remount,bind,ro "$1"`, 'sh', probe],
    {
      encoding: 'utf8',
    },
  );
  spawnSync('umount', [probe]);
  rmSync(probe, { recursive: true, force: true });
  if (bind.status !== 0) return { why: [...why, `read-only bind mount: ${bind.stderr.trim()}`].join('; ') };
  return {
    how: `Node-RED as root, read-only bind mounts (${why.join('; ')})`,
    wrap: [],
    uid: 0,
    code: 'EROFS',
    own: (path) => make(path, 0),
    deny: (path) => {
      make(path, 0);
      spawnSync('sh', ['-c', `mount --bind "$1" "$1" && mount -o remount,bind,ro "$1"`, 'sh', path]);
      mounts.push(path);
      return path;
    },
    allow: (path) => {
      spawnSync('umount', [path]);
    },
  };
}

const lines = (n: number, k: number, over: (i: number) => Record<string, string> = () => ({})) =>
  Array.from({ length: n }, (_, i) => campusLine(k, i, over(i)));
const csv = (rows: string[]) => `${HEADER}\n${rows.join('\n')}\n`;

describe('broken disks and permissions (real PostgreSQL)', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let work: string;
  const mounts: string[] = [];

  beforeEach(async () => {
    db = await createTestDatabase('hostile_disk');
    work = mkdtempSync(join(tmpdir(), 'medallion-disk-'));
    chmodSync(work, 0o755);
  });
  afterEach(async () => {
    await helper.unload();
    for (const path of mounts.splice(0).reverse()) spawnSync('umount', [path]);
    rmSync(work, { recursive: true, force: true });
    await db.drop();
  });

  it('a landing folder Node-RED cannot write, a quarantine folder it cannot write, a full one, a quarantine/ it cannot write', async () => {
    const mode = denial(mounts);
    if ('why' in mode) throw new Error(`no way to make a folder unwritable for Node-RED here: ${mode.why}`);
    const { own, deny } = mode;
    // A: the landing folder and its subfolders Node-RED cannot write; B, C: its own; D: its quarantine/ not
    const landingA = join(work, 'landing-a');
    for (const sub of ['processing', 'processed', 'quarantine'])
      mkdirSync(join(landingA, sub), { recursive: true });
    writeFileSync(join(landingA, 'a.csv'), csv(lines(2, 0)));
    deny(landingA);
    const landingB = own(join(work, 'landing-b'));
    const landingC = own(join(work, 'landing-c'));
    const landingD = own(join(work, 'landing-d'));
    for (const sub of ['processing', 'processed']) own(join(landingD, sub));
    const quarantineD = deny(join(landingD, 'quarantine'));
    const readOnly = deny(join(work, 'rejected-readonly'));
    const full = own(join(work, 'full'));
    let wrap = mode.wrap;
    const mount = spawnSync(
      'mount',
      ['-t', 'tmpfs', '-o', `size=${FULL_BYTES},uid=${mode.uid}`, 'tmpfs', full],
      {
        encoding: 'utf8',
      },
    );
    if (mount.status === 0) {
      mounts.push(full);
      console.log(`      ${mode.how}; full disk: a ${FULL_BYTES / 1024} KiB tmpfs`);
    } else {
      console.log(
        `      ${mode.how}; mounting a tmpfs was refused (${mount.stderr.trim()}): the full disk is a ${FULL_BYTES / 1024} KiB file-size limit instead (prlimit --fsize: writes fail with EFBIG)`,
      );
      wrap = ['prlimit', `--fsize=${FULL_BYTES}`, ...wrap];
    }

    const watch = (id: string, landing: string, to: string): FlowNode[] => {
      const [, wf, bronze] = landingFlow({ url: db.url, landing, common: { z: 'tab' } });
      return [
        {
          ...wf,
          id,
          completeLayers: 'silver, quarantine',
          wires: [[`${id}-bronze`], []],
        },
        { ...bronze, id: `${id}-bronze`, wires: [[to], []] },
      ];
    };
    const validate = (id: string, quarantine: string): FlowNode => ({
      id,
      z: 'tab',
      type: 'medallion-validate',
      profile: 'iot-environment',
      wires: [['pgs'], [quarantine]],
    });
    const quarantine = (id: string, folder: string): FlowNode => ({
      id,
      z: 'tab',
      type: 'medallion-quarantine',
      pgConfig: 'cfg',
      folder,
      wires: [['pgq'], []],
    });
    const flows = [
      { id: 'tab', type: 'tab', label: 'disks' },
      landingFlow({ url: db.url, landing: landingA })[0],
      ...watch('wfA', landingA, 'vB'),
      ...watch('wfB', landingB, 'vB'),
      ...watch('wfC', landingC, 'vC'),
      ...watch('wfD', landingD, 'vC').map((n) => (n.id === 'wfD' ? { ...n, leaseSeconds: 2 } : n)),
      validate('vB', 'qB'),
      validate('vC', 'qC'),
      quarantine('qB', readOnly),
      quarantine('qC', full),
      { ...pgWrite('pgs', 'silver.environment_readings', 'silver'), z: 'tab' },
      { ...pgWrite('pgq', 'silver.quarantine', 'quarantine'), z: 'tab' },
    ];
    const userDir = own(join(work, 'node-red'));
    let red: RunningNodeRed | undefined;
    try {
      red = await startNodeRed({ flows, userDir, wrap });
      chownSync(join(userDir, 'flows.json'), mode.uid, mode.uid ? 65534 : 0);
      const out = red.process;

      // the landing folder (a.csv was there at start): the file stays where it is, the warning says why and what to do
      await out.waitFor(
        new RegExp(`a\\.csv: cannot move it into \\S+processing: ${mode.code}[^\\n]*uid ${mode.uid}\\)`),
        30_000,
      );
      const toldAt = Date.now();
      assert.ok(existsSync(join(landingA, 'a.csv')), 'a.csv is still in the landing folder');

      const runOf = async (name: string) => {
        const rows = await query<{ status: string; rows_inserted: number; rows_quarantined: number }>(
          db.url,
          `SELECT status, rows_inserted::int, rows_quarantined::int FROM medallion.runs
            WHERE source = $1 AND status <> 'running'`,
          [`file:${name}`],
        );
        return rows[0];
      };
      const complete = (name: string) => poll(() => runOf(name), 30_000, `${name} complete`, 100);

      // a quarantine folder Node-RED cannot write: the error names it, the rows reach silver.quarantine
      writeFileSync(
        join(landingB, 'b.csv'),
        csv(lines(5, 1, (i) => (i % 2 ? { humidity_percent: '140' } : { humidity_percent: '50' }))),
      );
      assert.deepEqual(await complete('b.csv'), {
        status: 'complete',
        rows_inserted: 3,
        rows_quarantined: 2,
      });
      await out.waitFor(
        new RegExp(
          `quarantine: cannot write b\\.0\\.rejected\\.csv and b\\.0\\.errors\\.json into \\S+ \\(${mode.code}`,
        ),
        10_000,
      );
      assert.deepEqual(readdirSync(readOnly), []);

      // a full disk: no file and no temporary file left, the rows in silver.quarantine, the next file's written
      const wide = (i: number) => ({ mood_score: '9', mental_health_status: `${i} ${'x'.repeat(100)}` });
      writeFileSync(join(landingC, 'c1.csv'), csv(lines(1000, 2, wide)));
      assert.deepEqual(await complete('c1.csv'), {
        status: 'complete',
        rows_inserted: 0,
        rows_quarantined: 1000,
      });
      await out.waitFor(/quarantine: cannot write c1\.0\.rejected\.csv [^\n]*(ENOSPC|EFBIG)/, 10_000);
      assert.deepEqual(readdirSync(full), [], 'nothing half-written');
      writeFileSync(join(landingC, 'c2.csv'), csv(lines(2, 3, (i) => (i ? wide(i) : {}))));
      assert.deepEqual(await complete('c2.csv'), {
        status: 'complete',
        rows_inserted: 1,
        rows_quarantined: 1,
      });
      assert.deepEqual(readdirSync(full).sort(), ['c2.0.errors.json', 'c2.0.rejected.csv']);
      const [{ n }] = await query<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM silver.quarantine');
      assert.equal(n, 2 + 1000 + 1, 'every rejected row kept in silver.quarantine');

      // a whole-file failure whose quarantine/ Node-RED cannot write: the file stays in processing/, told
      // once; it is not read again (every lease/2 = 1 s processing/ is looked at), and moves once it can
      writeFileSync(join(landingD, 'd.csv'), gzipSync(csv(lines(2, 5))));
      await out.waitFor(
        /d\.csv: the file is a gzip archive, not CSV text \(it stays in \S+processing: it could not be moved into/,
        10_000,
      );
      const runsOfD = async () =>
        (
          await query<{ n: number }>(
            db.url,
            `SELECT count(*)::int AS n FROM medallion.runs WHERE source = 'file:d.csv'`,
          )
        )[0].n;
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assert.equal(await runsOfD(), 1, 'read once');
      mode.allow(quarantineD);
      await poll(
        async () => existsSync(join(quarantineD, 'd.csv.error.json')) || undefined,
        10_000,
        'd.csv moved',
        100,
      );
      assert.ok(existsSync(join(quarantineD, 'd.csv')));
      assert.deepEqual(readdirSync(join(landingD, 'processing')), []);
      assert.equal(await runsOfD(), 1, 'still read once');

      assert.equal(out.child.exitCode, null, 'Node-RED is still running');
      // a.csv is tried again about every 2 s, which nothing outside shows: 5 s after the warning, several were
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, toldAt + 5000 - Date.now())));
      assert.equal(
        out.output().match(/a\.csv: cannot move it into/g)?.length,
        1,
        'a file that keeps failing the same way is told once',
      );
      assert.ok(existsSync(join(landingA, 'a.csv')), 'a.csv waits in the landing folder');
      assert.doesNotMatch(out.output(), /Unhandled|uncaught/i);
    } catch (err) {
      console.log(red?.process.output());
      throw err;
    } finally {
      await red?.stop();
    }
  });

  describe('a file that changes under the reader', () => {
    const rows = lines(20_000, 4);
    const content = csv(rows);

    async function loadWhile(meddle: (inProcessing: string) => void) {
      const landing = join(work, 'landing');
      mkdirSync(landing);
      await helper.load(
        [pgConfigNode, pgWriteNode, watchFolderNode],
        landingFlow({
          url: db.url,
          landing,
          filesTo: 'files',
          watch: { batchSize: 100, readAhead: 1 },
        }).concat({
          id: 'files',
          type: 'helper',
        }),
      );
      const outcome = nextMessage<NodeMessage & { payload: FileOutcome }>('files', 60_000);
      writeFileSync(join(work, 'big.csv'), content);
      renameSync(join(work, 'big.csv'), join(landing, 'big.csv'));
      await poll(
        async () =>
          (await query<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM bronze.records'))[0].n >= 300 ||
          undefined,
        30_000,
        '300 rows in bronze',
        20,
      );
      meddle(join(landing, 'processing', 'big.csv'));
      return { landing, outcome: (await outcome).payload };
    }

    it('truncated while read: failed (rule changed) with an error file, only whole lines in bronze', async () => {
      const { landing, outcome } = await loadWhile((path) =>
        truncateSync(path, Math.floor(content.length / 2)),
      );
      assert.equal(outcome.state, 'failed');
      assert.equal(outcome.rule, 'changed');
      assert.match(
        outcome.error!,
        /^big\.csv: the file changed while it was read \(\d+ bytes, .*; now \d+ bytes/,
      );
      const report = JSON.parse(readFileSync(join(landing, 'quarantine', 'big.csv.error.json'), 'utf8'));
      assert.equal(report.rule, 'changed');
      const stored = await query<{ line_no: number; raw: Buffer }>(
        db.url,
        'SELECT line_no::int, raw FROM bronze.records ORDER BY line_no',
      );
      assert.ok(stored.length < rows.length, `${stored.length} rows`);
      for (const r of stored) assert.equal(r.raw.toString(), rows[r.line_no - 2], `line ${r.line_no} whole`);
    });

    it('renamed away while read: loaded to its end, a warning that it could not be archived', async () => {
      let moved = '';
      const { outcome } = await loadWhile((path) => renameSync(path, (moved = join(work, 'moved.csv'))));
      assert.equal(outcome.state, 'loaded', outcome.error);
      assert.equal(outcome.rowsRead, rows.length);
      assert.equal(outcome.movedTo, undefined);
      assert.ok(existsSync(moved));
      const [{ n }] = await query<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM bronze.records');
      assert.equal(n, rows.length);
    });
  });
});
