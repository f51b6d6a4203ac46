import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { listOf, numberOr } from '../../lib/form-values';
import { MessageBatches } from '../../lib/mqtt/message-batches';
import { RateMeter } from '../../lib/rate-meter';
import { compactNumber, throttledStatus } from '../../lib/status';

interface MqttBatchDef extends NodeDef {
  size: string | number;
  timeout: string | number;
  keyFields: string;
}

export = (RED: NodeAPI) => {
  function MqttBatch(this: Node, def: MqttBatchDef) {
    RED.nodes.createNode(this, def);
    const status = throttledStatus(this);
    const rate = new RateMeter();
    let unreadable = 0;

    const show = () =>
      status.set({
        fill: 'green',
        shape: 'dot',
        text:
          `${compactNumber(rate.perSecond())}/s · ${compactNumber(batches.totals.readings)} in ` +
          `${batches.totals.batches} batches` +
          (batches.held ? ` · ${batches.held} held` : '') +
          (unreadable ? ` · ${compactNumber(unreadable)} unreadable` : ''),
      });

    const batches: MessageBatches = new MessageBatches(
      {
        name: def.name || 'mqtt',
        batchSize: Math.max(1, numberOr(def.size, 1000)),
        batchTimeoutMs: Math.max(0, numberOr(def.timeout, 1000)),
        keyFields: listOf(def.keyFields),
        splitMessages: true,
      },
      (batch) => {
        this.send(batch as unknown as NodeMessage);
        show();
      },
    );

    this.on('input', (msg: NodeMessage, _send, done) => {
      try {
        const readings = batches.push(String(msg.topic ?? ''), msg.payload, undefined);
        rate.add(readings.length);
        unreadable += readings.filter((r) => r.error).length;
        show();
        done();
      } catch (err) {
        done(new Error(`mqtt batch: ${(err as Error).message}`));
      }
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      // the nodes after this one stop at the same time: a batch sent now would reach none of them
      const held = batches.drop();
      if (held) {
        this.warn(
          `${held} readings held for the next batch were not sent on: the flow stopped before the batch was due ` +
            '(mqtt in acknowledged them on receipt, so the broker will not send them again)',
        );
      }
      status.clear();
      done();
    });
  }

  RED.nodes.registerType('medallion-mqtt-batch', MqttBatch);
};
