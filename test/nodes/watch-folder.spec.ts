import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeMessage } from 'node-red';
import { Pool } from 'pg';
import { DEFAULT_SCHEMAS } from '../../lib/pg/identifiers';
import { migrate } from '../../lib/pg/migrations';
import type { FileOutcome } from '../../lib/files/landing-watcher';
import pgConfigNode from '../../nodes/pg-config/pg-config';
import pgWriteNode from '../../nodes/pg-write/pg-write';
import watchFolderNode from '../../nodes/watch-folder/watch-folder';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { helper, nextMessage, statuses, waitFor } from '../support/flow';
import { landingFlow } from '../support/landing-flow';
import { poll } from '../support/processes';

const DATASETS = join(__dirname, '..', '..', '..', 'shared', 'datasets');

type Outcome = NodeMessage & { payload: FileOutcome };
type Caught = NodeMessage & { error: { message: string } };

/** Blank and all-empty lines of a CSV (bytes between line ends), counted from its bytes. */
function blankLines(path: string, delimiter: string): number {
  return readFileSync(path, 'latin1')
    .replace(/\r?\n$/, '')
    .split(/\r?\n/)
    .filter((l) => l.split(delimiter).join('').trim() === '').length;
}

/** Data lines of a CSV, counted from its bytes: non-blank lines after the header, with their numbers. */
function dataLines(path: string, delimiter: string): Array<{ line: number; bytes: Buffer }> {
  const buf = readFileSync(path);
  const out: Array<{ line: number; bytes: Buffer }> = [];
  let start = 0;
  let line = 0;
  let header = true;
  while (start < buf.length) {
    let end = buf.indexOf(0x0a, start);
    if (end < 0) end = buf.length;
    line++;
    let bytes = buf.subarray(start, end);
    if (bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, -1);
    start = end + 1;
    if (bytes.toString('latin1').split(delimiter).join('').trim() === '') continue;
    if (header) header = false;
    else out.push({ line, bytes });
  }
  return out;
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

describe('medallion-watch-folder node (real PostgreSQL, real files)', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let landing: string;

  beforeEach(async () => {
    db = await createTestDatabase('watch_folder');
    landing = mkdtempSync(join(tmpdir(), 'medallion-landing-'));
  });
  afterEach(async () => {
    await helper.unload();
    rmSync(landing, { recursive: true, force: true });
    await db.drop();
  });

  function flow(watch: Record<string, unknown> = {}) {
    return [
      ...landingFlow({ url: db.url, landing, watch, filesTo: 'files', storedTo: 'stored' }),
      { id: 'stored', type: 'helper' },
      { id: 'files', type: 'helper' },
      { id: 'c', type: 'catch', scope: ['wf'], uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ];
  }

  const load = (watch: Record<string, unknown> = {}) =>
    helper.load([pgConfigNode, pgWriteNode, watchFolderNode], flow(watch));

  async function bronzeLines(sha: string): Promise<Map<number, Buffer>> {
    const rows = await query<{ line_no: string; raw: Buffer }>(
      db.url,
      'SELECT line_no, raw FROM bronze.records WHERE source_key = $1',
      [sha],
    );
    return new Map(rows.map((r) => [Number(r.line_no), r.raw]));
  }

  for (const [file, delimiter] of [
    ['IOT-temp.csv', ','],
    ['university_mental_health_iot_dataset.csv', ','],
    ['AirQualityUCI.csv', ';'],
    ['occupancy_datatraining.txt', ','],
  ] as const) {
    it(`lands ${file} in bronze: one row per data line, byte for byte, then archives it`, async () => {
      const source = join(DATASETS, file);
      const expected = dataLines(source, delimiter);
      const name = file.replace(/\.txt$/, '.csv');
      await load();
      const done = nextMessage<Outcome>('files', 50_000);
      copyFileSync(source, join(landing, name));
      const { payload: outcome } = await done;
      assert.equal(outcome.state, 'loaded', outcome.error);
      assert.equal(outcome.rowsRead, expected.length);
      assert.equal(outcome.rowsInserted, expected.length);
      assert.equal(outcome.movedTo, join(landing, 'processed', name));
      assert.ok(existsSync(join(landing, 'processed', name)));
      assert.deepEqual(readdirSync(join(landing, 'processing')), []);

      const sha = sha256(source);
      const stored = await bronzeLines(sha);
      assert.equal(stored.size, expected.length);
      for (const { line, bytes } of expected)
        assert.ok(stored.get(line)?.equals(bytes), `line ${line} of ${file}`);
      const [lineage] = await query<{ kinds: string[]; names: string[]; runs: string[] }>(
        db.url,
        `SELECT array_agg(DISTINCT source_kind) AS kinds, array_agg(DISTINCT source_name) AS names,
                array_agg(DISTINCT run_id::text) AS runs FROM bronze.records WHERE source_key = $1`,
        [sha],
      );
      assert.deepEqual(lineage, { kinds: ['file'], names: [name], runs: [outcome.runId] });
      const [run] = await query(db.url, 'SELECT * FROM medallion.runs WHERE run_id = $1', [outcome.runId]);
      assert.equal(run.status, 'complete');
      assert.equal(Number(run.rows_read), expected.length);
      assert.equal(Number(run.rows_inserted), expected.length);
      assert.equal(Number(run.rows_duplicate) + Number(run.rows_quarantined), 0);
      assert.equal(
        Number(run.rows_skipped),
        blankLines(source, delimiter),
        'blank lines are counted, not stored',
      );
      const [ledger] = await query(
        db.url,
        'SELECT state, name, header, batches FROM medallion.files WHERE sha256 = $1',
        [sha],
      );
      assert.equal(ledger.state, 'loaded');
      assert.equal(ledger.batches, Math.ceil(expected.length / 5000));
    });
  }

  it('takes files that are already there when it starts, polling only', async () => {
    copyFileSync(join(DATASETS, 'university_mental_health_iot_dataset.csv'), join(landing, 'waiting.csv'));
    await load({ usePolling: true });
    const { payload } = await nextMessage<Outcome>('files', 30_000);
    assert.equal(payload.file, 'waiting.csv');
    assert.equal(payload.state, 'loaded');
    assert.equal(payload.rowsInserted, 1000);
  });

  it('does not load the same content twice, even under another name', async () => {
    const source = join(DATASETS, 'university_mental_health_iot_dataset.csv');
    await load();
    let done = nextMessage<Outcome>('files', 30_000);
    copyFileSync(source, join(landing, 'first.csv'));
    assert.equal((await done).payload.state, 'loaded');
    const sha = sha256(source);
    const before = (await bronzeLines(sha)).size;

    done = nextMessage<Outcome>('files', 30_000);
    copyFileSync(source, join(landing, 'again.csv'));
    const { payload } = await done;
    assert.equal(payload.state, 'duplicate');
    assert.match(payload.error ?? '', /already loaded as first\.csv/);
    assert.ok(existsSync(join(landing, 'processed', 'again.csv')));
    assert.equal((await bronzeLines(sha)).size, before);
    const events = await query<{ event: string; name: string }>(
      db.url,
      'SELECT event, name FROM medallion.file_events WHERE sha256 = $1 ORDER BY id',
      [sha],
    );
    assert.deepEqual(events.slice(-1), [{ event: 'duplicate', name: 'again.csv' }]);
  });

  it('does not read a file that is still being written', async () => {
    const source = readFileSync(join(DATASETS, 'IOT-temp.csv'));
    const part = source.subarray(0, 200_000);
    await load({ pollInterval: 40, stablePolls: 3 });
    const path = join(landing, 'slow.csv');
    writeFileSync(path, '');
    const done = nextMessage<Outcome>('files', 30_000);
    const cut = part.lastIndexOf(0x0a) + 1;
    for (let at = 0; at < cut; at += 10_000) {
      await appendFile(path, part.subarray(at, Math.min(cut, at + 10_000)));
      await new Promise((r) => setTimeout(r, 60));
      assert.ok(existsSync(path), `claimed after ${at} of ${cut} bytes, while still being written`);
    }
    const { payload } = await done;
    assert.equal(payload.state, 'loaded');
    const expected = dataLines(path.replace(landing, join(landing, 'processed')), ',').length;
    assert.equal(payload.rowsRead, expected);
    assert.equal(payload.rowsInserted, expected);
  });

  it('leaves a file whose live lease belongs to another instance, and resumes one whose lease expired', async () => {
    const source = join(DATASETS, 'university_mental_health_iot_dataset.csv');
    const processing = join(landing, 'processing');
    mkdirSync(processing, { recursive: true });
    const live = join(processing, 'live.csv');
    writeFileSync(
      live,
      readFileSync(source)
        .subarray(0, 20_000)
        .toString()
        .replace(/\n[^\n]*$/, '\n'),
    );
    const expired = join(processing, 'expired.csv');
    copyFileSync(source, expired);
    const staleRun = randomUUID();
    const [liveSha, expiredSha] = [sha256(live), sha256(expired)];
    const pool = new Pool({ connectionString: db.url, max: 1 });
    await migrate(pool, { ...DEFAULT_SCHEMAS }).finally(() => pool.end());
    await query(
      db.url,
      `INSERT INTO medallion.files (sha256, name, size, state, claimed_by, lease_until, run_id, batch_size)
       VALUES ($1, 'live.csv', 1, 'claimed', 'other-host:/srv/node-red', now() + interval '1 hour', $2, 100),
              ($3, 'expired.csv', 1, 'claimed', 'other-host:/srv/node-red', now() - interval '1 minute', $4, 100)`,
      [liveSha, randomUUID(), expiredSha, staleRun],
    );
    // the dead instance had committed batch 0 of the expired file
    const firstHundred = dataLines(expired, ',').slice(0, 100);
    for (const { line, bytes } of firstHundred) {
      await query(
        db.url,
        `INSERT INTO bronze.records (source_kind, source_key, source_name, line_no, raw, run_id) VALUES ('file', $1, 'expired.csv', $2, $3, $4)`,
        [expiredSha, line, bytes, staleRun],
      );
    }
    await query(
      db.url,
      `INSERT INTO medallion.batches (source_key, batch, layer, run_id, rows_in, inserted, duplicate) VALUES ($1, 0, 'bronze', $2, 100, 100, 0)`,
      [expiredSha, staleRun],
    );

    const batches: number[] = [];
    await load({ batchSize: 100 });
    (helper.getNode('stored') as unknown as NodeJS.EventEmitter).on(
      'input',
      (m: { source: { batch: number } }) => batches.push(m.source.batch),
    );
    const { payload } = await nextMessage<Outcome>('files', 30_000);
    assert.equal(payload.file, 'expired.csv');
    assert.equal(payload.state, 'loaded');
    assert.equal(payload.resumed, true);
    assert.equal(payload.runId, staleRun, 'the resumed file keeps its run');
    assert.ok(!batches.includes(0), 'the committed batch is not sent again');
    assert.equal(payload.rowsInserted, 1000, 'first-commit counts: 100 before the crash, 900 now');
    assert.equal((await bronzeLines(expiredSha)).size, 1000);

    assert.ok(existsSync(live), 'the file with a live lease stays in processing/');
    const [row] = await query(
      db.url,
      `SELECT state, claimed_by FROM medallion.files WHERE name = 'live.csv'`,
    );
    assert.deepEqual(row, { state: 'claimed', claimed_by: 'other-host:/srv/node-red' });
    assert.equal((await bronzeLines(liveSha)).size, 0);
  });

  it('resumes a file after a redeploy in the middle of it', async () => {
    const source = join(DATASETS, 'IOT-temp.csv');
    const expected = dataLines(source, ',').length;
    await load({ batchSize: 500, readAhead: 1 });
    copyFileSync(source, join(landing, 'big.csv'));
    const sha = sha256(source);
    await poll(
      async () => ((await bronzeLines(sha)).size >= 1000 ? true : undefined),
      30_000,
      'first batches',
    );
    await helper.unload();
    const partial = (await bronzeLines(sha)).size;
    assert.ok(partial < expected, `${partial} of ${expected} before the redeploy`);
    assert.ok(existsSync(join(landing, 'processing', 'big.csv')));

    await load({ batchSize: 5000, readAhead: 4 });
    const { payload } = await nextMessage<Outcome>('files', 50_000);
    assert.equal(payload.state, 'loaded');
    assert.equal(payload.resumed, true);
    assert.equal(payload.rowsRead, expected);
    assert.equal(payload.rowsInserted, expected);
    assert.equal((await bronzeLines(sha)).size, expected);
    const [{ n }] = await query<{ n: number }>(
      db.url,
      `SELECT count(*)::int AS n FROM medallion.batches WHERE source_key = $1 AND layer = 'bronze'`,
      [sha],
    );
    assert.equal(n, Math.ceil(expected / 500), 'the batch size of the first claim is kept');
  });

  for (const [name, content, rule] of [
    ['binary.csv', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00]), 'binary'],
    ['noise.csv', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)), 'binary'],
    ['empty.csv', Buffer.alloc(0), 'empty'],
    ['blank.csv', Buffer.from('\n\n  \n'), 'empty'],
    ['headless.csv', Buffer.from('1,2024-05-01 08:00:00,24.3\n2,2024-05-01 08:15:00,26.1\n'), 'no-header'],
    ['utf16.csv', Buffer.from('\ufefftimestamp,temp\n', 'utf16le'), 'undecodable'],
  ] as const) {
    it(`quarantines ${name} whole (${rule}) with an error file, and keeps going`, async () => {
      await load();
      const caught = nextMessage<Caught>('caught', 30_000);
      const done = nextMessage<Outcome>('files', 30_000);
      if (rule === 'empty') {
        // empty files wait for their writer a little: make this one old enough
        writeFileSync(join(landing, `${name}.tmp`), content);
        const old = new Date(Date.now() - 60_000);
        utimesSync(join(landing, `${name}.tmp`), old, old);
        renameSync(join(landing, `${name}.tmp`), join(landing, name));
      } else writeFileSync(join(landing, name), content);
      const { payload } = await done;
      assert.equal(payload.state, 'quarantined');
      assert.equal(payload.rule, rule);
      assert.ok(existsSync(join(landing, 'quarantine', name)));
      const detail = JSON.parse(readFileSync(join(landing, 'quarantine', `${name}.error.json`), 'utf8'));
      assert.equal(detail.rule, rule);
      assert.match(detail.error, new RegExp(`^${name.replace('.', '\\.')}: `));
      assert.match((await caught).error.message, new RegExp(name.replace('.', '\\.')));
      const [row] = await query(db.url, 'SELECT state, error FROM medallion.files WHERE sha256 = $1', [
        createHash('sha256').update(content).digest('hex'),
      ]);
      assert.equal(row.state, 'quarantined');

      const next = nextMessage<Outcome>('files', 30_000);
      copyFileSync(
        join(DATASETS, 'university_mental_health_iot_dataset.csv'),
        join(landing, `after-${name}`),
      );
      assert.equal((await next).payload.state, 'loaded', 'the next file loads');

      if (rule !== 'empty') {
        const again = nextMessage<Outcome>('files', 30_000);
        writeFileSync(join(landing, name), content);
        const retried = (await again).payload;
        assert.equal(
          retried.state,
          'quarantined',
          'quarantined content may be dropped again: it is read again',
        );
        assert.notEqual(retried.runId, payload.runId);
        assert.ok(existsSync(join(landing, 'quarantine', name.replace('.csv', '~2.csv'))));
      }
    });
  }

  for (const [how, watch] of [
    ['an env-typed folder names the variable', { folder: 'MEDALLION_TEST_LANDING', folderType: 'env' }],
    [
      'a text folder (no type: a flow from before) substitutes ${VAR}',
      { folder: '${MEDALLION_TEST_LANDING}' },
    ],
  ] as const) {
    it(`watches the folder an environment variable gives: ${how}`, async () => {
      process.env.MEDALLION_TEST_LANDING = landing;
      try {
        copyFileSync(
          join(DATASETS, 'university_mental_health_iot_dataset.csv'),
          join(landing, 'from-env.csv'),
        );
        await load(watch);
        const { payload } = await nextMessage<Outcome>('files', 30_000);
        assert.equal(payload.file, 'from-env.csv');
        assert.equal(payload.rowsInserted, 1000);
      } finally {
        delete process.env.MEDALLION_TEST_LANDING;
      }
    });
  }

  it('refuses an env-typed folder whose variable is not set, saying which', async () => {
    delete process.env.MEDALLION_TEST_UNSET;
    await load({ folder: 'MEDALLION_TEST_UNSET', folderType: 'env' });
    await waitFor(() => statuses('wf').some((s) => s.fill === 'red'), 5000, 'red status');
    assert.equal(
      statuses('wf').find((s) => s.fill === 'red')!.text,
      'folder: the environment variable MEDALLION_TEST_UNSET is not set',
    );
  });

  it('loads a path given as msg.payload in place, and answers on the second output', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'medallion-input-'));
    try {
      const path = join(dir, 'readings.csv');
      copyFileSync(join(DATASETS, 'university_mental_health_iot_dataset.csv'), path);
      await load({ watch: false });
      let answer = nextMessage<Outcome>('files', 30_000);
      helper.getNode('wf').receive({ payload: path, _msgid: 'm1' } as NodeMessage);
      let msg = await answer;
      assert.equal(msg._msgid, 'm1');
      assert.equal(msg.payload.state, 'loaded');
      assert.equal(msg.payload.rowsInserted, 1000);
      assert.ok(existsSync(path), 'read in place, not moved');

      answer = nextMessage<Outcome>('files', 30_000);
      helper.getNode('wf').receive({ payload: path } as NodeMessage);
      msg = await answer;
      assert.equal(msg.payload.state, 'duplicate');

      const caught = nextMessage<Caught>('caught', 30_000);
      helper.getNode('wf').receive({ payload: join(dir, 'missing.csv') } as NodeMessage);
      assert.match((await caught).error.message, /missing\.csv.*ENOENT|ENOENT.*missing\.csv/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
