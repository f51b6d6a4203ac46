import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { DEFAULT_THRESHOLD, METHODS, type AnomalyMethod } from '../../lib/gold/anomaly';
import { AnomalyDetector } from '../../lib/gold/anomaly-detector';
import { listOf, numberOr, textOrEnv } from '../../lib/form-values';
import type { RetryInfo } from '../../lib/retry';
import { progressKeyFrom, type MessageSource, type ProgressKey } from '../../lib/pg/progress';
import { compactNumber, retryingStatus, throttledStatus } from '../../lib/status';
import type { PgConfigNode } from '../pg-config/pg-config-node';

interface AnomalyDef extends NodeDef {
  pgConfig: string;
  method: string;
  threshold: string | number;
  thresholdType?: string;
  window: string | number;
  minBaseline: string | number;
  metrics: string;
  layer: string;
}

type Msg = NodeMessage & {
  silver?: { table?: string | null };
  pg?: { table?: string };
  threshold?: unknown;
  source?: MessageSource;
  run?: { id?: unknown };
};

export = (RED: NodeAPI) => {
  function Anomaly(this: Node, def: AnomalyDef) {
    RED.nodes.createNode(this, def);
    const config = RED.nodes.getNode(def.pgConfig) as PgConfigNode | null;
    const service = config?.service;
    const status = throttledStatus(this);
    const abort = new AbortController();
    const retrying = (info: RetryInfo) => status.set(retryingStatus(info));
    const layer = def.layer?.trim() || 'anomalies';
    const method = (METHODS as readonly string[]).includes(def.method)
      ? (def.method as AnomalyMethod)
      : 'zscore';
    let detector: AnomalyDetector | undefined;
    let setupError = !config ? 'no PostgreSQL connection selected' : config.configError;
    let flagged = 0;
    if (service && !setupError) {
      try {
        detector = new AnomalyDetector(
          service.pool,
          service.schemas,
          {
            method,
            threshold: DEFAULT_THRESHOLD[method],
            k: Math.max(2, numberOr(def.window, 60)),
            min: Math.max(2, numberOr(def.minBaseline, 10)),
            metrics: listOf(def.metrics),
          },
          retrying,
        );
        const env = (name: string) => RED.util.evaluateNodeProperty(name, 'env', this, {});
        const threshold = textOrEnv(def.threshold, def.thresholdType, env, 'threshold');
        detector.setThreshold(numberOr(threshold, DEFAULT_THRESHOLD[method]));
      } catch (err) {
        setupError = (err as Error).message;
      }
    }
    const release = detector ? service!.retain() : () => undefined;
    if (setupError) {
      status.set({ fill: 'red', shape: 'ring', text: setupError });
      this.error(`anomaly: ${setupError}`);
    }

    this.on('input', (msg: Msg, send, done) => {
      if (!detector) return done(new Error(`anomaly: ${setupError}`));
      try {
        if (msg.threshold !== undefined) detector.setThreshold(Number(msg.threshold));
      } catch (err) {
        return done(new Error(`anomaly: msg.threshold: ${(err as Error).message}`));
      }
      // a message with only a threshold (a dashboard slider) sets it for the batches to come
      if (msg.payload === undefined) {
        status.set({ fill: 'green', shape: 'dot', text: `|score| > ${detector.options.threshold}` });
        return done();
      }
      const rows = (Array.isArray(msg.payload) ? msg.payload : [msg.payload]) as Record<string, unknown>[];
      let progress: ProgressKey | undefined;
      try {
        progress = progressKeyFrom(msg.source, msg.run, layer);
      } catch (err) {
        return done(new Error(`anomaly: ${(err as Error).message}`));
      }
      service!
        .whenReady(abort.signal, retrying)
        .then(() => detector!.detect(msg.silver?.table ?? msg.pg?.table, rows, progress, abort.signal))
        .then(async (d) => {
          if (progress) await service!.committed(progress);
          return d;
        })
        .then(
          (d) => {
            flagged += d.anomalies.length;
            const { threshold } = detector!.options;
            status.set({
              fill: 'green',
              shape: 'dot',
              text: `${compactNumber(flagged)} anomalies · |score| > ${threshold}`,
            });
            const anomalies = {
              scored: d.scored,
              flagged: d.anomalies.length,
              cleared: d.cleared,
              threshold,
            };
            send([msg, { ...msg, payload: d.anomalies, anomalies }]);
            done();
          },
          (err: Error) => {
            status.set({ fill: 'red', shape: 'ring', text: err.message });
            done(new Error(`anomaly: ${err.message}`));
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

  RED.nodes.registerType('medallion-anomaly', Anomaly);
};
