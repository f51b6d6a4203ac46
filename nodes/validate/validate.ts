import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { compactNumber, throttledStatus } from '../../lib/status';
import { compileRules, type CompiledRules, type InvalidRecord } from '../../lib/validate/compile';
import { PROFILES } from '../../lib/validate/profiles';
import { silverRows } from '../../lib/validate/silver-rows';

interface ValidateDef extends NodeDef {
  profile: string;
  rules: string;
}

type Msg = NodeMessage & { profile?: unknown; source?: { name?: string } };

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

    /** The rule set of a message: `msg.profile` (a built-in name) or the node's own. */
    const rulesFor = (profile: unknown): CompiledRules => {
      const name = typeof profile === 'string' && profile ? profile : def.profile || 'iot-temp';
      let c = compiled.get(name);
      if (!c) {
        if (name === 'custom') c = compileRules(JSON.parse(def.rules || '{}'));
        else if (PROFILES[name]) c = compileRules(PROFILES[name]);
        else
          throw new Error(
            `unknown profile "${name}" (built in: ${Object.keys(PROFILES).join(', ')}, or custom)`,
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
        const rules = rulesFor(msg.profile);
        const records = Array.isArray(msg.payload) ? msg.payload : [msg.payload];
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
