import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { listOf, numberOr, textOrEnv } from '../../lib/form-values';
import { AckClient } from '../../lib/mqtt/ack-client';
import { MqttIngest } from '../../lib/mqtt/ingest';
import { resolveTable } from '../../lib/pg/identifiers';
import { committedBatches, type ProgressKey } from '../../lib/pg/progress';
import { RateMeter } from '../../lib/rate-meter';
import { compactNumber, throttledStatus } from '../../lib/status';
import type { PgConfigNode } from '../pg-config/pg-config-node';

interface MqttIngestDef extends NodeDef {
  pgConfig: string;
  broker: string;
  url: string;
  urlType?: string;
  clientId: string;
  clientIdType?: string;
  topics: string;
  receiveMaximum: string | number;
  batchSize: string | number;
  batchTimeout: string | number;
  sessionExpiry: string | number;
  commitLayer: string;
  keyFields: string;
}

interface Credentials {
  username?: string;
  password?: string;
}

/** What this node reads of a core `mqtt-broker` config node: where it is and who to log in as (never its client). */
interface CoreBroker {
  brokerurl?: string;
  options?: { username?: string; password?: string };
}

/** How often commits not heard of in-process are looked up in medallion.batches. */
const POLL_MS = 2000;
/** How often the counters go out on output 2. */
const METRICS_MS = 5000;
/** An acknowledgement waited for this long turns the status yellow. */
const SLOW_MS = 30_000;

export = (RED: NodeAPI) => {
  function MqttIngestNode(this: Node<Credentials>, def: MqttIngestDef) {
    RED.nodes.createNode(this, def);
    const status = throttledStatus(this);
    const config = RED.nodes.getNode(def.pgConfig) as PgConfigNode | null;
    const service = config?.service;
    const core = def.broker ? (RED.nodes.getNode(def.broker) as unknown as CoreBroker | null) : null;
    const layers = listOf(def.commitLayer).length ? listOf(def.commitLayer) : ['bronze'];
    const rate = new RateMeter();
    let ingest: MqttIngest | undefined;
    let setupError = !config ? 'no PostgreSQL connection selected' : config.configError;
    try {
      if (!setupError) {
        const env = (name: string) => RED.util.evaluateNodeProperty(name, 'env', this, {});
        const clientId = textOrEnv(def.clientId, def.clientIdType, env, 'client id');
        if (!clientId.trim() || clientId.includes('${')) {
          throw new Error(
            'a fixed client id is needed, so the broker keeps this session while Node-RED is down',
          );
        }
        const client = new AckClient({
          url: core?.brokerurl || textOrEnv(def.url, def.urlType, env, 'broker URL'),
          clientId,
          username: this.credentials?.username || core?.options?.username,
          password: this.credentials?.password || core?.options?.password,
          topics: listOf(def.topics),
          receiveMaximum: numberOr(def.receiveMaximum, 5000),
          sessionExpirySeconds: numberOr(def.sessionExpiry, 7 * 24 * 3600),
        });
        ingest = new MqttIngest(client, {
          name: def.name || 'mqtt',
          batchSize: Math.max(1, numberOr(def.batchSize, 1000)),
          batchTimeoutMs: Math.max(0, numberOr(def.batchTimeout, 500)),
          keyFields: listOf(def.keyFields),
          ackLayers: layers,
        });
      }
    } catch (err) {
      setupError = (err as Error).message;
    }

    const show = () => {
      const s = ingest!.stats();
      const flow = `${compactNumber(rate.perSecond())}/s · ${compactNumber(s.readings)} readings`;
      const window = `${compactNumber(s.unacked)}/${compactNumber(s.window)} unacked`;
      if (!s.connected) status.set({ fill: 'yellow', shape: 'ring', text: `disconnected · ${flow}` });
      else if (s.oldestMs > SLOW_MS) {
        status.set({
          fill: 'yellow',
          shape: 'dot',
          text: `waiting ${Math.round(s.oldestMs / 1000)} s for ${layers.join(', ')} · ${window}`,
        });
      } else status.set({ fill: 'green', shape: 'dot', text: `${flow} · ${window}` });
    };

    const onCommitted = (key: ProgressKey) => {
      if (key.sourceKey === ingest?.key) ingest.committed(key.batch, key.layer);
    };
    let poll: NodeJS.Timeout | undefined;
    let metrics: NodeJS.Timeout | undefined;
    const release = service && ingest ? service.retain() : () => undefined;
    if (setupError || !ingest || !service) {
      status.set({ fill: 'red', shape: 'ring', text: setupError });
      this.error(`mqtt ingest: ${setupError}`);
    } else {
      const progress = resolveTable('medallion.batches', service.schemas);
      ingest.on('batch', (batch) => {
        rate.add(batch.payload.length);
        this.send([batch as unknown as NodeMessage, null]);
        show();
      });
      ingest.on('connect', () => show());
      ingest.on('disconnect', ({ reason, dropped }: { reason: string; dropped: number }) => {
        this.warn(`mqtt ingest: ${reason}; the broker sends the ${dropped} messages not acknowledged again`);
        show();
      });
      ingest.on('error', (err: Error) => this.error(`mqtt ingest: ${err.message}`, {}));
      service.on('committed', onCommitted);
      service.start();
      // output 2: the counters, for a dashboard or monitoring (lag is the oldest unacknowledged message's age)
      metrics = setInterval(() => {
        this.send([
          null,
          { topic: 'mqtt ingest', payload: { ...ingest!.stats(), perSecond: rate.perSecond() } },
        ]);
      }, METRICS_MS);
      // a pg-write on another connection node is not heard of in-process: look its commits up
      poll = setInterval(() => {
        show();
        ingest!
          .lookUpCommits(
            (layer, batches) => committedBatches(service.pool, progress, ingest!.key, layer, batches),
            POLL_MS,
          )
          .catch(() => undefined); // the database is away: the next poll asks again
      }, POLL_MS);
      ingest.start();
      show();
    }

    this.on('close', (_removed: boolean, done: () => void) => {
      clearInterval(poll);
      clearInterval(metrics);
      service?.off('committed', onCommitted);
      (ingest ? ingest.close() : Promise.resolve()).then(() => {
        release();
        status.clear();
        done();
      });
    });
  }

  RED.nodes.registerType<Node<Credentials>, MqttIngestDef, unknown, Credentials>(
    'medallion-mqtt-ingest',
    MqttIngestNode,
    {
      credentials: { username: { type: 'text' }, password: { type: 'password' } },
    },
  );
};
