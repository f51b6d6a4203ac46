/**
 * A rule set compiled once into one zod schema, then applied to whole batches: each
 * record comes out typed and normalized with a quality score, or with every error it
 * has, named by line, field and rule.
 */
import { z } from 'zod';
import { assertTimeZone, compileDateFormat, parseTimestamp, type DateFormat } from './date-format';
import { parseRuleSet, RuleSetError, type FieldRule, type RuleSet } from './rules';

/** One reason a record is invalid. */
export interface RecordError {
  line?: number;
  field: string;
  rule: 'parse' | 'profile' | 'required' | 'type' | 'format' | 'min' | 'max' | 'enum' | 'empty';
  value: unknown;
  expected: string;
  message: string;
}

export type Typed = Record<string, string | number | boolean | Date | null>;

export interface ValidRecord {
  line?: number;
  /** The record's own source key (an MQTT reading's idempotency key); else the batch's. */
  key?: string;
  values: Typed;
  quality: number;
}

export interface InvalidRecord {
  line?: number;
  key?: string;
  /** The input fields as received. */
  input: Record<string, unknown>;
  errors: RecordError[];
}

export interface CompiledRules {
  rules: RuleSet;
  validate(records: readonly unknown[]): { valid: ValidRecord[]; invalid: InvalidRecord[] };
}

/** A value that failed to convert: zod's type check rejects it, and the issue keeps the text. */
class Unconverted {
  constructor(readonly text: string) {}
}

const TRUE = new Set(['true', '1', 'yes', 'y', 'on', 't']);
const FALSE = new Set(['false', '0', 'no', 'n', 'off', 'f']);

const CONVERT: Record<string, (v: number) => number> = {
  'F->C': (f) => ((f - 32) * 5) / 9,
  'K->C': (k) => k - 273.15,
  'C->F': (c) => (c * 9) / 5 + 32,
  'C->K': (c) => c + 273.15,
};

function expectedText(rule: FieldRule, formats: DateFormat[]): string {
  const bounds = [
    rule.min !== undefined ? `≥ ${rule.min}` : '',
    rule.max !== undefined ? `≤ ${rule.max}` : '',
  ].filter(Boolean);
  switch (rule.type) {
    case 'number':
    case 'integer': {
      const what = rule.type === 'integer' ? 'a whole number' : 'a number';
      return bounds.length ? `${what} ${bounds.join(' and ')}` : what;
    }
    case 'timestamp':
      return formats.length
        ? `a date as ${formats.map((f) => f.text).join(' or ')} (or ISO 8601 with an offset)`
        : 'an ISO 8601 timestamp with an offset';
    case 'boolean':
      return 'true or false';
    default:
      return rule.enum ? `one of ${rule.enum.join(', ')}` : 'text without NUL characters';
  }
}

/** The preprocessing of one field: text → typed value, null for "no value", Unconverted when it cannot be. */
function converter(rule: FieldRule, formats: DateFormat[], timeZone: string) {
  const missing = new Set(rule.missing ?? []);
  // a numeric marker also matches when written otherwise: -200 is -200,0 and -200.00
  const missingNumbers = new Set(
    (rule.missing ?? []).map((m) => Number(m.replace(',', '.'))).filter((n) => Number.isFinite(n)),
  );
  const convert = rule.convert ? CONVERT[rule.convert] : undefined;
  return (value: unknown): unknown => {
    if (value === undefined || value === null) return null;
    if (typeof value === 'string') {
      const text = value.trim();
      if (text === '' || missing.has(text)) return null;
      switch (rule.type) {
        case 'number':
        case 'integer': {
          const normal = rule.decimalComma ? text.replace(',', '.') : text;
          if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(normal)) return new Unconverted(text);
          const n = Number(normal);
          if (missingNumbers.has(n)) return null;
          return convert ? convert(n) : n;
        }
        case 'timestamp': {
          const t = parseTimestamp(text, formats, timeZone);
          return t === undefined ? new Unconverted(text) : new Date(t);
        }
        case 'boolean': {
          const lower = text.toLowerCase();
          return TRUE.has(lower) ? true : FALSE.has(lower) ? false : new Unconverted(text);
        }
        default:
          // PostgreSQL text cannot hold a NUL character
          return text.includes('\u0000') ? new Unconverted(text) : text;
      }
    }
    if (typeof value === 'number') {
      if (missingNumbers.has(value)) return null;
      if (rule.type === 'number' || rule.type === 'integer') return convert ? convert(value) : value;
      if (rule.type === 'timestamp') return new Date(value);
      if (rule.type === 'string') return String(value);
    }
    return value;
  };
}

