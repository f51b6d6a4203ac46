import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { compactNumber, throttledStatus } from '../../lib/status';
import {
  compileRules,
  rejectAll,
  unpack,
  type CompiledRules,
  type InvalidRecord,
} from '../../lib/validate/compile';
import { detectProfile, PROFILES } from '../../lib/validate/profiles';
import { silverRows } from '../../lib/validate/silver-rows';

interface ValidateDef extends NodeDef {
  profile: string;
  rules: string;
}

type Msg = NodeMessage & { profile?: unknown; source?: { name?: string } };

/** Quarantine rows: the record as received, every error, the rule-set version. */
function quarantineRows(version: string, invalid: InvalidRecord[], source?: { name?: string }) {
  return invalid.map((r) => ({
    ...(r.line !== undefined ? { line_no: r.line } : {}),
    source_name: source?.name ?? null,
    record: r.input,
    errors: r.errors,
    rule_version: version,
  }));
}

export = (RED: NodeAPI) => {
  function Validate(this: Node, def: ValidateDef) {
    RED.nodes.createNode(this, def);
    const status = throttledStatus(this);
    const compiled = new Map<string, CompiledRules>();
    let setupError: string | undefined;
    let valid = 0;
    let invalid = 0;

    /** The rule set of a built-in profile, `custom` (the node's JSON) or the node's own. */
    const rulesFor = (profile: string): CompiledRules => {
      let c = compiled.get(profile);
      if (!c) {
        if (profile === 'custom') c = compileRules(JSON.parse(def.rules || '{}'));
        else if (PROFILES[profile]) c = compileRules(PROFILES[profile]);
        else
          throw new Error(
            `unknown profile "${profile}" (built in: ${Object.keys(PROFILES).join(', ')}, or auto, or custom)`,
          );
        compiled.set(profile, c);
      }
      return c;
    };

    /**
     * The rule set for a batch: `msg.profile` or the node's; `auto` picks the built-in
     * profile whose columns the batch's first record has, or says why none fits.
     */
    const choose = (profile: unknown, records: unknown[]): CompiledRules | string => {
      const name = typeof profile === 'string' && profile ? profile : def.profile || 'iot-temp';
      if (name !== 'auto') return rulesFor(name);
      if (!records.length) return rulesFor('iot-temp');
      const columns = Object.keys(unpack(records[0]).fields);
      const found = detectProfile(columns);
      return found
        ? rulesFor(found)
        : `no built-in profile has the columns of this batch (${columns.slice(0, 8).join(', ')}): choose one, or write a custom rule set`;
    };
    try {
      if (def.profile !== 'auto') rulesFor(def.profile || 'iot-temp');
    } catch (err) {
      setupError = `rule set: ${(err as Error).message}`;
      status.set({ fill: 'red', shape: 'ring', text: setupError });
      this.error(`validate: ${setupError}`);
    }

    this.on('input', (msg: Msg, send, done) => {
      if (setupError) return done(new Error(`validate: ${setupError}`));
      try {
        const records = Array.isArray(msg.payload) ? msg.payload : [msg.payload];
        const rules = choose(msg.profile, records);
        const out =
          typeof rules === 'string'
            ? { valid: [], invalid: rejectAll(records, rules) }
            : rules.validate(records);
        const version = typeof rules === 'string' ? 'auto' : rules.rules.version;
        valid += out.valid.length;
        invalid += out.invalid.length;
        status.set({
          fill: invalid ? 'yellow' : 'green',
          shape: 'dot',
          text: `${compactNumber(valid)} valid · ${compactNumber(invalid)} invalid`,
        });
        const silver =
          typeof rules === 'string'
            ? { table: null, ruleVersion: version }
            : { table: `silver.${rules.rules.table}`, ruleVersion: version };
        send([
          { ...msg, payload: typeof rules === 'string' ? [] : silverRows(rules.rules, out.valid), silver },
          {
            ...msg,
            payload: quarantineRows(version, out.invalid, msg.source),
            errors: out.invalid.flatMap((r) => r.errors),
          },
        ]);
        done();
      } catch (err) {
        status.set({ fill: 'red', shape: 'ring', text: (err as Error).message });
        done(new Error(`validate: ${(err as Error).message}`));
      }
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      status.clear();
      done();
    });
  }

  RED.nodes.registerType('medallion-validate', Validate);
};
