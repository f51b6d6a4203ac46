import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { compactNumber, throttledStatus } from '../../lib/status';
import { compileRules, type CompiledRules, type InvalidRecord } from '../../lib/validate/compile';
import { detectProfile, PROFILES } from '../../lib/validate/profiles';
import { silverRows } from '../../lib/validate/silver-rows';

interface ValidateDef extends NodeDef {
  profile: string;
  rules: string;
}

type Msg = NodeMessage & { profile?: unknown; source?: { name?: string } };

/** A record's input fields: a file record's `fields`, or the record itself (a reading). */
function fieldsOf(record: unknown): Record<string, unknown> {
  if (!record || typeof record !== 'object') return {};
  const fields = (record as { fields?: unknown }).fields;
  return fields && typeof fields === 'object'
    ? (fields as Record<string, unknown>)
    : (record as Record<string, unknown>);
}

/** Quarantine rows: the record as received, every error, the rule-set version. */
function quarantineRows(rules: CompiledRules, invalid: InvalidRecord[], source?: { name?: string }) {
  return invalid.map((r) => ({
    ...(r.line !== undefined ? { line_no: r.line } : {}),
    source_name: source?.name ?? null,
    record: r.input,
    errors: r.errors,
    rule_version: rules.rules.version,
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

    /**
     * The rule set of a message: `msg.profile` (a built-in name) or the node's own;
     * `auto` picks the built-in profile whose columns the batch's first record has.
     */
    const rulesFor = (profile: unknown, records: unknown[] = []): CompiledRules => {
      let name = typeof profile === 'string' && profile ? profile : def.profile || 'iot-temp';
      if (name === 'auto') {
        if (!records.length) return rulesFor('iot-temp');
        const columns = Object.keys(fieldsOf(records[0]));
        const found = detectProfile(columns);
        if (!found) {
          throw new Error(
            `no built-in profile has the columns of this batch (${columns.slice(0, 8).join(', ')}): choose one, or write a custom rule set`,
          );
        }
        name = found;
      }
      let c = compiled.get(name);
      if (!c) {
        if (name === 'custom') c = compileRules(JSON.parse(def.rules || '{}'));
        else if (PROFILES[name]) c = compileRules(PROFILES[name]);
        else
          throw new Error(
            `unknown profile "${name}" (built in: ${Object.keys(PROFILES).join(', ')}, or auto, or custom)`,
          );
        compiled.set(name, c);
      }
      return c;
    };
    try {
      rulesFor(undefined);
    } catch (err) {
      setupError = `rule set: ${(err as Error).message}`;
      status.set({ fill: 'red', shape: 'ring', text: setupError });
      this.error(`validate: ${setupError}`);
    }

    this.on('input', (msg: Msg, send, done) => {
      if (setupError) return done(new Error(`validate: ${setupError}`));
      try {
        const records = Array.isArray(msg.payload) ? msg.payload : [msg.payload];
        const rules = rulesFor(msg.profile, records);
        const out = rules.validate(records);
        valid += out.valid.length;
        invalid += out.invalid.length;
        status.set({
          fill: invalid ? 'yellow' : 'green',
          shape: 'dot',
          text: `${compactNumber(valid)} valid · ${compactNumber(invalid)} invalid`,
        });
        const table = `silver.${rules.rules.table}`;
        const errors = out.invalid.flatMap((r) => r.errors);
        send([
          {
            ...msg,
            payload: silverRows(rules.rules, out.valid),
            silver: { table, ruleVersion: rules.rules.version },
          },
          { ...msg, payload: quarantineRows(rules, out.invalid, msg.source), errors },
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
