import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { renderCsv } from '../../lib/sim/csv';
import type { SimItem } from '../../lib/sim/faults';
import { Random } from '../../lib/sim/random';
import {
  ReadingGenerator,
  SIM_HEADERS,
  SIM_SCHEMAS,
  type GeneratorOptions,
  type SimReading,
  type SimSchema,
} from '../../lib/sim/readings';
import { Validator } from '../../lib/validate/validator';

const START = Date.UTC(2024, 4, 1, 0, 0, 0);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** `ticks` ticks of a generator, flattened. */
function run(opts: GeneratorOptions, ticks: number): SimReading[] {
  const gen = new ReadingGenerator(opts);
  return Array.from({ length: ticks }, () => gen.tick()).flat();
}

/** Three days of readings, one tick every 5 minutes. */
function threeDays(schema: SimSchema, seed = 7): SimReading[] {
  const locations = schema === 'iot-temp' ? ['Room Admin', 'Lab 2'] : ['101', '102', '103', '104'];
  return run({ schema, locations, seed, start: START, stepMs: 5 * 60_000 }, (3 * DAY) / (5 * 60_000));
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const hourOf = (ts: number) => new Date(ts).getUTCHours();
const plainItems = (readings: SimReading[]): SimItem[] =>
  readings.map((reading) => ({ reading, record: reading.record, expect: 'stored', key: reading.key }));

describe('sim: Random', () => {
  it('repeats its sequence for a seed and differs for another', () => {
    const draw = (seed: number) => {
      const r = new Random(seed);
      return [r.next(), r.int(10), r.normal(), r.normal(), r.hex(8), r.pick(['a', 'b', 'c'])];
    };
    assert.deepEqual(draw(42), draw(42));
    assert.notDeepEqual(draw(42), draw(43));
  });

  it('keeps every draw in its range, with a standard normal', () => {
    const r = new Random(1);
    const normals: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const u = r.next();
      assert.ok(u >= 0 && u < 1);
      const k = r.int(3);
      assert.ok(k === 0 || k === 1 || k === 2);
      normals.push(r.normal());
    }
    const m = mean(normals);
    const sd = Math.sqrt(mean(normals.map((z) => (z - m) ** 2)));
    assert.ok(Math.abs(m) < 0.05, `mean ${m}`);
    assert.ok(Math.abs(sd - 1) < 0.05, `sd ${sd}`);
    assert.match(r.hex(8), /^[0-9a-f]{8}$/);
  });

  it('rejects a seed that is not a number and impossible draws', () => {
    assert.throws(() => new Random(NaN), /seed must be a finite number/);
    assert.throws(() => new Random(1).int(0), /positive whole number/);
    assert.throws(() => new Random(1).pick([]), /non-empty/);
  });
});