function fieldSchema(rule: FieldRule, required: boolean, convert: (value: unknown) => unknown): z.ZodType {
  let base: z.ZodType;
  switch (rule.type) {
    case 'number':
    case 'integer': {
      let n = rule.type === 'integer' ? z.int() : z.number();
      if (rule.min !== undefined) n = n.min(rule.min);
      if (rule.max !== undefined) n = n.max(rule.max);
      base = n;
      break;
    }
    case 'timestamp':
      base = z.date();
      break;
    case 'boolean':
      base = z.boolean();
      break;
    default:
      base = rule.enum ? z.enum(rule.enum as [string, ...string[]]) : z.string();
  }
  return z.preprocess(convert, required ? base : base.nullable());
}

function inputOf(rule: FieldRule, fields: Record<string, unknown>): unknown {
  if (rule.constant !== undefined) return rule.constant;
  if (rule.join) {
    const parts = rule.join.map((f) => fields[f]);
    if (parts.some((p) => p === undefined || p === null || String(p).trim() === '')) return null;
    return parts.map((p) => String(p).trim()).join(' ');
  }
  return fields[rule.from ?? rule.field];
}

/**
 * Quality in 0..1: half completeness (the share of optional fields, keys and constants
 * aside, that have a value),
 * half plausibility (the share of bounded numbers that are not pinned within 1 % of a
 * bound, where stuck and saturated sensors sit).
 */
function qualityOf(rules: FieldRule[], keys: Set<string>, values: Typed): number {
  const optional = rules.filter((r) => !r.required && !keys.has(r.field) && r.constant === undefined);
  const completeness = optional.length
    ? optional.filter((r) => values[r.field] !== null).length / optional.length
    : 1;
  const bounded = rules.filter(
    (r) => (r.type === 'number' || r.type === 'integer') && r.min !== undefined && r.max !== undefined,
  );
  const present = bounded.filter((r) => typeof values[r.field] === 'number');
  const plausible = present.filter((r) => {
    const v = values[r.field] as number;
    const margin = (r.max! - r.min!) * 0.01;
    return v > r.min! + margin && v < r.max! - margin;
  });
  const plausibility = present.length ? plausible.length / present.length : 1;
  return Math.round((0.5 * completeness + 0.5 * plausibility) * 1000) / 1000;
}

/**
 * What a record of a batch is: a file or MQTT record (`{line_no, fields, error?,
 * source_key?}`) or plain fields (a reading).
 */
export function unpack(record: unknown): {
  line?: number;
  key?: string;
  fields: Record<string, unknown>;
  error?: string;
} {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) {
    return {
      fields: { value: record },
      error: `the record is ${record === null ? 'null' : typeof record}, not an object`,
    };
  }
  const r = record as { line_no?: unknown; fields?: unknown; error?: unknown; source_key?: unknown };
  const key = typeof r.source_key === 'string' ? { key: r.source_key } : {};
  if (r.fields && typeof r.fields === 'object' && typeof r.line_no === 'number') {
    return {
      line: r.line_no,
      ...key,
      fields: r.fields as Record<string, unknown>,
      error: r.error as string | undefined,
    };
  }
  if (typeof r.line_no === 'number' && typeof r.error === 'string') {
    return { line: r.line_no, ...key, fields: {}, error: r.error };
  }
  return { fields: record as Record<string, unknown> };
}

