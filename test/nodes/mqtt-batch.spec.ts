import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
import type { ReadingRecord } from '../../lib/mqtt/readings';
import mqttBatchNode from '../../nodes/mqtt-batch/mqtt-batch';
import { helper, messages, statuses, waitFor } from '../support/flow';

type Batch = NodeMessage & {
  payload: ReadingRecord[];
  source: { kind: string; name: string; key: string; batch: number; last: boolean };
};

const env = (location: string, second: number) => ({
  timestamp: `2026-11-24 08:00:${String(second).padStart(2, '0')}`,
  location_id: location,
  temperature_celsius: 21,
});
const temp = (n: number) => ({
  id: `__export__.temp_log_${n}_0000abcd`,
  'room_id/id': 'Room Admin',
  noted_date: '24-11-2026 08:00',
  temp: 29,
  'out/in': 'In',
});

describe('medallion-mqtt-batch node', () => {
  afterEach(() => helper.unload());

  const load = (cfg: Record<string, unknown>) =>
    helper.load(mqttBatchNode, [
      { id: 'b', type: 'medallion-mqtt-batch', name: 'plant 1', wires: [['out']], ...cfg },
      { id: 'out', type: 'helper' },
    ]);

  it('sends a batch when it is full, numbering the batches of its session', async () => {
    await load({ size: 3, timeout: 60_000 });
    const b = helper.getNode('b');
    const got = messages<Batch>('out', 2);
    for (let s = 0; s < 6; s++)
      b.receive({ topic: 'sensors/101/readings', payload: Buffer.from(JSON.stringify(env('101', s))) });
    const [first, second] = await got;
    assert.deepEqual(
      first.payload.map((r) => r.fields?.timestamp),
      ['2026-11-24 08:00:00', '2026-11-24 08:00:01', '2026-11-24 08:00:02'],
    );
    assert.equal(first.source.kind, 'mqtt');
    assert.match(first.source.name, /^plant_1-\d{8}T\d{6}Z$/);
    assert.match(first.source.key, new RegExp(`^${first.source.name}-[0-9a-f]{8}$`));
    assert.deepEqual([first.source.batch, second.source.batch], [0, 1]);
    assert.equal(second.source.key, first.source.key);
    assert.equal(first.payload[0].source_key, 'mqtt:sensors/101/readings|101|2026-11-24 08:00:00');
  });

  it('sends what it holds after the timeout, one batch per kind of reading', async () => {
    await load({ size: 1000, timeout: 50 });
    const b = helper.getNode('b');
    const got = messages<Batch>('out', 3, 2000);
    b.receive({
      topic: 'sensors/101/readings',
      payload: Buffer.from(JSON.stringify([env('101', 0), temp(1)])),
    });
    b.receive({ topic: 'sensors/102/readings', payload: Buffer.from('{"cut off') });
    b.receive({ topic: 'sensors/102/readings', payload: Buffer.from(JSON.stringify(env('102', 0))) });
    const batches = await got;
    const kinds = batches
      .map((m) =>
        m.payload.map((r) => (r.error ? 'unreadable' : String(r.fields?.location_id ?? r.fields?.id))),
      )
      .sort();
    assert.deepEqual(kinds, [['101', '102'], ['__export__.temp_log_1_0000abcd'], ['unreadable']].sort());
    // the status is throttled: its latest text comes within a second
    await waitFor(
      () => /4 in 3 batches · 1 unreadable$/.test(statuses('b').at(-1)?.text ?? ''),
      3000,
      'status',
    );
    assert.equal(
      statuses('b').at(-1)?.fill,
      'green',
      'flowing: green, the unreadable ones counted in the text',
    );
  });

  it('says how many readings it held when the flow stops, and sends nothing after', async () => {
    await load({ size: 1000, timeout: 50 });
    const b = helper.getNode('b');
    const out = helper.getNode('out') as unknown as NodeJS.EventEmitter;
    let sent = 0;
    out.on('input', () => sent++);
    const warned = new Promise<string>((resolve) =>
      (b as unknown as NodeJS.EventEmitter).on('call:warn', (call: { args: [string] }) =>
        resolve(call.args[0]),
      ),
    );
    b.receive({ topic: 't/1', payload: JSON.stringify(env('1', 1)) });
    b.receive({ topic: 't/1', payload: JSON.stringify(env('1', 2)) });
    await b.close(false);
    assert.match(await warned, /^2 readings held for the next batch were not sent on: the flow stopped/);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(sent, 0);
  });
});
