import { randomBytes } from 'node:crypto';
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { listOf, numberOr } from '../../lib/form-values';
import { Batcher } from '../../lib/mqtt/batcher';
import { readingsOf, type ReadingRecord } from '../../lib/mqtt/readings';
import { RateMeter } from '../../lib/rate-meter';
import { compactNumber, throttledStatus } from '../../lib/status';
import { detectProfile } from '../../lib/validate/profiles';

interface MqttBatchDef extends NodeDef {
  size: string | number;
  timeout: string | number;
  keyFields: string;
}

/** The session's name: its start time, so each start numbers its batches afresh under a new key. */
function sessionName(prefix: string): string {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${prefix}-${stamp}`;
}

export = (RED: NodeAPI) => {
  function MqttBatch(this: Node, def: MqttBatchDef) {
    RED.nodes.createNode(this, def);
    const status = throttledStatus(this);
    const rate = new RateMeter();
    const keyOptions = { keyFields: listOf(def.keyFields) };
    const name = sessionName((def.name || 'mqtt').replace(/[^\w-]+/g, '_'));
    const key = `${name}-${randomBytes(4).toString('hex')}`;
    let batch = 0;
    let sent = 0;
    let unreadable = 0;

    const show = (held: number) =>
      status.set({
        fill: unreadable ? 'yellow' : 'green',
        shape: 'dot',
        text:
          `${compactNumber(rate.perSecond())}/s · ${compactNumber(sent)} in ${batch} batches` +
          (held ? ` · ${held} held` : '') +
          (unreadable ? ` · ${compactNumber(unreadable)} unreadable` : ''),
      });

    const batcher = new Batcher<ReadingRecord>(
      {
        size: Math.max(1, numberOr(def.size, 1000)),
        timeoutMs: Math.max(0, numberOr(def.timeout, 1000)),
      },
      (_group, records) => {
        const msg = {
          topic: name,
          payload: records,
          source: { kind: 'mqtt', name, key, batch, last: false, lineStart: 1 },
        };
        batch += 1;
        sent += records.length;
        this.send(msg as NodeMessage);
        show(batcher.held);
      },
    );

    this.on('input', (msg: NodeMessage, _send, done) => {
      try {
        const readings = readingsOf(String(msg.topic ?? ''), msg.payload, keyOptions);
        rate.add(readings.length);
        // a batch holds readings of one kind, so validate's `auto` finds their profile
        for (const r of readings) {
          if (r.error) unreadable += 1;
          batcher.push(r.fields ? (detectProfile(Object.keys(r.fields)) ?? '') : '', [r]);
        }
        show(batcher.held);
        done();
      } catch (err) {
        done(new Error(`mqtt batch: ${(err as Error).message}`));
      }
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      // the nodes after this one stop at the same time: a batch sent now would reach none of them
      const held = batcher.drop();
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
