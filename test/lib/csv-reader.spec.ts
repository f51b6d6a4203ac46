import assert from 'node:assert/strict';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CsvFileReader,
  FileChangedError,
  recordFromRaw,
  type CsvLayout,
  type CsvReadOptions,
  type FileBatch,
  type FileRecord,
} from '../../lib/files/csv-reader';
import { WholeFileError, type WholeFileRule } from '../../lib/files/sniff';

const DATASETS = join(__dirname, '..', '..', '..', 'shared', 'datasets');

let dir: string;
let files = 0;

/** Writes `content` to a new temporary file; returns its path. */
function file(content: string | Buffer): string {
  const path = join(dir, `f${files++}.csv`);
  writeFileSync(path, content);
  return path;
}

async function readAll(
  path: string,
  options: Partial<CsvReadOptions> = {},
  skip?: (batch: number) => boolean,
) {
  const reader = new CsvFileReader(path, { batchSize: 1000, ...options });
  const layout = await reader.open();
  const batches: FileBatch[] = [];
  for await (const batch of reader.read(skip)) batches.push(batch);
  return { reader, layout, batches, records: batches.flatMap((b) => b.records) };
}

/** Records with `raw` as latin1 text (one character per byte), for deepEqual. */
function plain(records: FileRecord[]) {
  return records.map((r) => {
    assert.ok(Buffer.isBuffer(r.raw), 'raw is a Buffer');
    return { ...r, raw: r.raw.toString('latin1') };
  });
}

/** Everything a read produces, for comparing two reads of one file. */
async function outcome(path: string, options: Partial<CsvReadOptions>) {
  const { reader, layout, batches } = await readAll(path, options);
  return {
    layout,
    batches: batches.map((b) => ({ ...b, records: plain(b.records) })),
    rowsRead: reader.rowsRead,
    rowsSkipped: reader.rowsSkipped,
    batches_: reader.batches,
  };
}

/**
 * Each record parsed again from its raw bytes, as a replay from bronze does, equals
 * the record the reader made (an unparseable one stays an error record).
 */
function assertReplayable(layout: CsvLayout, records: FileRecord[]) {
  for (const r of records) {
    const again = recordFromRaw(layout, r.line_no, r.raw);
    if (r.fields) assert.deepEqual(again, r, `line ${r.line_no} from its raw bytes`);
    else {
      assert.deepEqual({ ...again, error: undefined }, { ...r, error: undefined });
      assert.match(again.error ?? '', new RegExp(`^line ${r.line_no} could not be parsed: a quote`));
    }
  }
}

async function refused(promise: Promise<unknown>, rule: WholeFileRule, message: RegExp, line?: number) {
  await assert.rejects(promise, (err: Error) => {
    assert.ok(err instanceof WholeFileError, `expected a WholeFileError, got ${err.name}: ${err.message}`);
    assert.equal(err.rule, rule);
    assert.match(err.message, message);
    assert.equal(err.line, line);
    return true;
  });
}

