/**
 * The hostile corpus (test/support/hostile-corpus.ts) dropped into the bundled flow's
 * landing folder at once, on real PostgreSQL: every kind ends as decided — loaded, with
 * so many rows in silver and these lines in silver.quarantine naming field and rule, or
 * quarantined whole with its rule and error — every data line is in bronze once and in
 * exactly one of silver (stored or a duplicate) and quarantine, memory stays bounded
 * (one file has a 10 MB line), the quarantine CSVs neutralize formula cells, and the
 * process goes on loading files afterwards.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { NodeMessage } from 'node-red';
import type { FileOutcome } from '../../lib/files/landing-watcher';
import { debugNode, loadBundled, memberOf } from '../support/bundled';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { helper, messages, waitFor } from '../support/flow';
import { campusLine, HEADER, hostileCorpus, TEN_MB, type HostileKind } from '../support/hostile-corpus';

type Outcome = NodeMessage & { payload: FileOutcome };

/** RSS may grow this much over the whole corpus (a 10 MB line goes through bronze, validate and quarantine). */
const RSS_BOUND_MB = 256;

describe('hostile input through the bundled flow (real PostgreSQL)', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let work: string;
  let restore: () => void = () => undefined;

  before(async () => {
    db = await createTestDatabase('hostile');
    work = mkdtempSync(join(tmpdir(), 'medallion-hostile-'));
  });
  after(async () => {
    await helper.unload();
    restore();
    rmSync(work, { recursive: true, force: true });
    await db.drop();
  });

  /** Writes a file beside the landing folder and renames it in (complete at once). */
  function drop(h: Pick<HostileKind, 'file' | 'bytes' | 'oldMs'>) {
    const tmp = join(work, h.file);
    writeFileSync(tmp, h.bytes);
    if (h.oldMs) {
      const t = new Date(Date.now() - h.oldMs);
      utimesSync(tmp, t, t);
    }
    renameSync(tmp, join(work, 'landing', h.file));
  }

  it('ends every kind as decided, every line accounted for once, memory bounded, and goes on', async () => {
    const corpus = hostileCorpus();
    assert.ok(corpus.length >= 30, `${corpus.length} kinds`);
    const loaded = await loadBundled(db.url, work);
    restore = loaded.restore;
    const probe = debugNode('Landing (files)', 'files');

    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const started = Date.now();
    const outcomes = messages<Outcome>(probe, corpus.length, 90_000);
    for (const h of corpus) drop(h);
    const byFile = new Map((await outcomes).map((m) => [m.payload.file, m.payload]));
    clearInterval(sampler);
    const growth = (peak - rss0) / 1048576;
    console.log(
      `      ${corpus.length} kinds in ${((Date.now() - started) / 1000).toFixed(1)} s; RSS ${(rss0 / 1048576).toFixed(0)} MB before, peak +${growth.toFixed(0)} MB`,
    );
    assert.ok(growth < RSS_BOUND_MB, `RSS grew by ${growth.toFixed(0)} MB`);

    const problems: string[] = [];
    const check = (ok: boolean, kind: string, what: string, got: unknown, want: unknown) => {
      if (!ok) problems.push(`${kind}: ${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    };
    const eq = (kind: string, what: string, got: unknown, want: unknown) =>
      check(JSON.stringify(got) === JSON.stringify(want), kind, what, got, want);

    for (const h of corpus) {
      const kind = `${h.kind} (decided: ${h.why})`;
      const o = byFile.get(h.file);
      if (!o) {
        problems.push(`${kind}: no outcome`);
        continue;
      }
      const [run] = await query<Record<string, string | number | null>>(
        db.url,
        `SELECT status, rows_read::int, rows_skipped::int, rows_inserted::int, rows_duplicate::int,
                rows_quarantined::int, error FROM medallion.runs WHERE run_id = $1`,
        [o.runId],
      );
      const [bronze] = await query<{ n: number; lines: number[] }>(
        db.url,
        `SELECT count(*)::int AS n, coalesce(array_agg(line_no::int ORDER BY line_no), '{}') AS lines
           FROM bronze.records WHERE source_key = $1`,
        [o.sha256],
      );
      const e = h.expect;
      if (e.outcome === 'quarantined') {
        eq(kind, 'state', [o.state, o.rule], ['quarantined', e.rule]);
        check(e.error.test(o.error ?? ''), kind, 'error', o.error, String(e.error));
        check((o.error ?? '').startsWith(`${h.file}: `), kind, 'error names the file', o.error, h.file);
        eq(kind, 'run', run?.status, 'failed');
        eq(kind, 'bronze rows', bronze.n, 0);
        const report = JSON.parse(
          readFileSync(join(work, 'landing', 'quarantine', `${h.file}.error.json`), 'utf8'),
        );
        eq(kind, 'error file', [report.rule, report.state, report.sha256], [e.rule, 'quarantined', o.sha256]);
        continue;
      }
      eq(kind, 'state', o.state, 'loaded');
      const duplicate = e.duplicate ?? 0;
      const read = e.silver + duplicate + e.quarantine.length;
      eq(kind, 'run', run, {
        status: 'complete',
        rows_read: read,
        rows_skipped: e.skipped ?? 0,
        rows_inserted: e.silver,
        rows_duplicate: duplicate,
        rows_quarantined: e.quarantine.length,
        error: null,
      });
      const silver = await query<{ line_no: number }>(
        db.url,
        'SELECT line_no::int FROM silver.environment_readings WHERE source_key = $1 ORDER BY line_no',
        [o.sha256],
      );
      const rejected = await query<Rejected & { message: string }>(
        db.url,
        `SELECT line_no::int AS line, errors->0->>'field' AS field, errors->0->>'rule' AS rule,
                errors->0->>'message' AS message
           FROM silver.quarantine WHERE source_key = $1 ORDER BY line_no`,
        [o.sha256],
      );
      eq(kind, 'silver rows', silver.length, e.silver);
      eq(
        kind,
        'quarantine',
        rejected.map(({ line, field, rule }) => ({ line, field, rule })),
        e.quarantine,
      );
      for (const r of rejected) {
        check(r.message.startsWith(`line ${r.line}`), kind, 'message names the line', r.message, r.line);
      }
      // conservation: every data line once in bronze, and in silver or quarantine, never both
      eq(kind, 'bronze rows', bronze.n, read);
      const inSilver = new Set(silver.map((s) => s.line_no));
      const both = rejected.filter((r) => inSilver.has(r.line));
      eq(kind, 'lines in silver and quarantine', both, []);
      const accounted = [...inSilver, ...rejected.map((r) => r.line)];
      check(
        accounted.every((l) => bronze.lines.includes(l)) && accounted.length + duplicate === bronze.n,
        kind,
        'lines accounted for',
        accounted,
        bronze.lines,
      );
      if (e.stored) {
        const rows = await query<{ location_id: string }>(
          db.url,
          'SELECT location_id FROM silver.environment_readings WHERE source_key = $1 AND ts = $2',
          [o.sha256, e.stored.ts],
        );
        eq(kind, `silver at ${e.stored.ts}`, rows, [{ location_id: e.stored.location_id }]);
      }
    }
    assert.deepEqual(problems, []);

    // bronze keeps bytes as received: the invalid UTF-8 line, the NUL byte and the 10 MB line
    const raw = async (kind: string, line: number) => {
      const o = byFile.get(corpus.find((h) => h.kind === kind)!.file)!;
      const [row] = await query<{ raw: Buffer }>(
        db.url,
        'SELECT raw FROM bronze.records WHERE source_key = $1 AND line_no = $2',
        [o.sha256, line],
      );
      return row.raw;
    };
    assert.deepEqual([...(await raw('invalid-utf8', 3)).subarray(-2)], [0xe9, 0xff]);
    assert.ok((await raw('nul-bytes', 3)).includes(0));
    assert.ok((await raw('ten-mb-line', 3)).length > TEN_MB);

    // the quarantine CSVs a person opens run no formula: every formula-looking cell starts with '
    const formula = /^[=+\-@\t\r]/;
    const number = /^[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?$/;
    const csvs = readdirSync(join(work, 'quarantine')).filter((f) => f.endsWith('.rejected.csv'));
    const rejecting = corpus.filter((h) => h.expect.outcome === 'loaded' && h.expect.quarantine.length);
    assert.equal(csvs.length, rejecting.length, 'one rejected.csv for each file with quarantined lines');
    const cells = csvs.flatMap((f) =>
      (parse(readFileSync(join(work, 'quarantine', f)), { relax_column_count: true }) as string[][]).flat(),
    );
    assert.deepEqual(
      cells.filter((c) => formula.test(c) && !number.test(c)),
      [],
    );
    assert.ok(cells.includes(`'=cmd|' /C calc'!A0`), 'the formula is there, neutralized');
    assert.ok(
      !readdirSync(join(work, 'quarantine')).some((f) => f.endsWith('.tmp')),
      'no temporary file left',
    );

    // a name that is not UTF-8 reaches no path: the file stays, and the warning says what to do
    const landing = join(work, 'landing');
    const latin1 = Buffer.concat([Buffer.from(`${landing}/caf`), Buffer.from([0xe9]), Buffer.from('.csv')]);
    writeFileSync(latin1, `${HEADER}\n${campusLine(98, 0)}\n`);
    const wf = helper.getNode(memberOf('Landing (files)', 'medallion-watch-folder')) as unknown as {
      warn: { getCalls(): Array<{ thisValue: unknown; args: unknown[] }> };
    };
    const warned = () =>
      wf.warn
        .getCalls()
        .filter((c) => c.thisValue === wf)
        .map((c) => String(c.args[0]));
    await waitFor(
      () =>
        warned().some((w) =>
          /caf\ufffd\.csv: the file's name is not valid UTF-8, so it cannot be opened: rename it/.test(w),
        ),
      10_000,
      'the warning about the name',
    );
    assert.ok(existsSync(latin1), 'the file is still there');

    // the process is up and the pipeline still loads a plain file
    const after = messages<Outcome>(probe, 1, 30_000);
    drop({ file: 'after.csv', bytes: Buffer.from(`${HEADER}\n${campusLine(99, 0)}\n`) });
    const [last] = await after;
    assert.equal(last.payload.state, 'loaded', last.payload.error);
    assert.equal(last.payload.rowsInserted, 1);
    assert.equal(warned().filter((w) => w.includes('caf\ufffd.csv')).length, 1, 'told once');
    process.off('unhandledRejection', onRejection);
    assert.deepEqual(rejections, [], 'no promise rejected unhandled');
  });
});

interface Rejected {
  line: number;
  field: string;
  rule: string;
}
