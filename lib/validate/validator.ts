/**
 * What validate does with one batch, without Node-RED: choose the rule set (the node's,
 * `msg.profile`, or `auto` by the batch's columns), compile it once, and split the
 * batch into silver rows and quarantine rows.
 */
import { compileRules, rejectAll, unpack, type CompiledRules } from './compile';
import { detectProfile, PROFILES } from './profiles';
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

  /** The rule set for a batch, or why none fits (auto). */
  private choose(profile: unknown, records: readonly unknown[]): CompiledRules | string {
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
    return found
      ? this.rulesFor(found)
      : `no built-in profile has the columns of this batch (${columns.slice(0, 8).join(', ')}): choose one, or write a custom rule set`;
  }

  validate(records: readonly unknown[], profile?: unknown, sourceName?: string): ValidatedBatch {
    const rules = this.choose(profile, records);
    const fits = typeof rules !== 'string';
    const out = fits ? rules.validate(records) : { valid: [], invalid: rejectAll(records, rules) };
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
        record: r.input,
        errors: r.errors,
        rule_version: ruleVersion,
      })),
    };
  }
}
