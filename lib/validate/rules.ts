/**
 * Rule sets as data: what a valid record of a source looks like, field by field, and
 * how its text becomes typed values (missing-value markers, decimal commas, date
 * formats in a time zone, unit conversion, fields joined or constant). A rule set is
 * checked and compiled once (to a zod schema, see compile.ts) and applied per batch.
 */
import { z } from 'zod';

export const FIELD_TYPES = ['number', 'integer', 'string', 'timestamp', 'boolean'] as const;
export const CONVERSIONS = ['F->C', 'K->C', 'C->F', 'C->K'] as const;
/** Where valid records go: a built-in profile's typed table, or long-format `readings`. */
export const TABLES = ['temperature_readings', 'environment_readings', 'readings'] as const;

const fieldRule = z
  .object({
    /** The output field. */
    field: z.string().min(1),
    /** The input field it is read from (default: `field`). */
    from: z.string().min(1).optional(),
    /** Input fields joined with a space before parsing (e.g. a `Date` and a `Time` column). */
    join: z.array(z.string().min(1)).min(2).optional(),
    /** A constant value instead of an input field (e.g. a fixed location). */
    constant: z.union([z.string(), z.number()]).optional(),
    type: z.enum(FIELD_TYPES),
    required: z.boolean().default(false),
    min: z.number().optional(),
    max: z.number().optional(),
    enum: z.array(z.string()).min(1).optional(),
    /** Timestamp formats tried in order (ISO 8601 with an offset is always accepted). */
    formats: z.array(z.string().min(1)).optional(),
    /** Time zone of timestamps without an offset (IANA name; default: the rule set's). */
    timezone: z.string().optional(),
    /** Texts meaning "no value", e.g. `-200` or `NA`; the empty text always is. */
    missing: z.array(z.string()).optional(),
    /** `2,6` means 2.6. */
    decimalComma: z.boolean().optional(),
    convert: z.enum(CONVERSIONS).optional(),
    /** The unit of the value after conversion (for long-format silver). */
    unit: z.string().optional(),
    /** A measurement (a metric in gold), not a key, time or category. */
    metric: z.boolean().optional(),
  })
  .strict()
  .refine((r) => r.min === undefined || r.max === undefined || r.min <= r.max, {
    message: 'min is greater than max',
  })
  .refine((r) => [r.from, r.join, r.constant].filter((x) => x !== undefined).length <= 1, {
    message: 'give at most one of from, join and constant',
  });

export const ruleSetSchema = z
  .object({
    name: z.string().min(1),
    /** Changes whenever the rules change: quarantined rows are keyed by it. */
    version: z.string().min(1),
    timezone: z.string().default('UTC'),
    fields: z.array(fieldRule).min(1),
    /** Fields that identify a record (never null): the silver table's unique key. */
    key: z.array(z.string().min(1)).min(1),
    /**
     * Where valid records go: a typed table of their own (the built-in profiles), or
     * `readings`, one row per metric field, with the `time` and `location` fields.
     */
    table: z.enum(TABLES).default('readings'),
    time: z.string().min(1).default('ts'),
    location: z.string().min(1).default('location_id'),
  })
  .strict()
  .superRefine((s, ctx) => {
    const names = new Set<string>();
    for (const f of s.fields) {
      if (names.has(f.field))
        ctx.addIssue({ code: 'custom', message: `field "${f.field}" is defined twice` });
      names.add(f.field);
    }
    for (const k of s.key) {
      if (!names.has(k))
        ctx.addIssue({ code: 'custom', message: `key field "${k}" is not one of the fields` });
    }
    if (s.table === 'readings') {
      for (const f of [s.time, s.location]) {
        if (!names.has(f)) {
          ctx.addIssue({
            code: 'custom',
            message: `long-format readings need a field "${f}" (time and location)`,
          });
        }
      }
      if (!s.fields.some((f) => f.metric)) {
        ctx.addIssue({
          code: 'custom',
          message: 'long-format readings need at least one field with metric: true',
        });
      }
    }
  });

export type FieldRule = z.output<typeof fieldRule>;
export type RuleSet = z.output<typeof ruleSetSchema>;
export type RuleSetInput = z.input<typeof ruleSetSchema>;

export class RuleSetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuleSetError';
  }
}

/** Checks a rule set (from a profile or the node's form) and fills its defaults. */
export function parseRuleSet(input: unknown): RuleSet {
  const result = ruleSetSchema.safeParse(input);
  if (!result.success) {
    const first = result.error.issues[0];
    const where = first.path.length ? ` at ${first.path.join('.')}` : '';
    throw new RuleSetError(`invalid rule set${where}: ${first.message}`);
  }
  return result.data;
}
