/**
 * Streams a CSV file into batches of records, each keeping its bytes exactly as
 * received (for bronze) beside its parsed fields (for validation), with flat memory
 * for any file size.
 *
 * csv-parse tokenizes. It runs in latin1, which maps every byte to one character, so
 * that no byte is lost or replaced before we see it; fields holding bytes ≥ 0x80 are
 * then decoded as UTF-8. Each record's bytes are cut from the file at the offsets
 * csv-parse reports (`info.bytes`), so NUL bytes, invalid UTF-8 and anything else
 * survive byte for byte. A quote that is never closed does not swallow the rest of
 * the file: the line that opened it becomes an error record and parsing restarts on
 * the next line.
 */
import { isUtf8 } from 'node:buffer';
import { open } from 'node:fs/promises';
import { parse, type CsvError, type Parser } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import { configuredHeader, isBlankRow, resolveHeader, toFields, type Header } from './header';
import { checkSample, guessDelimiter, WholeFileError } from './sniff';

export interface CsvReadOptions {
  /** `,` `;` tab `|` …; empty or `auto`: guessed from the header line. */
  delimiter?: string;
  /** Quote character; empty: fields are never quoted. Default `"`. */
  quote?: string;
  /** Names for a file without a header line: every line is then data. */
  columns?: string[];
  /** Records per batch. */
  batchSize: number;
  /** A record longer than this is an error record (default 1 MiB). */
  maxRecordBytes?: number;
  /**
   * A line longer than this (default 64 MiB) makes the file a whole-file failure: it is
   * not held in memory, nor could bronze keep it as one record.
   */
  maxLineBytes?: number;
  /** File bytes read per chunk (default 256 KiB). */
  chunkBytes?: number;
  /**
   * The file's size and modification time when it was hashed and claimed: a file that
   * differs when opened or when read to its end is a FileChangedError.
   */
  expect?: FileStamp;
}

export interface FileStamp {
  size: number;
  mtimeMs: number;
}

/**
 * The file changed while it was read (truncated, appended to, rewritten): what was read
 * is not the content that was hashed and claimed. The batch the change cut is not sent.
 */
export class FileChangedError extends Error {
  readonly code = 'changed';
  constructor(when: string, before: FileStamp, now: FileStamp) {
    const at = (s: FileStamp) => `${s.size} bytes, modified ${new Date(s.mtimeMs).toISOString()}`;
    super(
      `the file changed ${when} (${at(before)}; now ${at(now)}): let its writer finish first — write it elsewhere and move it into the landing folder — then drop the whole file again`,
    );
    this.name = 'FileChangedError';
  }
}

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/** One record of the file: its first line, bytes as received (no line ending) and fields. */
export type FileRecord = {
  line_no: number;
  raw: Buffer;
  /** Fields by header name; absent when the line could not be parsed. */
  fields?: Record<string, string>;
  /** Why the record is not usable as it is (unparseable, invalid UTF-8). */
  error?: string;
};

export interface FileBatch {
  batch: number;
  records: FileRecord[];
  last: boolean;
  lineStart: number;
  lineEnd: number;
}

/** How the file is read: what a replay from bronze needs to parse the raw lines again. */
export interface CsvLayout {
  delimiter: string;
  quote: string;
  names: string[];
  /** The header line as text and its line number; absent when the columns were configured. */
  header?: string;
  headerLine?: number;
}

const SAMPLE_BYTES = 64 * 1024;
/** A record longer than this is an error record, unless the options say otherwise. */
export const MAX_RECORD_BYTES = 1024 * 1024;
/** A line longer than this is a whole-file failure, unless the options say otherwise. */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;
const LF = 0x0a;
const CR = 0x0d;
const HIGH = /[\x80-\xff]/;

function decode(value: string): string {
  return HIGH.test(value) ? Buffer.from(value, 'latin1').toString('utf8') : value;
}

/** Number of line breaks in a span (LF, or a lone CR ending it). */
function lineBreaks(span: Buffer): number {
  let n = 0;
  for (let i = span.indexOf(LF); i >= 0; i = span.indexOf(LF, i + 1)) n++;
  if (span.length && span[span.length - 1] === CR) n++;
  return n;
}

/** The span without its line ending (CRLF, LF or CR). */
function withoutEnding(span: Buffer): Buffer {
  let end = span.length;
  if (end && span[end - 1] === LF) end--;
  if (end && span[end - 1] === CR) end--;
  return span.subarray(0, end);
}

