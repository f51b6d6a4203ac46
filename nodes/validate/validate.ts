import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { compactNumber, throttledStatus } from '../../lib/status';
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
          fill: invalid ? 'yellow' : 'green',
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
};
