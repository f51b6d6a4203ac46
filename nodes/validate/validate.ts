import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { compactNumber, throttledStatus } from '../../lib/status';
import { compileRules } from '../../lib/validate/compile';
import { PROFILES } from '../../lib/validate/profiles';
import { CONVERSIONS, FIELD_TYPES, parseRuleSet, TABLES } from '../../lib/validate/rules';
import { Validator } from '../../lib/validate/validator';

interface ValidateDef extends NodeDef {
  profile: string;
  rules: string;
}

type Msg = NodeMessage & { profile?: unknown; source?: { name?: string } };

export = (RED: NodeAPI) => {
  function Validate(this: Node, def: ValidateDef) {
    RED.nodes.createNode(this, def);
    const status = throttledStatus(this);
    let validator: Validator | undefined;
    let setupError: string | undefined;
    let valid = 0;
    let invalid = 0;
    try {
      validator = new Validator(def.profile || 'iot-temp', def.rules);
    } catch (err) {
      setupError = `rule set: ${(err as Error).message}`;
      status.set({ fill: 'red', shape: 'ring', text: setupError });
      this.error(`validate: ${setupError}`);
    }

    this.on('input', (msg: Msg, send, done) => {
      if (!validator) return done(new Error(`validate: ${setupError}`));
      try {
        const records = Array.isArray(msg.payload) ? msg.payload : [msg.payload];
        const out = validator.validate(records, msg.profile, msg.source?.name);
        valid += out.valid;
        invalid += out.quarantine.length;
        status.set({
          fill: 'green',
          shape: 'dot',
          text: `${compactNumber(valid)} valid · ${compactNumber(invalid)} invalid`,
        });
        send([
          { ...msg, payload: out.silver, silver: { table: out.table, ruleVersion: out.ruleVersion } },
          { ...msg, payload: out.quarantine, errors: out.quarantine.flatMap((r) => r.errors) },
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

  // the rule editor (validate.html): what it starts from and offers, and the runtime's verdict
  RED.httpAdmin.get(
    '/medallion-validate/profiles',
    RED.auth.needsPermission('medallion-validate.read'),
    (_req, res) => {
      res.json({
        profiles: Object.fromEntries(Object.entries(PROFILES).map(([name, p]) => [name, parseRuleSet(p)])),
        types: FIELD_TYPES,
        conversions: CONVERSIONS,
        tables: TABLES,
      });
    },
  );
  RED.httpAdmin.post(
    '/medallion-validate/check',
    RED.auth.needsPermission('medallion-validate.write'),
    (req, res) => {
      try {
        compileRules(req.body);
        res.json({ ok: true });
      } catch (err) {
        res.json({ ok: false, error: (err as Error).message });
      }
    },
  );
};