/** A record from its fields as csv-parse gave them (latin1) and its raw bytes. */
function toRecord(names: readonly string[], values: string[], line_no: number, raw: Buffer): FileRecord {
  const record: FileRecord = { line_no, raw, fields: toFields(names, values.map(decode)) };
  if (!isUtf8(raw)) record.error = `line ${line_no} is not valid UTF-8 (is the file in another encoding?)`;
  return record;
}

function parserOptions(delimiter: string, quote: string) {
  return {
    delimiter,
    quote: quote || false,
    // a byte order mark is skipped before parsing: csv-parse would switch to UTF-8 on seeing one
    bom: false,
    encoding: 'latin1' as const,
    relax_quotes: true,
    relax_column_count: true,
    // any mix of CRLF, LF and CR ends a record (files get concatenated and edited)
    record_delimiter: ['\r\n', '\n', '\r'],
  };
}

function tooLong(line: number, maxRecord: number): string {
  return `line ${line} could not be parsed: it is longer than ${maxRecord} bytes (its bytes are kept in bronze)`;
}

/**
 * A record again from its raw bytes as bronze keeps them, parsed the way its file
 * was (`layout`): what a replay from bronze sends on, equal to what the reader sent.
 */
export function recordFromRaw(
  layout: CsvLayout,
  line_no: number,
  raw: Buffer,
  maxRecord = MAX_RECORD_BYTES,
): FileRecord {
  if (raw.length > maxRecord) return { line_no, raw, error: tooLong(line_no, maxRecord) };
  let records: string[][];
  try {
    records = parseSync(raw, parserOptions(layout.delimiter, layout.quote)) as string[][];
  } catch {
    records = [];
  }
  if (records.length !== 1) {
    return {
      line_no,
      raw,
      error: `line ${line_no} could not be parsed: a quote opened on line ${line_no} is never closed`,
    };
  }
  return toRecord(layout.names, records[0], line_no, raw);
}

function withoutBom(bytes: Buffer): Buffer {
  return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
}

/** True when a whole line ending follows `from` in `buf` (a CR at its very end may be half of a CRLF). */
function lineEnds(buf: Buffer, from: number): boolean {
  const lf = buf.indexOf(LF, from);
  const cr = buf.indexOf(CR, from);
  return lf >= 0 || (cr >= 0 && cr < buf.length - 1);
}

/** Offset just past the first line ending in `buf` at or after `from`, or `buf.length`. */
function endOfLine(buf: Buffer, from: number): number {
  for (let i = from; i < buf.length; i++) {
    if (buf[i] === LF) return i + 1;
    if (buf[i] === CR) return buf[i + 1] === LF ? i + 2 : i + 1;
  }
  return buf.length;
}

export class CsvFileReader {
  size = 0;
  bytesRead = 0;
  /** Non-blank records after the header. */
  rowsRead = 0;
  /** Blank and all-empty lines (and blank lines before the header). */
  rowsSkipped = 0;
  batches = 0;
  layout?: CsvLayout;

  private header?: Header;
  /** Bytes of the UTF-8 byte order mark the file starts with (0 or 3): never parsed. */
  private bomBytes = 0;
  /** Size and mtime when opened. */
  private stamp: FileStamp = { size: 0, mtimeMs: 0 };

  constructor(
    readonly path: string,
    readonly options: CsvReadOptions,
  ) {}

