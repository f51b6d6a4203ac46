/**
 * fast-check over the pure file path, CSV bytes → CsvFileReader → Validator, with a
 * fixed seed and a bounded number of runs:
 * - any text CSV writes reads back as the same fields (the round trip);
 * - any bytes at all end as a WholeFileError with a known rule, or as records that
 *   validate into silver rows plus quarantine rows naming line, field and rule, every
 *   record counted once, line numbers increasing, and each record parsed again from its
 *   raw bytes (a replay from bronze) equal to what the reader made.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import { CsvFileReader, recordFromRaw, type FileRecord } from '../../lib/files/csv-reader';
import { WholeFileError } from '../../lib/files/sniff';
import { Validator } from '../../lib/validate/validator';
import { campusLine, HEADER } from '../support/hostile-corpus';

const SEED = 20261124;
const WHOLE_FILE_RULES = ['empty', 'binary', 'undecodable', 'no-header', 'header'];
const RULES = ['parse', 'profile', 'required', 'type', 'format', 'min', 'max', 'enum', 'empty'];

/** True when a key or string anywhere in `value` holds a NUL character (jsonb refuses it). */
function hasNul(value: unknown): boolean {
  let found = false;
  JSON.stringify(value, (k, v) => {
    for (const s of [k, v]) if (typeof s === 'string' && s.includes('\u0000')) found = true;
    return v;
  });
  return found;
}

describe('the CSV → validate path under fuzzing (fast-check)', function () {
  this.timeout(60_000);
  let dir: string;
  let n = 0;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'medallion-fuzz-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function file(bytes: Buffer | string): string {
    const path = join(dir, `f${n++}.csv`);
    writeFileSync(path, bytes);
    return path;
  }

  async function readAll(path: string, chunkBytes: number) {
    const reader = new CsvFileReader(path, { batchSize: 7, chunkBytes, maxRecordBytes: 4096 });
    const layout = await reader.open();
    const records: FileRecord[] = [];
    for await (const b of reader.read()) records.push(...b.records);
    return { reader, layout, records };
  }

  it('reads back any text that CSV writes, field for field', async () => {
    const char = fc.oneof(
      fc.constantFrom(',', ';', '"', '\n', '\r', '\r\n', '\t', ' ', '|', 'é', '温', '🌡', '=', "'"),
      fc.string({ minLength: 1, maxLength: 3 }),
    );
    const cell = fc.array(char, { maxLength: 6 }).map((cs) => cs.join(''));
    const table = fc.array(fc.tuple(cell, cell, cell), { minLength: 1, maxLength: 12 });
    await fc.assert(
      fc.asyncProperty(table, fc.constantFrom(3, 17, 65536), async (rows, chunkBytes) => {
        const text = stringify(rows, {
          header: true,
          columns: ['alpha', 'beta', 'gamma'],
          quoted_match: /\s/,
        });
        const path = file(text);
        const kept = rows.filter((r) => r.some((v) => v.trim() !== ''));
        if (!kept.length) {
          await assert.rejects(readAll(path, chunkBytes), { rule: 'empty' }, 'only blank rows');
          return;
        }
        const { records } = await readAll(path, chunkBytes);
        assert.deepEqual(
          records.map((r) => r.fields),
          kept.map(([alpha, beta, gamma]) => ({ alpha, beta, gamma })),
        );
      }),
      { seed: SEED, numRuns: 150 },
    );
  });

  it('ends any bytes as a whole-file error or as records, each validated and counted once', async () => {
    const validator = new Validator('auto', '');
    const piece = fc.oneof(
      { weight: 6, arbitrary: fc.nat(50).map((i) => `${campusLine(0, i)}\n`) },
      {
        weight: 4,
        arbitrary: fc.constantFrom(
          '\n',
          '\r\n',
          '\r',
          ',',
          ';',
          '"',
          '""',
          '\u0000',
          '\ufeff',
          '=cmd|x',
          ' 101 ',
          'NaN',
          '1e400',
          '2024-02-30 10:00:00',
          `${HEADER}\n`,
        ),
      },
      {
        weight: 2,
        arbitrary: fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b).toString('latin1')),
      },
    );
    const body = fc.array(piece, { maxLength: 40 }).map((ps) => Buffer.from(ps.join(''), 'latin1'));
    const withHeader = fc
      .tuple(fc.boolean(), body)
      .map(([header, b]) => (header ? Buffer.concat([Buffer.from(`${HEADER}\n`), b]) : b));
    await fc.assert(
      fc.asyncProperty(withHeader, fc.constantFrom(5, 64, 65536), async (bytes, chunkBytes) => {
        let read;
        try {
          read = await readAll(file(bytes), chunkBytes);
        } catch (err) {
          assert.ok(err instanceof WholeFileError, `not a WholeFileError: ${(err as Error).stack}`);
          assert.ok(WHOLE_FILE_RULES.includes(err.rule), err.rule);
          assert.ok(err.message.length > 10);
          return;
        }
        const { reader, layout, records } = read;
        assert.equal(reader.rowsRead, records.length, 'every record counted once');
        const lines = records.map((r) => r.line_no);
        assert.ok(
          lines.every((l, i) => i === 0 || l > lines[i - 1]),
          `lines increase: ${lines.join(',')}`,
        );
        for (const r of records) {
          const again = recordFromRaw(layout, r.line_no, r.raw, 4096);
          assert.deepEqual(
            { ...again, error: undefined },
            { ...r, error: undefined },
            `line ${r.line_no} replayed`,
          );
          assert.equal(again.error === undefined, r.error === undefined, `line ${r.line_no} replayed`);
        }
        const out = validator.validate(records, undefined, 'fuzz.csv');
        assert.equal(out.valid + out.quarantine.length, records.length, 'every record valid or quarantined');
        for (const q of out.quarantine) {
          assert.ok(q.errors.length > 0);
          for (const e of q.errors) {
            assert.equal(e.line, q.line_no);
            assert.ok(RULES.includes(e.rule), e.rule);
            assert.ok(e.message.startsWith(`line ${q.line_no}`), e.message);
          }
          assert.ok(!hasNul(q), 'a quarantine row jsonb can keep');
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});
