import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { AckClient, Incoming } from '../../lib/mqtt/ack-client';
import { MqttIngest } from '../../lib/mqtt/ingest';
import type { ReadingBatch } from '../../lib/mqtt/message-batches';

/** An AckClient stand-in: the test delivers messages and reads the acknowledgements sent. */
class FakeClient extends EventEmitter {
  acks: Array<[number, number]> = [];
  isConnected = false;
  private seq = 0;
  start() {
    this.isConnected = true;
    this.emit('connect', { connection: 1, sessionPresent: false, window: 4 });
  }
  async close() {
    this.isConnected = false;
  }
  ackThrough(connection: number, seq: number) {
    this.acks.push([connection, seq]);
    return 1;
  }
  deliver(payload: unknown, topic = 'sensors/101/readings', connection = 1) {
    this.emit('message', {
      topic,
      payload: Buffer.from(JSON.stringify(payload)),
      connection,
      seq: ++this.seq,
      dup: false,
    } satisfies Incoming);
  }
}

const reading = (location: string, second: number) => ({
  timestamp: `2026-11-24 08:00:${String(second).padStart(2, '0')}`,
  location_id: location,
  temperature_celsius: 21,
});

function setup(batchSize = 2, batchTimeoutMs = 60_000) {
  const client = new FakeClient();
  const ingest = new MqttIngest(client as unknown as AckClient, {
    name: 'plant',
    batchSize,
    batchTimeoutMs,
    keyFields: [],
    ackLayers: ['bronze'],
  });
  const batches: ReadingBatch[] = [];
  ingest.on('batch', (b: ReadingBatch) => batches.push(b));
  ingest.start();
  return { client, ingest, batches };
}

describe('lib/mqtt/ingest', () => {
  it('acknowledges nothing until the batch is committed, then everything in it in arrival order', () => {
    const { client, ingest, batches } = setup();
    client.deliver(reading('101', 1));
    client.deliver(reading('101', 2));
    assert.equal(batches.length, 1);
    assert.deepEqual(batches[0].source, {
      kind: 'mqtt',
      name: ingest.name,
      key: ingest.key,
      batch: 0,
      last: false,
      lineStart: 1,
    });
    assert.deepEqual(client.acks, []);
    assert.deepEqual(ingest.stats().unacked, 2);
    ingest.committed(0, 'bronze');
    assert.deepEqual(client.acks, [[1, 2]]);
    assert.equal(ingest.stats().unacked, 0);
  });

  it('never acknowledges past a message whose batch is not committed, even when a later batch is', () => {
    const { client, ingest, batches } = setup();
    const temp = { id: 'a', 'room_id/id': 'R', noted_date: '24-11-2026 08:00', temp: 20, 'out/in': 'In' };
    client.deliver(reading('101', 1)); // seq 1: environment batch (held)
    client.deliver(temp); // seq 2: iot-temp batch (held)
    client.deliver({ ...temp, id: 'b' }); // seq 3: the iot-temp batch is full → batch 0
    client.deliver(reading('101', 2)); // seq 4: the environment batch is full → batch 1
    assert.deepEqual(
      batches.map((b) => b.payload.map((r) => r.source_key)),
      [
        ['mqtt:id:a', 'mqtt:id:b'],
        [
          'mqtt:sensors/101/readings|101|2026-11-24 08:00:01',
          'mqtt:sensors/101/readings|101|2026-11-24 08:00:02',
        ],
      ],
    );
    ingest.committed(0, 'bronze');
    assert.deepEqual(
      client.acks,
      [],
      'seq 1 (batch 1) is not committed: nothing after it may be acknowledged',
    );
    ingest.committed(1, 'bronze');
    assert.deepEqual(client.acks, [[1, 4]]);
  });

  it('sends what it holds at once when the window is full (the broker sends no more until acknowledged)', () => {
    const { client, batches } = setup(100);
    for (let s = 1; s <= 3; s++) client.deliver(reading('101', s));
    assert.equal(batches.length, 0);
    client.deliver(reading('101', 4));
    assert.deepEqual(
      batches.map((b) => b.payload.length),
      [4],
    );
  });

  it('keeps the readings of one message together and sends the rest after the timeout', async () => {
    const { client, batches } = setup(2, 30);
    client.deliver([reading('101', 1), reading('102', 1), reading('103', 1)]);
    client.deliver(reading('104', 1));
    assert.deepEqual(
      batches.map((b) => b.payload.length),
      [3],
    );
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(
      batches.map((b) => b.payload.length),
      [3, 1],
    );
  });

  it('forgets what a lost connection held or left unacknowledged: the broker delivers it again', () => {
    const { client, ingest, batches } = setup();
    client.deliver(reading('101', 1));
    client.deliver(reading('101', 2));
    client.deliver(reading('101', 3)); // held
    client.emit('disconnect', { reason: 'connection closed', dropped: 3 });
    assert.equal(ingest.stats().held, 0);
    assert.equal(ingest.stats().unacked, 0);
    ingest.committed(0, 'bronze'); // the old connection's batch commits after all: nothing to acknowledge
    assert.deepEqual(client.acks, []);
    assert.equal(batches.length, 1);
    client.deliver(reading('101', 9), 'sensors/101/readings', 2); // a message of a connection not announced
    assert.equal(ingest.stats().messages, 3);
  });

  it('acknowledges at several layers only once the batch is in every one of them', () => {
    const client = new FakeClient();
    const ingest = new MqttIngest(client as unknown as AckClient, {
      name: 'plant',
      batchSize: 2,
      batchTimeoutMs: 60_000,
      keyFields: [],
      ackLayers: ['silver', 'quarantine'],
    });
    ingest.start();
    client.deliver(reading('101', 1));
    client.deliver(reading('101', 2));
    ingest.committed(0, 'bronze');
    ingest.committed(0, 'silver');
    assert.deepEqual(client.acks, []);
    assert.deepEqual(ingest.uncommitted('silver'), []);
    assert.deepEqual(ingest.uncommitted('quarantine'), [0]);
    ingest.committed(0, 'quarantine');
    assert.deepEqual(client.acks, [[1, 2]]);
  });

  it('looks up the commits it has not heard of once a message has waited long enough', async () => {
    const { client, ingest } = setup();
    for (let s = 1; s <= 2; s++) client.deliver(reading('101', s));
    const asked: Array<[string, number[]]> = [];
    const find = async (layer: string, batches: number[]) => {
      asked.push([layer, batches]);
      return batches;
    };
    await ingest.lookUpCommits(find, 60_000);
    assert.deepEqual(asked, [], 'nothing has waited a minute yet');
    await ingest.lookUpCommits(find, 0);
    assert.deepEqual(asked, [['bronze', [0]]]);
    assert.deepEqual(client.acks, [[1, 2]]);
  });

  it('lists the batches sent and not yet committed, for looking their commits up', () => {
    const { client, ingest } = setup();
    for (let s = 1; s <= 4; s++) client.deliver(reading('101', s));
    assert.deepEqual(ingest.uncommitted('bronze'), [0, 1]);
    ingest.committed(1, 'bronze');
    assert.deepEqual(ingest.uncommitted('bronze'), [0]);
    assert.deepEqual(client.acks, []);
    ingest.committed(0, 'bronze');
    assert.deepEqual(client.acks, [[1, 4]]);
    assert.deepEqual(ingest.uncommitted('bronze'), []);
  });
});