describe('lib/files/csv-reader', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'medallion-csv-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('open', () => {
    it('takes the header from the first record that has a value, past all-empty lines', async () => {
      const { layout, records } = await readAll(file(';;;\na;b;c\n1;2;3\n'));
      assert.deepEqual(layout, {
        delimiter: ';',
        quote: '"',
        names: ['a', 'b', 'c'],
        header: 'a;b;c',
        headerLine: 2,
      });
      assert.deepEqual(plain(records), [{ line_no: 3, raw: '1;2;3', fields: { a: '1', b: '2', c: '3' } }]);
    });

    it('keeps a header with a quoted line break whole', async () => {
      const { layout } = await readAll(file('"a\nb",c\n1,2\n'));
      assert.deepEqual(layout.names, ['a\nb', 'c']);
      assert.equal(layout.header, '"a\nb",c');
      assert.equal(layout.headerLine, 1);
    });

    it('quarantines a file whose header opens a quote it never closes', async () => {
      await refused(
        new CsvFileReader(file('a,"b\n1,2\n'), { batchSize: 10 }).open(),
        'header',
        /no usable header/,
        1,
      );
    });

    it('resolves delimiter, quote, names and header line', async () => {
      const reader = new CsvFileReader(file('id,temp,out/in\n1,29,In\n'), { batchSize: 10 });
      const layout = await reader.open();
      assert.deepEqual(layout, {
        delimiter: ',',
        quote: '"',
        names: ['id', 'temp', 'out/in'],
        header: 'id,temp,out/in',
        headerLine: 1,
      });
      assert.deepEqual(reader.layout, layout);
      assert.equal(reader.size, 23);
    });

    it('decodes UTF-8 after a byte order mark as without one (csv-parse is never shown the mark)', async () => {
      const { layout, records } = await readAll(file('\ufeffsalle;température\nÉtage 2;21,5 °C\n'));
      assert.deepEqual(layout.names, ['salle', 'température']);
      assert.deepEqual(records[0].fields, { salle: 'Étage 2', température: '21,5 °C' });
      assert.equal(records[0].raw.toString('utf8'), 'Étage 2;21,5 °C');
    });

    it('detects a ; delimiter and drops a UTF-8 BOM', async () => {
      const { layout, records } = await readAll(file('\ufeffDate;Time;T\r\n10/03/2004;18.00.00;13,6\r\n'));
      assert.equal(layout.delimiter, ';');
      assert.deepEqual(layout.names, ['Date', 'Time', 'T']);
      assert.equal(layout.header, 'Date;Time;T');
      assert.deepEqual(plain(records), [
        {
          line_no: 2,
          raw: '10/03/2004;18.00.00;13,6',
          fields: { Date: '10/03/2004', Time: '18.00.00', T: '13,6' },
        },
      ]);
    });

    it('uses a configured delimiter and quote', async () => {
      const { layout, records } = await readAll(file("a|b\n'x|y'|2\n"), { delimiter: '|', quote: "'" });
      assert.equal(layout.delimiter, '|');
      assert.equal(layout.quote, "'");
      assert.deepEqual(records[0].fields, { a: 'x|y', b: '2' });
      const auto = await readAll(file('a\tb\n1\t2\n'), { delimiter: 'auto' });
      assert.equal(auto.layout.delimiter, '\t');
      assert.deepEqual(auto.records[0].fields, { a: '1', b: '2' });
    });

    it('counts blank lines before the header', async () => {
      const { layout, records, reader } = await readAll(file('\r\n \r\nid,v\r\n1,2\r\n'));
      assert.equal(layout.headerLine, 3);
      assert.deepEqual(plain(records), [{ line_no: 4, raw: '1,2', fields: { id: '1', v: '2' } }]);
      assert.equal(reader.rowsSkipped, 2);
    });

    it('refuses files that cannot be CSV', async () => {
      await refused(readAll(file('')), 'empty', /the file is empty/);
      await refused(readAll(file('\n\n \n')), 'empty', /only blank lines/);
      await refused(readAll(file(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0]))), 'binary', /gzip/);
      await refused(readAll(file('1,2,3\n4,5,6\n')), 'no-header', /line 1 looks like data/, 1);
      await refused(readAll(file('a,b,a\n1,2,3\n')), 'header', /repeats the column "a"/, 1);
      await refused(
        readAll(file(Buffer.from('\nt\xe9mp,b\n1,2\n', 'latin1'))),
        'undecodable',
        /line 2 \(the header\) is not valid UTF-8/,
        2,
      );
    });

    it('names an unnamed leading row index _row', async () => {
      const { layout, records } = await readAll(
        file('"date","temp"\n"1","2015-02-04",23.18\n"2","2015-02-05",23.15\n'),
      );
      assert.deepEqual(layout.names, ['_row', 'date', 'temp']);
      assert.deepEqual(records[1].fields, { _row: '2', date: '2015-02-05', temp: '23.15' });
    });
  });

  describe('read', () => {
    it('ends records at any mix of CRLF, LF and CR', async () => {
      const { records } = await readAll(file('id,v\r\n1,a\r\n2,b\n3,c\r4,d\n5,e'));
      assert.deepEqual(plain(records), [
        { line_no: 2, raw: '1,a', fields: { id: '1', v: 'a' } },
        { line_no: 3, raw: '2,b', fields: { id: '2', v: 'b' } },
        { line_no: 4, raw: '3,c', fields: { id: '3', v: 'c' } },
        { line_no: 5, raw: '4,d', fields: { id: '4', v: 'd' } },
        { line_no: 6, raw: '5,e', fields: { id: '5', v: 'e' } },
      ]);
    });

    it('leaves the byte order mark out of the first record of a header-less file', async () => {
      const { records } = await readAll(file('\ufeff1,2\n3,4\n'), { columns: ['a', 'b'] });
      assert.deepEqual(plain(records)[0], { line_no: 1, raw: '1,2', fields: { a: '1', b: '2' } });
    });

    it('never lets an extra value overwrite a column named like it', async () => {
      const { records } = await readAll(file('a,column_3\n1,2\n3,4,5\n'));
      assert.deepEqual(records[1].fields, { a: '3', column_3: '4', _column_3: '5' });
    });

    it('reads LF and CRLF files alike, raw without the line ending', async () => {
      const expected = [
        { line_no: 2, raw: '1,a', fields: { id: '1', v: 'a' } },
        { line_no: 3, raw: '2,b', fields: { id: '2', v: 'b' } },
      ];
      for (const eol of ['\n', '\r\n', '\r']) {
        const { records, reader } = await readAll(file(['id,v', '1,a', '2,b', ''].join(eol)));
        assert.deepEqual(plain(records), expected, JSON.stringify(eol));
        assert.equal(reader.rowsRead, 2);
        assert.equal(reader.rowsSkipped, 0);
      }
    });

    it('reads a last line without a line ending', async () => {
      for (const eol of ['\n', '\r\n']) {
        const { records } = await readAll(file(`id,v${eol}1,a${eol}2,b`));
        assert.deepEqual(plain(records).at(-1), { line_no: 3, raw: '2,b', fields: { id: '2', v: 'b' } });
        assert.equal(records.length, 2);
      }
    });

    it('keeps a quoted field with a line break as one record of its first line', async () => {
      for (const eol of ['\n', '\r\n']) {
        const content = ['id,note', '1,"two', 'lines ""q"""', '2,after', '3,"a', 'b', 'c"', '4,end', ''].join(
          eol,
        );
        const { records, batches } = await readAll(file(content));
        assert.deepEqual(plain(records), [
          { line_no: 2, raw: `1,"two${eol}lines ""q"""`, fields: { id: '1', note: `two${eol}lines "q"` } },
          { line_no: 4, raw: '2,after', fields: { id: '2', note: 'after' } },
          { line_no: 5, raw: `3,"a${eol}b${eol}c"`, fields: { id: '3', note: `a${eol}b${eol}c` } },
          { line_no: 8, raw: '4,end', fields: { id: '4', note: 'end' } },
        ]);
        assert.deepEqual(
          batches.map((b) => [b.lineStart, b.lineEnd]),
          [[2, 8]],
        );
      }
    });

    it('skips blank and all-empty lines, counting them', async () => {
      const { records, reader } = await readAll(file('a;b;c\n1;2;3\n\n;;\n  ; ;\t\n;;;;;\n4;5;6\n\n'));
      assert.deepEqual(plain(records), [
        { line_no: 2, raw: '1;2;3', fields: { a: '1', b: '2', c: '3' } },
        { line_no: 7, raw: '4;5;6', fields: { a: '4', b: '5', c: '6' } },
      ]);
      assert.equal(reader.rowsRead, 2);
      assert.equal(reader.rowsSkipped, 5);
    });

    it('keeps NUL bytes and invalid UTF-8 byte for byte', async () => {
      const lines = [
        Buffer.from('id,name'),
        Buffer.from('1,x\x00y', 'latin1'),
        Buffer.from([0x32, 0x2c, 0x61, 0xff, 0x62]), // 2,a<ff>b
        Buffer.from('3,café ☕'),
      ];
      const { records } = await readAll(file(Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\r\n')]))));
      assert.deepEqual(
        records.map((r) => r.raw),
        lines.slice(1),
      );
      assert.deepEqual(records[0].fields, { id: '1', name: 'x\x00y' });
      assert.equal(records[0].error, undefined);
      assert.equal(records[1].line_no, 3);
      assert.match(records[1].error ?? '', /line 3 is not valid UTF-8/);
      assert.deepEqual(records[1].fields, { id: '2', name: 'a\ufffdb' });
      assert.deepEqual(records[2].fields, { id: '3', name: 'café ☕' });
      assert.equal(records[2].error, undefined);
    });

    it('keeps extra values as column_<n> and leaves missing ones out', async () => {
      const { records } = await readAll(file('a,b,\n1,2,,\n3,4,5,,\n6,7,,8\n9\n'));
      assert.deepEqual(
        records.map((r) => r.fields),
        [
          { a: '1', b: '2' },
          { a: '3', b: '4', column_3: '5' },
          { a: '6', b: '7', column_4: '8' },
          { a: '9' },
        ],
      );
    });

    it('turns a quote never closed within maxRecordBytes into an error record for its line only', async () => {
      const rows = Array.from({ length: 30 }, (_, i) => `${i},row ${i}`);
      const path = file(`id,v\r\n1,"oops\r\n${rows.join('\r\n')}\r\n`);
      const { records, reader } = await readAll(path, { maxRecordBytes: 200 });
      assert.deepEqual(plain(records.slice(0, 3)), [
        {
          line_no: 2,
          raw: '1,"oops',
          error: 'line 2 could not be parsed: a quote opened on line 2 is not closed within 200 bytes',
        },
        { line_no: 3, raw: '0,row 0', fields: { id: '0', v: 'row 0' } },
        { line_no: 4, raw: '1,row 1', fields: { id: '1', v: 'row 1' } },
      ]);
      assert.equal(records.length, 31);
      assert.deepEqual(plain(records).at(-1), {
        line_no: 32,
        raw: '29,row 29',
        fields: { id: '29', v: 'row 29' },
      });
      assert.equal(reader.rowsRead, 31);
      assert.deepEqual(
        await outcome(path, { maxRecordBytes: 200, chunkBytes: 7 }),
        await outcome(path, { maxRecordBytes: 200 }),
      );
    });

    it('turns a line longer than maxRecordBytes into one error record, over any number of chunks', async () => {
      const long = `2,${'x'.repeat(1000)}`;
      const path = file(`id,v\n1,a\n${long}\r\n3,c\n${long}`);
      for (const chunkBytes of [7, 64, 4096]) {
        const { records, layout, reader } = await readAll(path, { maxRecordBytes: 200, chunkBytes });
        const error = (line: number) =>
          `line ${line} could not be parsed: it is longer than 200 bytes (its bytes are kept in bronze)`;
        assert.deepEqual(
          plain(records),
          [
            { line_no: 2, raw: '1,a', fields: { id: '1', v: 'a' } },
            { line_no: 3, raw: long, error: error(3) },
            { line_no: 4, raw: '3,c', fields: { id: '3', v: 'c' } },
            { line_no: 5, raw: long, error: error(5) },
          ],
          `chunks of ${chunkBytes} bytes`,
        );
        assert.equal(reader.rowsRead, 4);
        assert.deepEqual(recordFromRaw(layout, 3, records[1].raw, 200), records[1]);
      }
    });

    it('fails the whole file (rule long-line) on a line longer than maxLineBytes, without holding it', async () => {
      const path = file(`id,v\n1,a\n2,${'x'.repeat(5000)}\n3,c\n`);
      for (const chunkBytes of [7, 256, 65536]) {
        const reader = new CsvFileReader(path, {
          batchSize: 1,
          chunkBytes,
          maxRecordBytes: 100,
          maxLineBytes: 1000,
        });
        await assert.rejects(
          (async () => {
            for await (const b of reader.read()) assert.ok(b.records.every((r) => r.line_no < 3));
          })(),
          (err: unknown) => {
            assert.ok(err instanceof WholeFileError);
            assert.equal(err.rule, 'long-line');
            assert.equal(err.line, 3);
            assert.match(err.message, /^line 3 is longer than 1000 bytes without a line break/);
            return true;
          },
          `chunks of ${chunkBytes} bytes`,
        );
      }
    });

    describe('a file that changes while it is read', () => {
      const lines = Array.from({ length: 400 }, (_, i) => `${i},value ${i}`);
      const content = `id,v\n${lines.join('\n')}\n`;

      /** Reads in batches of 50 records, calling `meddle` after the first batch. */
      async function readWhile(path: string, meddle: () => void) {
        const reader = new CsvFileReader(path, { batchSize: 50, chunkBytes: 256 });
        const got: FileRecord[] = [];
        let error: unknown;
        try {
          for await (const batch of reader.read()) {
            if (!got.length) meddle();
            got.push(...batch.records);
          }
        } catch (err) {
          error = err;
        }
        return { got, error };
      }

      it('stops with FileChangedError when it is truncated, sending no line the cut went through', async () => {
        const path = file(content);
        const { got, error } = await readWhile(path, () => truncateSync(path, content.length - 1000 - 3));
        assert.ok(error instanceof FileChangedError, String(error));
        assert.equal((error as FileChangedError).code, 'changed');
        assert.match(
          (error as Error).message,
          /changed while it was read \(\d+ bytes, modified .*; now \d+ bytes/,
        );
        assert.ok(got.length < lines.length);
        for (const r of got) assert.equal(r.raw.toString(), lines[r.line_no - 2], `line ${r.line_no} whole`);
      });

      it('stops with FileChangedError when it grows', async () => {
        const path = file(content);
        const { error } = await readWhile(path, () => appendFileSync(path, '400,late\n'));
        assert.ok(error instanceof FileChangedError, String(error));
      });

      it('reads a file renamed meanwhile to its end: the open file is the same', async () => {
        const path = file(content);
        const { got, error } = await readWhile(path, () => renameSync(path, `${path}.moved`));
        assert.equal(error, undefined);
        assert.equal(got.length, lines.length);
      });

      it('refuses to open a file that differs from what was claimed', async () => {
        const path = file(content);
        const reader = new CsvFileReader(path, {
          batchSize: 50,
          expect: { size: content.length + 1, mtimeMs: 0 },
        });
        await assert.rejects(reader.open(), FileChangedError);
      });
    });

    it('turns a quote opened near the end into an error record for its line only', async () => {
      const { records, layout } = await readAll(file('id,v\n1,"oops\n2,b\n3,c\n'), { maxRecordBytes: 200 });
      assertReplayable(layout, records);
      assert.deepEqual(plain(records), [
        {
          line_no: 2,
          raw: '1,"oops',
          error:
            'line 2 could not be parsed: a quote opened on line 2 is never closed before the end of the file',
        },
        { line_no: 3, raw: '2,b', fields: { id: '2', v: 'b' } },
        { line_no: 4, raw: '3,c', fields: { id: '3', v: 'c' } },
      ]);
    });

    it('turns an unclosed quote on the last line into an error record', async () => {
      for (const end of ['', '\n', '\r\n']) {
        const { records, batches } = await readAll(file(`id,v\n1,a\n2,"oops${end}`), { batchSize: 1 });
        assert.deepEqual(plain(records), [
          { line_no: 2, raw: '1,a', fields: { id: '1', v: 'a' } },
          {
            line_no: 3,
            raw: '2,"oops',
            error:
              'line 3 could not be parsed: a quote opened on line 3 is never closed before the end of the file',
          },
        ]);
        assert.deepEqual(
          batches.map((b) => [b.batch, b.last]),
          [
            [0, false],
            [1, true],
          ],
        );
      }
    });

    it('numbers batches and marks only the final one last', async () => {
      const path = file('id\n1\n2\n3\n\n4\n5\n6\n7\n');
      const { batches, reader } = await readAll(path, { batchSize: 3 });
      assert.deepEqual(
        batches.map((b) => ({
          batch: b.batch,
          ids: b.records.map((r) => r.fields?.id),
          last: b.last,
          lineStart: b.lineStart,
          lineEnd: b.lineEnd,
        })),
        [
          { batch: 0, ids: ['1', '2', '3'], last: false, lineStart: 2, lineEnd: 4 },
          { batch: 1, ids: ['4', '5', '6'], last: false, lineStart: 6, lineEnd: 8 },
          { batch: 2, ids: ['7'], last: true, lineStart: 9, lineEnd: 9 },
        ],
      );
      assert.equal(reader.batches, 3);
      assert.equal(reader.rowsRead, 7);
      assert.equal(reader.rowsSkipped, 1);
      const even = await readAll(file('id\n1\n2\n3\n4\n5\n6\n'), { batchSize: 3 });
      assert.deepEqual(
        even.batches.map((b) => [b.batch, b.records.length, b.last]),
        [
          [0, 3, false],
          [1, 3, true],
        ],
      );
    });

    it('counts but does not yield the batches skip() names', async () => {
      const path = file('id\n1\n2\n3\n4\n5\n6\n7\n');
      const asked: number[] = [];
      const resumed = await readAll(path, { batchSize: 3 }, (b) => {
        asked.push(b);
        return b < 2;
      });
      assert.deepEqual(asked, [0, 1, 2]);
      assert.deepEqual(
        resumed.batches.map((b) => [b.batch, b.records.map((r) => r.line_no), b.last]),
        [[2, [8], true]],
      );
      assert.equal(resumed.reader.batches, 3);
      assert.equal(resumed.reader.rowsRead, 7);
      const middle = await readAll(path, { batchSize: 3 }, (b) => b === 1);
      assert.deepEqual(
        middle.batches.map((b) => [b.batch, b.records.map((r) => r.line_no), b.last]),
        [
          [0, [2, 3, 4], false],
          [2, [8], true],
        ],
      );
      assert.equal(middle.reader.batches, 3);
      assert.equal(middle.reader.rowsRead, 7);
    });

    it('refuses a header without data rows', async () => {
      await refused(readAll(file('id,v\n')), 'empty', /the file has a header but no data rows/);
      await refused(
        readAll(file('id,v\r\n\r\n,\r\n  \r\n')),
        'empty',
        /the file has a header but no data rows/,
      );
    });

    it('reads every non-blank line as data with the columns option', async () => {
      const { layout, records, reader } = await readAll(file('1,2\n\n3,4,5\nid,v\n'), {
        columns: [' x', 'y'],
      });
      assert.deepEqual(layout, { delimiter: ',', quote: '"', names: ['x', 'y'] });
      assert.deepEqual(plain(records), [
        { line_no: 1, raw: '1,2', fields: { x: '1', y: '2' } },
        { line_no: 3, raw: '3,4,5', fields: { x: '3', y: '4', column_3: '5' } },
        { line_no: 4, raw: 'id,v', fields: { x: 'id', y: 'v' } },
      ]);
      assert.equal(reader.rowsSkipped, 1);
      await refused(readAll(file('\n\n'), { columns: ['x'] }), 'empty', /only blank lines/);
    });

    it('reads the same with tiny chunks, records straddling chunk boundaries', async () => {
      const path = file(
        '\ufeffid;note;v\r\n1;"a;\r\nb";2\r\n\r\n;;\r\n2;x\x00y;\xff\r\n3;"q ""uoted""";4\r\n4;last;5',
      );
      const reference = await outcome(path, {});
      assert.equal(reference.rowsRead, 4);
      const { layout, records } = await readAll(path);
      assertReplayable(layout, records);
      for (const chunkBytes of [1, 2, 3, 7, 13]) {
        assert.deepEqual(await outcome(path, { chunkBytes }), reference, `chunkBytes ${chunkBytes}`);
      }
    });

    describe('generated files (property)', () => {
      /** A small deterministic pseudo-random generator (LCG). */
      function random(seed: number) {
        let s = seed;
        return () => {
          s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff;
          return s / 0x80000000;
        };
      }

      interface Expected {
        line_no: number;
        raw: Buffer;
        fields: Record<string, string>;
        invalid: boolean;
      }

      /** A file and what reading it must give. */
      function generate(seed: number) {
        const rnd = random(seed);
        const eol = rnd() < 0.5 ? '\n' : '\r\n';
        const parts: Buffer[] = [Buffer.from('id,name,note')];
        const expected: Expected[] = [];
        let skipped = 0;
        let line = 2;
        const rows = 1 + Math.floor(rnd() * 15);
        for (let i = 0; i < rows; i++) {
          const k = i === rows - 1 ? 1 : rnd(); // the last line is data
          let raw: Buffer;
          let fields: Record<string, string> | undefined;
          let breaks = 0;
          if (k < 0.1) raw = Buffer.alloc(0);
          else if (k < 0.15) raw = Buffer.from(',,');
          else if (k < 0.3) {
            raw = Buffer.from(`${i},"multi${eol}line, ""q""",n${i}`);
            fields = { id: `${i}`, name: `multi${eol}line, "q"`, note: `n${i}` };
            breaks = 1;
          } else if (k < 0.4) {
            raw = Buffer.concat([Buffer.from(`${i},x\x00y,`, 'latin1'), Buffer.from([0xff, 0xfe])]);
            fields = { id: `${i}`, name: 'x\x00y', note: '\ufffd\ufffd' };
          } else if (k < 0.5) {
            raw = Buffer.from(`${i},température ☀,ok`);
            fields = { id: `${i}`, name: 'température ☀', note: 'ok' };
          } else {
            const v = (rnd() * 100).toFixed(2);
            raw = Buffer.from(`${i},name ${i},${v}`);
            fields = { id: `${i}`, name: `name ${i}`, note: v };
          }
          parts.push(Buffer.from(eol), raw);
          if (fields) expected.push({ line_no: line, raw, fields, invalid: raw.includes(0xff) });
          else skipped++;
          line += 1 + breaks;
        }
        if (rnd() < 0.7) parts.push(Buffer.from(eol));
        const batchSize = 1 + Math.floor(rnd() * 4);
        return { content: Buffer.concat(parts), expected, skipped, batchSize };
      }

      for (let seed = 1; seed <= 25; seed++) {
        it(`reads generated file #${seed} as generated, whatever the chunk size`, async () => {
          const { content, expected, skipped, batchSize } = generate(seed);
          const path = file(content);
          const { records, batches, reader, layout } = await readAll(path, { batchSize });
          assertReplayable(layout, records);
          assert.deepEqual(
            records.map((r) => r.line_no),
            expected.map((e) => e.line_no),
          );
          records.forEach((r, i) => {
            const e = expected[i];
            assert.deepEqual(r.raw, e.raw, `raw of line ${e.line_no}`);
            assert.deepEqual(r.fields, e.fields, `fields of line ${e.line_no}`);
            if (e.invalid) assert.match(r.error ?? '', new RegExp(`line ${e.line_no} is not valid UTF-8`));
            else assert.equal(r.error, undefined, `error of line ${e.line_no}`);
          });
          assert.equal(reader.rowsRead, expected.length);
          assert.equal(reader.rowsSkipped, skipped);
          const count = Math.ceil(expected.length / batchSize);
          assert.equal(reader.batches, count);
          assert.deepEqual(
            batches.map((b) => [b.batch, b.records.length, b.last]),
            Array.from({ length: count }, (_, b) => [
              b,
              Math.min(batchSize, expected.length - b * batchSize),
              b === count - 1,
            ]),
          );
          const reference = await outcome(path, { batchSize });
          for (const chunkBytes of [1, 3, 7]) {
            assert.deepEqual(
              await outcome(path, { batchSize, chunkBytes }),
              reference,
              `chunkBytes ${chunkBytes}`,
            );
          }
        });
      }
    });
  });

  describe('real datasets', function () {
    before(() => assert.ok(existsSync(DATASETS), `the datasets are beside the repository: ${DATASETS}`));

    /** The file's lines, split at its line ending (the last, empty one after a final line ending dropped). */
    function linesOf(name: string, eol: string): string[] {
      const lines = readFileSync(join(DATASETS, name), 'latin1').split(eol);
      if (lines.at(-1) === '') lines.pop();
      return lines;
    }

    function assertRawIsTheLine(records: FileRecord[], lines: string[]) {
      for (const r of records) {
        if (r.raw.toString('latin1') !== lines[r.line_no - 1]) {
          assert.fail(
            `line ${r.line_no}: raw ${JSON.stringify(r.raw.toString('latin1'))} is not the file's line`,
          );
        }
      }
    }

    it('IOT-temp.csv: every data line is a record', async () => {
      const lines = linesOf('IOT-temp.csv', '\n');
      const data = lines.slice(1).filter((l) => l.trim() !== '');
      const { layout, records, batches, reader } = await readAll(join(DATASETS, 'IOT-temp.csv'), {
        batchSize: 5000,
      });
      assertReplayable(layout, records);
      assert.deepEqual(layout.names, ['id', 'room_id/id', 'noted_date', 'temp', 'out/in']);
      assert.equal(records.length, data.length);
      assert.equal(reader.rowsRead, data.length);
      assert.equal(reader.rowsSkipped, lines.length - 1 - data.length);
      assert.equal(reader.batches, Math.ceil(data.length / 5000));
      assert.deepEqual(
        batches.filter((b) => b.last).map((b) => b.batch),
        [reader.batches - 1],
      );
      assert.ok(records.every((r) => r.error === undefined));
      assertRawIsTheLine(records, lines);
      const [id, room, date, temp, where] = data[0].split(',');
      assert.deepEqual(records[0].fields, {
        id,
        'room_id/id': room,
        noted_date: date,
        temp,
        'out/in': where,
      });
    });

    it('AirQualityUCI.csv: ; and CRLF, trailing empty fields dropped, rows of ; skipped', async () => {
      const lines = linesOf('AirQualityUCI.csv', '\r\n');
      const header = lines[0].split(';');
      const named = header.filter((n) => n !== '');
      assert.deepEqual(header.slice(named.length), ['', ''], 'the header ends with two empty names');
      const blank = (l: string) => l.replace(/;/g, '').trim() === '';
      const data = lines.slice(1).filter((l) => !blank(l));
      assert.ok(lines.length - 1 - data.length > 0, 'the file has rows of only ;');

      const { layout, records, reader } = await readAll(join(DATASETS, 'AirQualityUCI.csv'), {
        batchSize: 1000,
      });
      assertReplayable(layout, records);
      assert.equal(layout.delimiter, ';');
      assert.deepEqual(layout.names, named);
      assert.equal(records.length, data.length);
      assert.equal(reader.rowsSkipped, lines.length - 1 - data.length);
      assertRawIsTheLine(records, lines);
      const allowed = new Set(named);
      for (const r of records) {
        assert.equal(r.error, undefined);
        const extra = Object.keys(r.fields ?? {}).filter((k) => !allowed.has(k));
        if (extra.length) assert.fail(`line ${r.line_no} has fields ${extra.join(', ')}`);
      }
      assert.deepEqual(
        records[0].fields,
        Object.fromEntries(named.map((n, i) => [n, data[0].split(';')[i]])),
      );
    });

    it('occupancy_datatraining.txt: the unnamed row index becomes _row', async () => {
      const lines = linesOf('occupancy_datatraining.txt', '\n');
      const data = lines.slice(1).filter((l) => l.trim() !== '');
      const { layout, records } = await readAll(join(DATASETS, 'occupancy_datatraining.txt'), {
        batchSize: 2000,
      });
      assertReplayable(layout, records);
      assert.equal(layout.names[0], '_row');
      assert.deepEqual(
        layout.names.slice(1),
        lines[0].split(',').map((n) => n.replace(/"/g, '')),
      );
      assert.equal(records.length, data.length);
      assertRawIsTheLine(records, lines);
      assert.equal(records[0].fields?._row, '1');
      assert.equal(records[0].fields?.date, '2015-02-04 17:51:00');
      assert.equal(records.at(-1)?.fields?._row, data.at(-1)?.split(',')[0].replace(/"/g, ''));
    });
  });
});
