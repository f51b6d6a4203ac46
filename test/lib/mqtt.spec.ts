import assert from 'node:assert/strict';
import { Batcher } from '../../lib/mqtt/batcher';
import { readingKey, readingsOf } from '../../lib/mqtt/readings';
import { Validator } from '../../lib/validate/validator';

const auto = { keyFields: [] };
const env = {
  timestamp: '2026-11-24 08:00:00',
  location_id: '101',
  temperature_celsius: 21.5,
  humidity_percent: 40,
};

describe('lib/mqtt/readings', () => {
  it('keeps the bytes as received and parses a single JSON reading once', () => {
    const bytes = Buffer.from(JSON.stringify(env));
    const [r] = readingsOf('sensors/101/readings', bytes, auto);
    assert.equal(r.line_no, 1);
    assert.ok(r.raw.equals(bytes));
    assert.deepEqual(r.fields, env);
    assert.equal(r.error, undefined);
    assert.equal(r.source_key, 'mqtt:sensors/101/readings|101|2026-11-24 08:00:00');
  });

  it('numbers the readings of an array message and keys each on its own', () => {
    const second = { ...env, location_id: '102' };
    const rs = readingsOf('gateway/1', Buffer.from(JSON.stringify([env, second])), auto);
    assert.deepEqual(
      rs.map((r) => [r.line_no, r.source_key, r.raw.toString()]),
      [
        [1, 'mqtt:gateway/1|101|2026-11-24 08:00:00', JSON.stringify(env)],
        [2, 'mqtt:gateway/1|102|2026-11-24 08:00:00', JSON.stringify(second)],
      ],
    );
  });

  it('prefers a message id, then the configured key fields', () => {
    const temp = {
      id: '__export__.temp_log_1_ab',
      'room_id/id': 'Room Admin',
      noted_date: '08-12-2018 09:30',
    };
    assert.equal(
      readingsOf('t', JSON.stringify(temp), auto)[0].source_key,
      'mqtt:id:__export__.temp_log_1_ab',
    );
    assert.equal(
      readingsOf('t', JSON.stringify(temp), { keyFields: ['room_id/id', 'noted_date'] })[0].source_key,
      'mqtt:Room Admin|08-12-2018 09:30',
    );
  });

  it('keys a reading with no id and no time by a hash a redelivery repeats, and the topic changes', () => {
    const a = readingKey('x/1', { v: 1 }, Buffer.from('{"v":1}'), auto);
    assert.match(a, /^mqtt:sha256:[0-9a-f]{64}$/);
    assert.equal(readingKey('x/1', { v: 1 }, Buffer.from('{"v":1}'), auto), a);
    assert.notEqual(readingKey('x/2', { v: 1 }, Buffer.from('{"v":1}'), auto), a);
  });

  it('keeps what is not JSON, or not an object, as an unreadable record with its reason', () => {
    const [bad] = readingsOf('sensors/9/readings', Buffer.from('{"timestamp": "2026-1'), auto);
    assert.match(bad.error!, /the message on sensors\/9\/readings is not JSON/);
    assert.equal(bad.fields, undefined);
    assert.equal(bad.raw.toString(), '{"timestamp": "2026-1');
    const mixed = readingsOf('g', '[1, {"ts": "x"}, null]', auto);
    assert.deepEqual(
      mixed.map((r) => r.error ?? 'ok'),
      ['reading 1 on g is number, not a JSON object', 'ok', 'reading 3 on g is null, not a JSON object'],
    );
  });

  it('takes objects from other nodes as they are', () => {
    const [r] = readingsOf('sim', env, auto);
    assert.deepEqual(r.fields, env);
    assert.equal(r.raw.toString(), JSON.stringify(env));
  });

  it('gives validate the key of every reading, so silver and quarantine rows carry it', () => {
    const bad = { ...env, location_id: '103', humidity_percent: 140 };
    const records = readingsOf('g', JSON.stringify([env, bad]), auto);
    const out = new Validator('auto', '').validate(records);
    assert.equal(out.table, 'silver.environment_readings');
    assert.deepEqual(
      out.silver.map((r) => [r.source_key, r.line_no]),
      [['mqtt:g|101|2026-11-24 08:00:00', 1]],
    );
    assert.deepEqual(
      out.quarantine.map((r) => [r.source_key, r.line_no, r.errors[0].rule]),
      [['mqtt:g|103|2026-11-24 08:00:00', 2, 'max']],
    );
  });

  it("lets validate's auto profile look past an unreadable first record", () => {
    const records = [...readingsOf('g', 'not json', auto), ...readingsOf('g', JSON.stringify(env), auto)];
    const out = new Validator('auto', '').validate(records);
    assert.equal(out.table, 'silver.environment_readings');
    assert.equal(out.silver.length, 1);
    assert.deepEqual(
      out.quarantine.map((r) => r.errors[0].rule),
      ['parse'],
    );
  });
});

describe('lib/mqtt/batcher', () => {
  it('emits a group when it is full, and the rest after the timeout', async () => {
    const out: Array<[string, number[]]> = [];
    const b = new Batcher<number>({ size: 3, timeoutMs: 30 }, (g, items) => out.push([g, items]));
    b.push('a', [1, 2]);
    b.push('b', [10]);
    b.push('a', [3, 4]);
    assert.deepEqual(out, [['a', [1, 2, 3, 4]]], "one message's readings stay together");
    b.push('a', [5]);
    assert.equal(b.held, 2);
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(out.slice(1).sort(), [
      ['a', [5]],
      ['b', [10]],
    ]);
    assert.equal(b.held, 0);
  });

  it('drops what it holds, saying how much, and emits nothing later', async () => {
    const out: number[][] = [];
    const b = new Batcher<number>({ size: 100, timeoutMs: 20 }, (_g, items) => out.push(items));
    b.push('a', [1, 2]);
    b.push('b', [3]);
    assert.equal(b.drop(), 3);
    await new Promise((r) => setTimeout(r, 40));
    assert.deepEqual(out, []);
    assert.equal(b.held, 0);
  });
});