describe('sim: ReadingGenerator', () => {
  it('has an In and an Out device per room (iot-temp) and one device per location (iot-environment)', () => {
    const temp = new ReadingGenerator({ schema: 'iot-temp', locations: ['Room Admin', 'Lab 2'], seed: 1 });
    assert.deepEqual(
      temp.devices.map((d) => [d.id, d.location, d.index]),
      [
        ['room-admin-in', 'Room Admin', 0],
        ['room-admin-out', 'Room Admin', 1],
        ['lab-2-in', 'Lab 2', 2],
        ['lab-2-out', 'Lab 2', 3],
      ],
    );
    const env = new ReadingGenerator({ schema: 'iot-environment', locations: ['101', '102'], seed: 1 });
    assert.deepEqual(
      env.devices.map((d) => d.id),
      ['101', '102'],
    );
  });

  it('rejects empty or duplicate locations, an unknown schema and a step under a second', () => {
    assert.throws(
      () => new ReadingGenerator({ schema: 'iot-temp', locations: [], seed: 1 }),
      /at least one location/,
    );
    assert.throws(
      () => new ReadingGenerator({ schema: 'iot-environment', locations: ['101', ' 101 '], seed: 1 }),
      /duplicate location "101"/,
    );
    assert.throws(
      () => new ReadingGenerator({ schema: 'iot-temp', locations: ['Room A', 'room-a'], seed: 1 }),
      /duplicate location "room-a"/,
    );
    assert.throws(
      () => new ReadingGenerator({ schema: 'iot-humidity' as SimSchema, locations: ['a'], seed: 1 }),
      /unknown simulator schema "iot-humidity" \(known: iot-temp, iot-environment\)/,
    );
    assert.throws(
      () => new ReadingGenerator({ schema: 'iot-temp', locations: ['a'], seed: 1, stepMs: 500 }),
      /stepMs must be at least 1000/,
    );
  });

  it('gives the same readings for the same options and tick times, others for another seed', () => {
    for (const schema of SIM_SCHEMAS) {
      const opts = { schema, locations: ['A', 'B'], seed: 3, start: START, stepMs: 60_000 };
      const ticks = (o: GeneratorOptions) => {
        const gen = new ReadingGenerator(o);
        return [gen.tick(), gen.tick(START + HOUR), gen.tick(), gen.tick(START)];
      };
      assert.deepEqual(ticks(opts), ticks(opts));
      assert.notDeepEqual(ticks(opts), ticks({ ...opts, seed: 4 }));
    }
  });

  it('steps event times by stepMs, moves a given time forward, and keeps whole seconds', () => {
    const gen = new ReadingGenerator({
      schema: 'iot-environment',
      locations: ['101'],
      seed: 1,
      start: START + 250,
      stepMs: 60_000,
    });
    const times = [gen.tick(), gen.tick(), gen.tick(START), gen.tick(START + DAY + 1500)].map((t) => t[0].ts);
    assert.deepEqual(times, [START, START + 60_000, START + 61_000, START + DAY + 1000]);
    assert.equal(gen.tick()[0].record.timestamp, '2024-05-02 00:01:01');
  });

  it('writes records exactly with the columns and formats of the seed files', () => {
    const [temp] = new ReadingGenerator({
      schema: 'iot-temp',
      locations: ['Room Admin'],
      seed: 1,
      start: START + 9.5 * HOUR,
    }).tick();
    assert.deepEqual(Object.keys(temp.record), SIM_HEADERS['iot-temp']);
    assert.equal(temp.record['noted_date'], '01-05-2024 09:30');
    assert.equal(temp.record['room_id/id'], 'Room Admin');
    assert.equal(temp.record['out/in'], 'In');
    assert.equal(temp.key, temp.record.id);
    const [env] = new ReadingGenerator({
      schema: 'iot-environment',
      locations: ['104'],
      seed: 1,
      start: START + 8 * HOUR,
    }).tick();
    assert.deepEqual(Object.keys(env.record), SIM_HEADERS['iot-environment']);
    assert.equal(env.record.timestamp, '2024-05-01 08:00:00');
    assert.equal(env.key, '104@2024-05-01 08:00:00');
    for (const column of ['air_quality_index', 'crowd_density', 'stress_level']) {
      assert.ok(Number.isInteger(env.record[column]), column);
    }
    assert.ok([0, 1, 2].includes(env.record.mental_health_status as number));
  });

  it('gives unique keys and Kaggle-shaped ids, different after a restart at a later time', () => {
    for (const schema of SIM_SCHEMAS) {
      const keys = threeDays(schema).map((r) => r.key);
      assert.equal(new Set(keys).size, keys.length, schema);
    }
    const opts = { schema: 'iot-temp' as const, locations: ['Room Admin'], seed: 5, stepMs: 1000 };
    const first = run({ ...opts, start: START }, 500);
    for (const r of first) assert.match(r.key, /^__export__\.temp_log_\d+_[0-9a-f]{8}$/);
    const restarted = run({ ...opts, start: START + 500_000 }, 500).map((r) => r.key);
    const before = new Set(first.map((r) => r.key));
    assert.equal(restarted.filter((k) => before.has(k)).length, 0);
  });

  for (const schema of SIM_SCHEMAS) {
    it(`makes ${schema} readings over three days that the built-in profile accepts, as records and as CSV`, () => {
      const readings = threeDays(schema);
      assert.ok(readings.length >= 3000);
      const validator = new Validator(schema, '');
      const asRecords = validator.validate(readings.map((r) => r.record));
      assert.deepEqual(asRecords.quarantine, []);
      assert.equal(asRecords.valid, readings.length);
      const rows = parse(renderCsv(schema, plainItems(readings)).text, { columns: true });
      const asCsv = validator.validate(rows);
      assert.deepEqual(asCsv.quarantine, []);
      assert.equal(asCsv.valid, readings.length);
    });
  }

  it('shows a daily cycle in the campus sensors', () => {
    const readings = threeDays('iot-environment');
    const by = (column: string, hours: (h: number) => boolean) =>
      mean(readings.filter((r) => hours(hourOf(r.ts))).map((r) => r.record[column] as number));
    const afternoon = (h: number) => h >= 13 && h < 17;
    const night = (h: number) => h < 5;
    const midday = (h: number) => h >= 10 && h < 14;
    assert.ok(by('temperature_celsius', afternoon) > by('temperature_celsius', night) + 3);
    assert.ok(by('lighting_lux', midday) > by('lighting_lux', night) + 200);
    assert.ok(by('crowd_density', midday) > by('crowd_density', night) + 15);
    const temps = readings.map((r) => r.record.temperature_celsius as number);
    assert.ok(mean(temps) > 18 && mean(temps) < 28, `mean ${mean(temps)}`);
  });

  it('keeps room temperatures whole, In about 27–33 and Out about 30–42 with a warm afternoon', () => {
    const readings = threeDays('iot-temp');
    const temps = (side: string, hours: (h: number) => boolean) =>
      readings
        .filter((r) => r.record['out/in'] === side && hours(hourOf(r.ts)))
        .map((r) => r.record.temp as number);
    for (const r of readings) assert.ok(Number.isInteger(r.record.temp));
    const all = () => true;
    assert.ok(mean(temps('In', all)) > 27 && mean(temps('In', all)) < 33);
    assert.ok(mean(temps('Out', all)) > 30 && mean(temps('Out', all)) < 42);
    assert.ok(mean(temps('Out', (h) => h >= 13 && h < 17)) > mean(temps('Out', (h) => h < 5)) + 5);
  });
});
