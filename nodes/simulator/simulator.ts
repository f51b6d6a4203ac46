import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { resolveFolder } from '../../lib/files/folders';
import { listOf, numberOr, textOrEnv } from '../../lib/form-values';
import { RateMeter } from '../../lib/rate-meter';
import { parseFaultRates, type SimItem } from '../../lib/sim/faults';
import type { SimSchema } from '../../lib/sim/readings';
import { Simulator } from '../../lib/sim/simulator';
import { compactNumber, throttledStatus } from '../../lib/status';

interface SimulatorDef extends NodeDef {
  mode: 'files' | 'messages';
  schema: SimSchema;
  locations: string;
  rate: string | number;
  interval: string | number;
  folder: string;
  folderType?: string;
  topic: string;
  arrays: boolean;
  seed: string | number;
  faults: string;
  autoStart: boolean;
}

export = (RED: NodeAPI) => {
  function SimulatorNode(this: Node, def: SimulatorDef) {
    RED.nodes.createNode(this, def);
    const status = throttledStatus(this);
    const files = def.mode === 'files';
    const rate = new RateMeter();
    const writes = new Set<Promise<unknown>>();
    const abort = new AbortController();
    let sim: Simulator | undefined;
    let folder = '';
    let timer: NodeJS.Timeout | undefined;
    try {
      sim = new Simulator({
        mode: files ? 'files' : 'messages',
        schema: def.schema,
        locations: listOf(def.locations),
        rate: numberOr(def.rate, 1),
        seed: numberOr(def.seed, 1),
        faults: parseFaultRates(def.faults ?? ''),
        topic: def.topic || 'sensors/{device}/readings',
        arrays: Boolean(def.arrays),
      });
      if (files) {
        const env = (name: string) => RED.util.evaluateNodeProperty(name, 'env', this, {});
        const setting = textOrEnv(def.folder, def.folderType, env, 'folder');
        folder = resolveFolder(setting, 'landing', RED.settings.userDir ?? process.cwd());
      }
    } catch (err) {
      sim = undefined;
      status.set({ fill: 'red', shape: 'ring', text: (err as Error).message });
      this.error(`simulator: ${(err as Error).message}`);
    }

    const show = () => {
      const faults = Object.values(sim!.faultCounts).reduce((a, b) => a + b, 0) + sim!.totals.halfWritten;
      const counts = `${compactNumber(rate.total)} readings · ${compactNumber(faults)} faults`;
      status.set(
        timer
          ? { fill: 'green', shape: 'dot', text: `${compactNumber(rate.perSecond())}/s · ${counts}` }
          : { fill: 'grey', shape: 'ring', text: `stopped · ${counts}` },
      );
    };

    /** Sends the items: as messages, or as one file written the way a device writes it. */
    const emit = (items: SimItem[], send: (m: NodeMessage) => void) => {
      if (!items.length) return;
      rate.add(items.length);
      if (!files) {
        for (const m of sim!.messages(items)) send({ topic: m.topic, payload: m.payload, sim: m.sim });
        return;
      }
      const write = sim!.writeFile(items, folder, Date.now(), abort.signal).then(
        (written) => send({ topic: written.path, payload: written }),
        (err: Error) => this.error(`simulator: ${err.message}`, { topic: folder }),
      );
      writes.add(write);
      write.finally(() => writes.delete(write));
    };

    const tick = () => {
      emit(sim!.due(Date.now()), (m) => this.send(m));
      show();
    };
    const start = () => {
      if (timer) return;
      sim!.start(Date.now());
      const every = files ? Math.max(100, numberOr(def.interval, 5) * 1000) : Math.max(20, sim!.tickMs);
      timer = setInterval(tick, every);
      show();
    };
    const stop = (send: (m: NodeMessage) => void) => {
      clearInterval(timer);
      timer = undefined;
      emit(sim!.flush(), send);
      show();
    };

    if (sim && def.autoStart) start();

    this.on('input', (msg: NodeMessage, send, done) => {
      if (!sim) return done(new Error('simulator: its settings are not valid (see the node status)'));
      const command = msg.payload;
      if (command === 'start' || (command === 'toggle' && !timer)) start();
      else if (command === 'stop' || command === 'toggle') stop(send);
      else if (typeof command === 'number' && command > 0) emit(sim.burst(command, Date.now()), send);
      else
        return done(new Error(`simulator: msg.payload must be start, stop, toggle or a number of readings`));
      show();
      done();
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      clearInterval(timer);
      timer = undefined;
      abort.abort();
      Promise.allSettled([...writes]).then(() => {
        status.clear();
        done();
      });
    });
  }

  RED.nodes.registerType('medallion-simulator', SimulatorNode);

  RED.httpAdmin.post(
    '/medallion-simulator/:id/toggle',
    RED.auth.needsPermission('medallion-simulator.write'),
    (req, res) => {
      const node = RED.nodes.getNode(String(req.params.id));
      if (!node) return void res.sendStatus(404);
      node.receive({ payload: 'toggle' });
      res.sendStatus(200);
    },
  );
};
