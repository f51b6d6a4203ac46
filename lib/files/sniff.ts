/**
 * What a file is, judged from its first bytes before any of it is parsed: empty,
 * binary (a known magic number, or too many control bytes for text), text in an
 * encoding other than UTF-8 (UTF-16/32), or CSV text whose delimiter is guessed from
 * the first non-blank line.
 */

export type WholeFileRule = 'empty' | 'binary' | 'undecodable' | 'no-header' | 'header' | 'long-line';

/** A file that cannot be loaded at all: it goes to quarantine with this rule and message. */
export class WholeFileError extends Error {
  constructor(
    readonly rule: WholeFileRule,
    message: string,
    readonly line?: number,
  ) {
    super(message);
    this.name = 'WholeFileError';
  }
}

const MAGIC: Array<[string, number[]]> = [
  ['a zip archive (xlsx, docx, …)', [0x50, 0x4b, 0x03, 0x04]],
  ['a gzip archive', [0x1f, 0x8b]],
  ['a PDF document', [0x25, 0x50, 0x44, 0x46, 0x2d]],
  ['a PNG image', [0x89, 0x50, 0x4e, 0x47]],
  ['a JPEG image', [0xff, 0xd8, 0xff]],
  ['a GIF image', [0x47, 0x49, 0x46, 0x38]],
  ['an SQLite database', [...Buffer.from('SQLite format 3')]],
  ['a Parquet file', [0x50, 0x41, 0x52, 0x31]],
  ['an ELF executable', [0x7f, 0x45, 0x4c, 0x46]],
  ['a 7-Zip archive', [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]],
  ['an old Excel (OLE2) workbook', [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]],
];

const UTF16_32: Array<[string, number[]]> = [
  ['UTF-32 LE', [0xff, 0xfe, 0x00, 0x00]],
  ['UTF-32 BE', [0x00, 0x00, 0xfe, 0xff]],
  ['UTF-16 LE', [0xff, 0xfe]],
  ['UTF-16 BE', [0xfe, 0xff]],
];

/** Share of control bytes (not tab, LF, FF, CR) from which a sample is binary, not text. */
const CONTROL_SHARE = 0.1;

function startsWith(sample: Buffer, bytes: number[]): boolean {
  return sample.length >= bytes.length && bytes.every((b, i) => sample[i] === b);
}

function isControl(b: number): boolean {
  return (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0c && b !== 0x0d) || b === 0x7f;
}

export const DELIMITERS = [',', ';', '\t', '|'] as const;

/** The candidate delimiter found most often outside quotes in `line`; `,` when none is. */
export function guessDelimiter(line: string, quote = '"'): string {
  const counts = new Map<string, number>();
  let quoted = false;
  for (const c of line) {
    if (quote && c === quote) quoted = !quoted;
    else if (!quoted && (DELIMITERS as readonly string[]).includes(c))
      counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let best = ',';
  let most = 0;
  for (const d of DELIMITERS) {
    const n = counts.get(d) ?? 0;
    if (n > most) [best, most] = [d, n];
  }
  return best;
}

/**
 * Throws a WholeFileError when the sample (the file's first bytes; `complete` when
 * it is the whole file) cannot be CSV text; returns the first non-blank line.
 */
export function checkSample(sample: Buffer, complete: boolean): string {
  if (!sample.length) throw new WholeFileError('empty', 'the file is empty (0 bytes)');
  for (const [name, bytes] of UTF16_32) {
    if (startsWith(sample, bytes)) {
      throw new WholeFileError('undecodable', `the file is ${name} text: save it as UTF-8 and drop it again`);
    }
  }
  for (const [name, bytes] of MAGIC) {
    if (startsWith(sample, bytes)) throw new WholeFileError('binary', `the file is ${name}, not CSV text`);
  }
  let control = 0;
  for (const b of sample) if (isControl(b)) control++;
  if (control / sample.length >= CONTROL_SHARE) {
    throw new WholeFileError(
      'binary',
      `the file is binary, not CSV text (${Math.round((100 * control) / sample.length)} % control bytes in its first ${sample.length} bytes)`,
    );
  }
  const text = sample.toString('latin1').replace(/^\xef\xbb\xbf/, '');
  // the first line with more than delimiters and spaces on it
  const first = text.split(/\r\n|\n|\r/).find((l) => l.replace(/[\s,;|]/g, '') !== '');
  if (first === undefined) {
    if (complete) throw new WholeFileError('empty', 'the file has only blank lines');
    throw new WholeFileError('empty', `the first ${sample.length} bytes of the file are blank lines`);
  }
  return first;
}