  /** Checks the file's first bytes and resolves delimiter and header; throws WholeFileError. */
  async open(): Promise<CsvLayout> {
    const fh = await open(this.path, 'r');
    let sample: Buffer;
    try {
      const st = await fh.stat();
      this.stamp = { size: st.size, mtimeMs: st.mtimeMs };
      const expected = this.options.expect;
      if (expected && !sameStamp(expected, this.stamp)) {
        throw new FileChangedError('after it was claimed', expected, this.stamp);
      }
      this.size = st.size;
      const buf = Buffer.alloc(Math.min(SAMPLE_BYTES, this.size));
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      sample = buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
    const complete = sample.length >= this.size;
    const firstLine = checkSample(sample, complete);
    this.bomBytes = sample.length - withoutBom(sample).length;
    sample = sample.subarray(this.bomBytes);
    const quote = this.options.quote ?? '"';
    const auto = !this.options.delimiter || this.options.delimiter === 'auto';
    const delimiter = auto ? guessDelimiter(firstLine, quote) : this.options.delimiter!;

    if (this.options.columns?.length) {
      this.header = configuredHeader(this.options.columns);
      this.layout = { delimiter, quote, names: this.header.names };
      return this.layout;
    }
    const records = this.sampleRecords(sample, delimiter, quote, complete);
    const [head, first] = records.filter((r) => !isBlankRow(r.values));
    if (!head) {
      const why = records.error
        ? `its first line cannot be parsed (${records.error})`
        : `its header does not end within the first ${SAMPLE_BYTES} bytes`;
      throw new WholeFileError('header', `the file has no usable header: ${why}`, 1);
    }
    const headerLine = 1 + lineBreaks(sample.subarray(0, head.start));
    const headerBytes = withoutEnding(sample.subarray(head.start, head.end));
    if (!isUtf8(headerBytes)) {
      throw new WholeFileError(
        'undecodable',
        `line ${headerLine} (the header) is not valid UTF-8: save the file as UTF-8 and drop it again`,
        headerLine,
      );
    }
    this.header = resolveHeader(head.values.map(decode), headerLine, first?.values);
    this.layout = {
      delimiter,
      quote,
      names: this.header.names,
      header: headerBytes.toString('utf8'),
      headerLine,
    };
    return this.layout;
  }

  /**
   * The sample's records with their byte ranges; the last one is dropped when the
   * sample is not the whole file (the cut may fall inside it).
   */
  private sampleRecords(sample: Buffer, delimiter: string, quote: string, complete: boolean) {
    const out: Array<{ values: string[]; start: number; end: number }> & { error?: string } = [];
    let start = 0;
    try {
      parseSync(sample, {
        ...parserOptions(delimiter, quote),
        on_record: (values: string[], ctx: { bytes: number }) => {
          out.push({ values, start, end: ctx.bytes });
          start = ctx.bytes;
          return null;
        },
      });
      if (!complete) out.pop();
    } catch (err) {
      // records before the error were taken; a sample may also end inside a quoted field
      out.error = (err as Error).message;
    }
    return out;
  }

  /**
   * The batches of the file in order. `skip(batch)` → true: the batch is counted but
   * not built (it was committed before: a resumed file).
   */
  async *read(skip: (batch: number) => boolean = () => false): AsyncGenerator<FileBatch> {
    if (!this.layout || !this.header) await this.open();
    const layout = this.layout!;
    const names = this.header!.names;
    const batchSize = Math.max(1, Math.floor(this.options.batchSize));
    const maxRecord = this.options.maxRecordBytes ?? MAX_RECORD_BYTES;
    const maxLine = Math.max(maxRecord, this.options.maxLineBytes ?? MAX_LINE_BYTES);
    const tooLongLine = () =>
      new WholeFileError(
        'long-line',
        `line ${line} is longer than ${maxLine} bytes without a line break: no CSV record is that long (is it a CSV file?)`,
        line,
      );

    let headerPending = this.header!.fromFile;
    let line = 1;
    let pos = this.bomBytes; // file offset where the next record starts
    let bufStart = pos; // file offset of buf[0]
    let buf: Buffer = Buffer.alloc(0);
    let parsedTo = 0; // offset up to which the current parser has been fed
    let failure: CsvError | undefined;
    let current: FileRecord[] = [];
    let currentBatch = 0;
    let currentSkipped = false;
    const ready: FileBatch[] = [];

    const close = (last: boolean) => {
      if (!currentSkipped && current.length) {
        ready.push({
          batch: currentBatch,
          records: current,
          last,
          lineStart: current[0].line_no,
          lineEnd: current[current.length - 1].line_no,
        });
      }
      current = [];
    };

    const addRecord = (make: () => FileRecord) => {
      const index = this.rowsRead++;
      const batch = Math.floor(index / batchSize);
      if (index % batchSize === 0) {
        if (index > 0) close(false);
        currentBatch = batch;
        currentSkipped = skip(batch);
        this.batches = batch + 1;
      }
      if (!currentSkipped) current.push(make());
    };

    const onRecord = (values: string[], end: number) => {
      const span = buf.subarray(pos - bufStart, end - bufStart);
      const recordLine = line;
      line += lineBreaks(span);
      pos = end;
      if (isBlankRow(values)) {
        this.rowsSkipped++;
        return;
      }
      if (headerPending) {
        headerPending = false;
        return;
      }
      addRecord(() => toRecord(names, values, recordLine, withoutEnding(span)));
    };

    /** The line that opened a never-closed quote becomes an error record; parsing restarts after it. */
    const recover = (err: CsvError) => {
      const at = pos - bufStart;
      const end = endOfLine(buf, at);
      const span = buf.subarray(at, end);
      const recordLine = line;
      line += lineBreaks(span);
      pos = bufStart + end;
      const raw = withoutEnding(span);
      if (raw.toString('latin1').trim() === '') this.rowsSkipped++;
      else {
        const message =
          raw.length > maxRecord
            ? tooLong(recordLine, maxRecord)
            : `line ${recordLine} could not be parsed: ${
                err.code === 'CSV_MAX_RECORD_SIZE'
                  ? `a quote opened on line ${recordLine} is not closed within ${maxRecord} bytes`
                  : `a quote opened on line ${recordLine} is never closed before the end of the file`
              }`;
        if (headerPending) throw new WholeFileError('header', message, recordLine);
        addRecord(() => ({ line_no: recordLine, raw, error: message }));
      }
    };

    let parser: Parser;
    const newParser = () => {
      failure = undefined;
      const base = pos;
      parser = parse({
        ...parserOptions(layout.delimiter, layout.quote),
        skip_empty_lines: false,
        skip_records_with_error: true,
        max_record_size: maxRecord,
        on_record: (values: string[], ctx: { bytes: number }) => {
          onRecord(values, base + ctx.bytes);
          return null;
        },
        on_skip: (err: CsvError | undefined) => {
          failure = err;
        },
      });
      parser.resume();
      parsedTo = pos;
    };
    const endings = new WeakMap<Parser, Promise<void>>();
    const finish = (p: Parser) => {
      let ending = endings.get(p);
      if (!ending) {
        ending = new Promise<void>((resolve) => {
          p.once('end', resolve);
          p.once('error', () => resolve());
          p.end();
        });
        endings.set(p, ending);
      }
      return ending;
    };

    /**
     * Feeds the parser what it has not seen; after a failure, recovers (and feeds again)
     * once the failed line's end has been read — a line longer than a chunk (a 10 MB
     * line) waits for the chunks that end it, and becomes one error record.
     */
    let stalled: CsvError | undefined;
    const feed = async (eof: boolean) => {
      for (;;) {
        const end = bufStart + buf.length;
        if (!stalled) {
          if (parsedTo < end) {
            parser.write(buf.subarray(parsedTo - bufStart));
            parsedTo = end;
          }
          if (eof) await finish(parser);
          if (!failure) return;
          stalled = failure;
          if (!eof) await finish(parser);
        }
        if (pos >= end) return;
        const at = pos - bufStart;
        const ends = lineEnds(buf, at);
        if ((ends ? endOfLine(buf, at) : buf.length) - at > maxLine) throw tooLongLine();
        if (!ends && !eof) return;
        const failed = stalled;
        stalled = undefined;
        recover(failed);
        if (eof && pos >= end) return;
        newParser();
      }
    };

    newParser();
    const fh = await open(this.path, 'r');
    const stream = fh.createReadStream({
      start: this.bomBytes,
      highWaterMark: this.options.chunkBytes ?? 256 * 1024,
      autoClose: false,
    });
    try {
      // the chunks of a line longer than a chunk, gathered until its end is read, then joined once
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const take = (chunk?: Buffer) => {
        const keep = buf.subarray(pos - bufStart);
        bufStart = pos;
        const parts = [keep, ...pending, ...(chunk ? [chunk] : [])].filter((b) => b.length);
        buf = parts.length === 1 ? parts[0] : Buffer.concat(parts);
        pending = [];
        pendingBytes = 0;
        parsedTo = Math.max(parsedTo, bufStart);
      };
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        this.bytesRead += chunk.length;
        if (stalled && !lineEnds(chunk, 0)) {
          pending.push(chunk);
          pendingBytes += chunk.length;
          if (bufStart + buf.length - pos + pendingBytes > maxLine) throw tooLongLine();
          continue;
        }
        take(chunk);
        await feed(false);
        while (ready.length) yield ready.shift()!;
      }
      if (pending.length) take();
      // the file handle still reads the same file when it was renamed meanwhile
      const st = await fh.stat();
      const now = { size: st.size, mtimeMs: st.mtimeMs };
      if (!sameStamp(now, this.stamp) || this.bomBytes + this.bytesRead !== this.stamp.size) {
        throw new FileChangedError('while it was read', this.stamp, now);
      }
      await feed(true);
      if (pos < bufStart + buf.length) {
        // bytes after the last record csv-parse reported (never expected): keep them as one error record
        const rest = buf.subarray(pos - bufStart);
        if (rest.toString('latin1').trim() !== '') {
          const recordLine = line;
          addRecord(() => ({
            line_no: recordLine,
            raw: withoutEnding(rest),
            error: `line ${recordLine} could not be parsed`,
          }));
        }
      }
      close(true);
      while (ready.length) yield ready.shift()!;
    } finally {
      stream.destroy();
      await fh.close();
    }
    if (this.rowsRead === 0) {
      throw new WholeFileError(
        'empty',
        this.header!.fromFile && !headerPending
          ? 'the file has a header but no data rows'
          : 'the file has only blank lines',
      );
    }
  }
}
