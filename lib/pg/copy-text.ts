/**
 * Encoding JavaScript values into PostgreSQL's COPY text format, column by column.
 * The target column's type decides how a value is written (a Buffer into bytea as
 * hex, an object into jsonb as JSON, a Date into a timestamp as ISO 8601); the server
 * then parses the text exactly as it would a parameter, so type errors still come
 * from PostgreSQL with its own message.
 */

export type ColumnKind = 'bytea' | 'json' | 'timestamp' | 'boolean' | 'array' | 'other';

export const NULL_FIELD = '\\N';

const COPY_SPECIAL = /[\\\n\r\t]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Escapes backslash, newline, carriage return and tab for a COPY text field. */
export function escapeCopyText(text: string): string {
  return text.replace(COPY_SPECIAL, (c) => COPY_ESCAPES[c]);
}

export function kindOfType(typname: string, typcategory: string): ColumnKind {
  if (typcategory === 'A') return 'array';
  if (typname === 'bytea') return 'bytea';
  if (typname === 'json' || typname === 'jsonb') return 'json';
  if (typname === 'timestamptz' || typname === 'timestamp' || typname === 'date') return 'timestamp';
  if (typname === 'bool') return 'boolean';
  return 'other';
}

function dateText(date: Date): string {
  return Number.isNaN(date.getTime()) ? 'invalid date' : date.toISOString();
}

function scalarText(value: unknown): string {
  if (value instanceof Date) return dateText(value);
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    return String(value);
  }
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return JSON.stringify(value);
}

function arrayLiteral(values: readonly unknown[]): string {
  const items = values.map((v) => {
    if (v === null || v === undefined) return 'NULL';
    if (Array.isArray(v)) return arrayLiteral(v);
    return `"${scalarText(v).replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  });
  return `{${items.join(',')}}`;
}

/** The unescaped text PostgreSQL should receive for `value` in a column of `kind`; null for SQL NULL. */
export function fieldText(value: unknown, kind: ColumnKind): string | null {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case 'bytea': {
      const buf = Buffer.isBuffer(value)
        ? value
        : value instanceof Uint8Array
          ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
          : Buffer.from(scalarText(value), 'utf8');
      return `\\x${buf.toString('hex')}`;
    }
    case 'json':
      return JSON.stringify(value);
    case 'timestamp':
      if (typeof value === 'number') return dateText(new Date(value));
      return scalarText(value);
    case 'boolean':
      if (typeof value === 'boolean') return value ? 't' : 'f';
      return scalarText(value);
    case 'array':
      return Array.isArray(value) ? arrayLiteral(value) : scalarText(value);
    default:
      return scalarText(value);
  }
}

/** One COPY text field (escaped, or `\N`). */
export function copyField(value: unknown, kind: ColumnKind): string {
  // the most frequent fields, which never hold a character to escape: numbers and dates
  if (typeof value === 'number' && kind === 'other') return String(value);
  if (value instanceof Date && kind === 'timestamp') return dateText(value);
  const text = fieldText(value, kind);
  if (text === null) return NULL_FIELD;
  // bytea hex has one character to escape, its leading backslash: no need to scan the digits
  return kind === 'bytea' ? `\\${text}` : escapeCopyText(text);
}
