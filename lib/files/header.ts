/**
 * From a CSV header line (or the columns a user configured for header-less files) to
 * the field names of each record, covering what real exports do: trailing delimiters
 * (empty names at the end), an unnamed column, and a header one name shorter than its
 * rows because the rows start with an unnamed row index (R's `write.csv`).
 */
import { WholeFileError } from './sniff';

/** The name given to a leading row index that the header does not name. */
export const ROW_INDEX = '_row';

const NUMBER = /^[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?$/;
const DATE = /^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}[:.]\d{2}.*)?$/;

function looksLikeData(name: string): boolean {
  return NUMBER.test(name) || DATE.test(name);
}

export interface Header {
  /** Field names by position; `undefined` for trailing positions that are dropped when empty. */
  names: string[];
  /** The file's header line was used (false when the columns were configured). */
  fromFile: boolean;
}

/**
 * Resolves the names. `line` is the header line's number (for messages); `firstRow`,
 * when known, is the first data row, used to recognise an unnamed leading row index.
 */
export function resolveHeader(fields: string[], line: number, firstRow?: string[]): Header {
  const trimmed = fields.map((f) => f.trim());
  while (trimmed.length > 1 && trimmed[trimmed.length - 1] === '') trimmed.pop();
  const named = trimmed.filter((n) => n !== '');
  if (!named.length) {
    throw new WholeFileError('no-header', `line ${line} should be the header but has no column names`, line);
  }
  const data = named.filter(looksLikeData);
  if (data.length * 2 >= named.length) {
    throw new WholeFileError(
      'no-header',
      `line ${line} looks like data, not a header (${named.slice(0, 4).join(', ')}): add a header line, or list the columns in the node's Columns option`,
      line,
    );
  }
  const names = trimmed.map((n, i) => n || `column_${i + 1}`);
  const firstValues = firstRow ? trimTrailingEmpty(firstRow) : undefined;
  if (firstValues && firstValues.length === names.length + 1) names.unshift(ROW_INDEX);
  const seen = new Map<string, number>();
  names.forEach((n, i) => {
    const before = seen.get(n);
    if (before !== undefined) {
      throw new WholeFileError(
        'header',
        `line ${line}: the header repeats the column "${n}" (columns ${before + 1} and ${i + 1}): rename one, or list the columns in the node's Columns option`,
        line,
      );
    }
    seen.set(n, i);
  });
  return { names, fromFile: true };
}

function trimTrailingEmpty(values: string[]): string[] {
  let n = values.length;
  while (n > 1 && values[n - 1].trim() === '') n--;
  return values.slice(0, n);
}

/** Names for header-less files, from the node's Columns option. */
export function configuredHeader(columns: string[]): Header {
  const names = columns.map((c) => c.trim());
  const seen = new Set<string>();
  for (const n of names) {
    if (!n) throw new WholeFileError('header', 'the Columns option has an empty name');
    if (seen.has(n)) throw new WholeFileError('header', `the Columns option repeats "${n}"`);
    seen.add(n);
  }
  return { names, fromFile: false };
}

/**
 * One record's fields by name. Values beyond the names are kept as `column_<n>`
 * (`_column_<n>` if the header has that name) unless empty (trailing delimiters);
 * missing trailing values are absent.
 */
export function toFields(names: readonly string[], values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const n = Math.min(names.length, values.length);
  for (let i = 0; i < n; i++) out[names[i]] = values[i];
  for (let i = n; i < values.length; i++) {
    if (values[i] === '') continue;
    let key = `column_${i + 1}`;
    while (key in out) key = `_${key}`; // a header may use the name itself: never overwrite a field
    out[key] = values[i];
  }
  return out;
}

/** True when every value is empty or whitespace: a blank or all-empty line, not stored. */
export function isBlankRow(values: readonly string[]): boolean {
  for (const v of values) if (v.trim() !== '') return false;
  return true;
}