export function compileRules(input: unknown): CompiledRules {
  const rules = parseRuleSet(input);
  const formatsOf = new Map<string, DateFormat[]>();
  const shape: Record<string, z.ZodType> = {};
  const converters = new Map<string, (value: unknown) => unknown>();
  for (const rule of rules.fields) {
    const timeZone = rule.timezone ?? rules.timezone;
    try {
      assertTimeZone(timeZone);
      formatsOf.set(rule.field, (rule.formats ?? []).map(compileDateFormat));
    } catch (err) {
      throw new RuleSetError(`field "${rule.field}": ${(err as Error).message}`);
    }
    const required = rule.required || rules.key.includes(rule.field);
    converters.set(rule.field, converter(rule, formatsOf.get(rule.field)!, timeZone));
    shape[rule.field] = fieldSchema(rule, required, converters.get(rule.field)!);
  }
  const schema = z.object(shape);
  const byField = new Map(rules.fields.map((r) => [r.field, r]));
  const keys = new Set(rules.key);
  // long format stores one row per metric with a value: a record with none would leave no trace
  const metrics = rules.table === 'readings' ? rules.fields.filter((f) => f.metric).map((f) => f.field) : [];
  const noValues = (line: number | undefined, values: Typed): RecordError | undefined => {
    if (!metrics.length || metrics.some((m) => values[m] !== null && values[m] !== undefined))
      return undefined;
    const message = `no measurement has a value (${metrics.join(', ')} are all missing)`;
    return {
      line,
      field: metrics.join(','),
      rule: 'empty',
      value: null,
      expected: 'a value in at least one metric',
      message: line !== undefined ? `line ${line}: ${message}` : message,
    };
  };

  const describe = (
    line: number | undefined,
    issue: z.core.$ZodIssue,
    inputs: Record<string, unknown>,
  ): RecordError => {
    const field = String(issue.path[0]);
    const rule = byField.get(field)!;
    const value = inputs[field];
    const expected = expectedText(rule, formatsOf.get(field)!);
    let name: RecordError['rule'];
    // no value at all, or a missing-value marker, in a field that must have one
    if (converters.get(field)!(value) === null) name = 'required';
    else if (issue.code === 'too_small') name = 'min';
    else if (issue.code === 'too_big') name = 'max';
    else if (issue.code === 'invalid_value') name = 'enum';
    else name = rule.type === 'timestamp' ? 'format' : 'type';
    const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
    const message =
      name === 'required'
        ? `${field} is required${keys.has(field) ? ' (a key field)' : ''} but has no value`
        : `${field} is ${shown}, expected ${expected}`;
    return {
      line,
      field,
      rule: name,
      value,
      expected,
      message: line !== undefined ? `line ${line}: ${message}` : message,
    };
  };

  return {
    rules,
    validate(records) {
      const valid: ValidRecord[] = [];
      const invalid: InvalidRecord[] = [];
      for (const record of records) {
        const { line, key, fields, error } = unpack(record);
        const at = key === undefined ? { line } : { line, key };
        if (error !== undefined) {
          invalid.push({
            ...at,
            input: fields,
            errors: [
              { line, field: '', rule: 'parse', value: undefined, expected: 'a CSV record', message: error },
            ],
          });
          continue;
        }
        const inputs: Record<string, unknown> = {};
        for (const rule of rules.fields) inputs[rule.field] = inputOf(rule, fields);
        const result = schema.safeParse(inputs);
        if (result.success) {
          const values = result.data as Typed;
          const empty = noValues(line, values);
          if (empty) invalid.push({ ...at, input: fields, errors: [empty] });
          else valid.push({ ...at, values, quality: qualityOf(rules.fields, keys, values) });
        } else {
          invalid.push({
            ...at,
            input: fields,
            errors: result.error.issues.map((i) => describe(line, i, inputs)),
          });
        }
      }
      return { valid, invalid };
    },
  };
}

/**
 * Every record of a batch invalid for one reason (no rule set fits it; `field`: the
 * columns it lacks, when known): kept in quarantine, not lost.
 */
export function rejectAll(records: readonly unknown[], reason: string, field = ''): InvalidRecord[] {
  return records.map((record) => {
    const { line, key, fields } = unpack(record);
    return {
      line,
      ...(key === undefined ? {} : { key }),
      input: fields,
      errors: [
        {
          line,
          field,
          rule: 'profile',
          value: undefined,
          expected: 'the columns of a rule set',
          message: line !== undefined ? `line ${line}: ${reason}` : reason,
        },
      ],
    };
  });
}
