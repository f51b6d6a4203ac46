import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { listOf } from '../../lib/form-values';
import { Aggregator } from '../../lib/gold/aggregator';
import { parseWindowSizes } from '../../lib/gold/windows';
import type { RetryInfo } from '../../lib/retry';
import { compactNumber, retryingStatus, throttledStatus } from '../../lib/status';
import type { PgConfigNode } from '../pg-config/pg-config-node';

interface AggregateDef extends NodeDef {
  pgConfig: string;
  windows: string;
  metrics: string;
  percentiles: boolean;
}

type Msg = NodeMessage & { silver?: { table?: string | null }; pg?: { table?: string } };

export = (RED: NodeAPI) => {
  function Aggregate(this: Node, def: AggregateDef) {
    RED.nodes.createNode(this, def);
    const config = RED.nodes.getNode(def.pgConfig) as PgConfigNode | null;
    const service = config?.service;
    const status = throttledStatus(this);
    const abort = new AbortController();
    const retrying = (info: RetryInfo) => status.set(retryingStatus(info));
    let aggregator: Aggregator | undefined;
    let setupError = !config ? 'no PostgreSQL connection selected' : config.configError;
    let windows = 0;
    try {
      const options = {
        sizes: parseWindowSizes(def.windows || '1h'),
        metrics: listOf(def.metrics),
        percentiles: def.percentiles === true,
      };
      if (service && !setupError) {
        aggregator = new Aggregator(service.pool, service.schemas, options, retrying);
      }
    } catch (err) {
      setupError ??= (err as Error).message;
    }
    const release = aggregator ? service!.retain() : () => undefined;
    if (setupError) {
      status.set({ fill: 'red', shape: 'ring', text: setupError });
      this.error(`aggregate: ${setupError}`);
    }

    this.on('input', (msg: Msg, send, done) => {
      if (!aggregator) return done(new Error(`aggregate: ${setupError}`));
      const rows = (Array.isArray(msg.payload) ? msg.payload : [msg.payload]) as Record<string, unknown>[];
      const table = msg.silver?.table ?? msg.pg?.table;
      service!
        .whenReady(abort.signal, retrying)
        .then(() => aggregator!.windows(table, rows, abort.signal))
        .then(
          (updated) => {
            windows += updated.length;
            status.set({ fill: 'green', shape: 'dot', text: `${compactNumber(windows)} windows updated` });
            send({ ...msg, payload: updated, gold: { windows: updated.length } });
            done();
          },
          (err: Error) => {
            status.set({ fill: 'red', shape: 'ring', text: err.message });
            done(new Error(`aggregate: ${err.message}`));
          },
        );
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      abort.abort();
      release();
      status.clear();
      done();
    });
  }

  RED.nodes.registerType('medallion-aggregate', Aggregate);
};
