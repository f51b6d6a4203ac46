/**
 * What validate does with one batch, without Node-RED: choose the rule set (the node's,
 * `msg.profile`, or `auto` by the batch's columns), compile it once, and split the
 * batch into silver rows and quarantine rows.
 */
import { compileRules, rejectAll, unpack, type CompiledRules, type RecordError } from './compile';
import { closestProfile, detectProfile, PROFILES } from './profiles';
import type { QuarantineRow } from './quarantine-files';
import { silverRows, type SilverRow } from './silver-rows';

export interface ValidatedBatch {
  /** `silver.<table>`, or null when no rule set fitted (auto). */
  table: string | null;
  ruleVersion: string;
  /** Valid records (a long-format record gives several silver rows). */
  valid: number;
  silver: SilverRow[];
  quarantine: QuarantineRow[];
}

/**
 * A value as PostgreSQL's jsonb can keep it (`silver.quarantine`'s record and errors):
 * jsonb cannot hold a NUL character, so each becomes U+FFFD, in keys too (bronze keeps
 * the bytes as received).
 */
export function storable(value: unknown): unknown {
  if (typeof value === 'string')
    return value.includes('\u0000') ? value.replaceAll('\u0000', '\ufffd') : value;
  if (Array.isArray(value)) return value.map(storable);
  if (value && typeof value === 'object' && !(value instanceof Date) && !Buffer.isBuffer(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [storable(k), storable(v)]));
  }
  return value;
}

export class Validator {
  private readonly compiled = new Map<string, CompiledRules>();

  /** `profile`: a built-in name, `auto`, or `custom` (then `customRules` is the JSON). */
  constructor(
    private readonly profile: string,
    private readonly customRules: string,
  ) {
    if (profile !== 'auto') this.rulesFor(profile);
  }

  private rulesFor(profile: string): CompiledRules {
    let c = this.compiled.get(profile);
    if (!c) {
      if (profile === 'custom') c = compileRules(JSON.parse(this.customRules || '{}'));
      else if (PROFILES[profile]) c = compileRules(PROFILES[profile]);
      else
        throw new Error(
          `unknown profile "${profile}" (built in: ${Object.keys(PROFILES).join(', ')}, or auto, or custom)`,
        );
      this.compiled.set(profile, c);
    }
    return c;
  }

  /** The rule set for a batch, or why none fits (auto) and the columns missing, if known. */
  private choose(
    profile: unknown,
    records: readonly unknown[],
  ): CompiledRules | { reason: string; field: string } {
    const name = typeof profile === 'string' && profile ? profile : this.profile;
    if (name !== 'auto') return this.rulesFor(name);
    // the columns of the first record that could be read (an unreadable one has none)
    let first: ReturnType<typeof unpack> | undefined;
    for (const record of records) {
      const r = unpack(record);
      if (r.error === undefined) {
        first = r;
        break;
      }
    }
    if (!first) return this.rulesFor('iot-temp');
    const columns = Object.keys(first.fields);
    const found = detectProfile(columns);
    if (found) return this.rulesFor(found);
    const closest = closestProfile(columns);
    const needs = closest?.missing.length
      ? `; the closest, ${closest.name}, needs ${closest.missing.join(', ')}`
      : '';
    return {
      reason: `no built-in profile has the columns of this batch (${columns.slice(0, 8).join(', ')})${needs}: choose one, or write a custom rule set`,
      field: closest?.missing.join(',') ?? '',
    };
  }

  validate(records: readonly unknown[], profile?: unknown, sourceName?: string): ValidatedBatch {
    const rules = this.choose(profile, records);
    const fits = !('reason' in rules);
    const out = fits
      ? rules.validate(records)
      : { valid: [], invalid: rejectAll(records, rules.reason, rules.field) };
    const ruleVersion = fits ? rules.rules.version : 'auto';
    return {
      table: fits ? `silver.${rules.rules.table}` : null,
      ruleVersion,
      valid: out.valid.length,
      silver: fits ? silverRows(rules.rules, out.valid) : [],
      quarantine: out.invalid.map((r) => ({
        ...(r.line !== undefined ? { line_no: r.line } : {}),
        ...(r.key !== undefined ? { source_key: r.key } : {}),
        source_name: sourceName ?? null,
        record: storable(r.input) as Record<string, unknown>,
        errors: storable(r.errors) as RecordError[],
        rule_version: ruleVersion,
      })),
    };
  }
}
