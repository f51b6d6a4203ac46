/**
 * The record-level faults: how one reading's fields are broken so that a validator
 * using the built-in profiles must reject it, with a label saying what was done.
 */
import type { Random } from './random';
import type { SimRecord } from './readings';
import { SCHEMA_RULES, SIM_HEADERS, type SimSchema } from './schemas';

export interface Corruption {
  record: SimRecord;
  field?: string;
  detail: string;
  text?: string;
}

const shown = (value: unknown) => (typeof value === 'string' ? JSON.stringify(value) : String(value));

/** A key field emptied. */
export function nullKey(schema: SimSchema, record: SimRecord, random: Random): Corruption {
  const field = random.pick(SCHEMA_RULES[schema].keys);
  return {
    record: { ...record, [field]: null },
    field,
    detail: `${field} = null (a key field, was ${shown(record[field])})`,
  };
}

/** A bounded number well outside its range: 20–70 % of the range beyond a bound. */
export function outOfRange(schema: SimSchema, record: SimRecord, random: Random): Corruption {
  const { column, min, max } = random.pick(SCHEMA_RULES[schema].numeric);
  const beyond = (max - min) * (0.2 + 0.5 * random.next());
  const value = random.next() < 0.5 ? Math.round(max + beyond) : Math.round(min - beyond);
  return {
    record: { ...record, [column]: value },
    field: column,
    detail: `${column} = ${value} (range ${min}..${max})`,
  };
}

/** A number written as text that is not a number, the way broken firmware writes them. */
export function wrongType(schema: SimSchema, record: SimRecord, random: Random): Corruption {
  const { column } = random.pick(SCHEMA_RULES[schema].numeric);
  const was = record[column];
  const value = random.pick(['ERR', `${String(was)}C`, 'NaN', '#VALUE!', `~${String(was)}`]);
  return {
    record: { ...record, [column]: value },
    field: column,
    detail: `${column} = ${JSON.stringify(value)} (not a number)`,
  };
}

/** A CSV field: quoted only when it holds the delimiter, a quote or a line break. */
export function csvField(value: string | number | null | undefined, delimiter = ','): string {
  const text = value === null || value === undefined ? '' : String(value);
  return text.includes(delimiter) || /["\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The CSV line of a record written with `;` between its fields instead of `,`: a
 * single field for a `,` reader, so the other columns are missing.
 */
export function malformedCsv(schema: SimSchema, record: SimRecord): string {
  const joined = SIM_HEADERS[schema].map((c) => record[c] ?? '').join(';');
  return csvField(joined);
}

/** The JSON text of a record cut in the middle: no JSON parser accepts it. */
export function malformedJson(record: SimRecord): string {
  const text = JSON.stringify(record);
  return text.slice(0, Math.max(1, Math.floor(text.length / 2)));
}

export function malformed(schema: SimSchema, record: SimRecord): Corruption {
  return {
    record,
    text: malformedCsv(schema, record),
    detail: 'unparseable rendering (CSV: fields separated by ";"; JSON: text cut in the middle)',
  };
}
