import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { renderCsv } from '../../lib/sim/csv';
import {
  FAULT_KINDS,
  FaultInjector,
  malformedJson,
  parseFaultRates,
  type FaultKind,
  type FaultRates,
  type SimItem,
} from '../../lib/sim/faults';
import { Random } from '../../lib/sim/random';
import { ReadingGenerator, SIM_SCHEMAS, type SimReading, type SimSchema } from '../../lib/sim/readings';
import { PROFILES } from '../../lib/validate/profiles';
import { Validator, type ValidatedBatch } from '../../lib/validate/validator';

const START = Date.UTC(2024, 4, 1, 6, 0, 0);

interface Run {
  readings: SimReading[];
  /** Items of each apply call, then the flush. */
  calls: SimItem[][];
  items: SimItem[];
  injector: FaultInjector;
}

/** `ticks` ticks through an injector with these rates, then a flush. */
function simulate(schema: SimSchema, rates: FaultRates, ticks = 200, seed = 11): Run {
  const gen = new ReadingGenerator({
    schema,
    locations: ['Room Admin', 'Lab 2'],
    seed,
    start: START,
    stepMs: 60_000,
  });
  const injector = new FaultInjector(schema, rates, new Random(seed + 1));
  const readings: SimReading[] = [];
  const calls: SimItem[][] = [];
  for (let i = 0; i < ticks; i++) {
    const fresh = gen.tick();
    readings.push(...fresh);
    calls.push(injector.apply(fresh));
  }
  calls.push(injector.flush());
  return { readings, calls, items: calls.flat(), injector };
}

/** The validator's field for an input column (`timestamp` is `ts`). */
function fieldOf(schema: SimSchema, column: string): string {
  return PROFILES[schema].fields.find((f) => (f.from ?? f.field) === column)!.field;
}

/** The items written as a CSV file and read back, validated with line numbers. */
function viaCsv(schema: SimSchema, items: SimItem[]): ValidatedBatch {
  const { text, lines } = renderCsv(schema, items);
  const rows: Record<string, string>[] = parse(text, { columns: true, relax_column_count: true });
  assert.equal(rows.length, items.length);
  return new Validator(schema, '').validate(rows.map((fields, i) => ({ line_no: lines[i], fields })));
}

/** Each item's verdict from a CSV round trip: undefined when valid, else the error fields. */
function verdicts(schema: SimSchema, items: SimItem[]): Array<string[] | undefined> {
  const { lines } = renderCsv(schema, items);
  const result = viaCsv(schema, items);
  const byLine = new Map(result.quarantine.map((q) => [q.line_no, q.errors.map((e) => e.field)]));
  assert.equal(result.valid + result.quarantine.length, items.length);
  return lines.map((line) => byLine.get(line));
}

describe('sim: fault rates', () => {
  it('reads rates from text, percentages, objects and JSON', () => {
    assert.deepEqual(parseFaultRates('null-key: 0.01, duplicate 0.02; late=5%\nmalformed:1'), {
      'null-key': 0.01,
      duplicate: 0.02,
      late: 0.05,
      malformed: 1,
    });
    assert.deepEqual(parseFaultRates({ 'wrong-type': 0.3, 'half-written': '10%' }), {
      'wrong-type': 0.3,
      'half-written': 0.1,
    });
    assert.deepEqual(parseFaultRates('{"out-of-range": 0.5}'), { 'out-of-range': 0.5 });
    assert.deepEqual(parseFaultRates(''), {});
    assert.deepEqual(parseFaultRates(undefined), {});
  });

  it('rejects an unknown kind or a rate outside 0..1, naming the entry', () => {
    assert.throws(
      () => parseFaultRates('duplicate: 0.1, nul-key: 0.1'),
      /"nul-key: 0.1": unknown fault kind "nul-key"/,
    );
    assert.throws(() => parseFaultRates('late: 1.5'), /"late: 1.5": the rate must be a number from 0 to 1/);
    assert.throws(() => parseFaultRates({ duplicate: -0.1 }), /"duplicate: -0.1": the rate/);
    assert.throws(() => parseFaultRates('late: often'), /"late: often": the rate/);
    assert.throws(() => parseFaultRates('late'), /"late": write it as <kind>: <rate>/);
    assert.throws(() => parseFaultRates(7), /fault rates must be an object/);
    assert.throws(() => new FaultInjector('iot-temp', { late: 2 }, new Random(1)), /"late: 2"/);
  });
});

describe('sim: FaultInjector', () => {
  it('emits every reading unchanged, expected stored, without faults', () => {
    const { readings, items, injector } = simulate('iot-environment', {});
    assert.deepEqual(
      items,
      readings.map((reading) => ({ reading, record: reading.record, expect: 'stored', key: reading.key })),
    );
    assert.deepEqual(
      Object.values(injector.counts),
      FAULT_KINDS.map(() => 0),
    );
  });

  it('injects the same faults for the same seed', () => {
    const rates = { 'null-key': 0.1, duplicate: 0.1, late: 0.1, malformed: 0.1 };
    assert.deepEqual(simulate('iot-temp', rates).items, simulate('iot-temp', rates).items);
  });

  for (const schema of SIM_SCHEMAS) {
    for (const kind of ['null-key', 'out-of-range', 'wrong-type'] as const) {
      it(`${schema}: every ${kind} reading is quarantined for its labelled field, as a message and in CSV`, () => {
        const { readings, items, injector } = simulate(schema, { [kind]: 1 }, 50);
        assert.equal(items.length, readings.length);
        assert.equal(injector.counts[kind], readings.length);
        const messages = new Validator(schema, '').validate(items.map((i) => i.record));
        assert.equal(messages.valid, 0);
        const csv = verdicts(schema, items);
        items.forEach((item, i) => {
          assert.equal(item.expect, 'quarantined');
          assert.equal(item.fault?.fault, kind);
          assert.equal(item.key, item.reading.key);
          assert.ok(item.fault!.detail.startsWith(`${item.fault!.field} = `), item.fault!.detail);
          const field = fieldOf(schema, item.fault!.field!);
          const errors = messages.quarantine[i].errors;
          assert.ok(
            errors.some((e) => e.field === field),
            `${item.fault!.detail}: ${JSON.stringify(errors)}`,
          );
          assert.ok(csv[i]?.includes(field), `${item.fault!.detail} in CSV: ${csv[i]}`);
        });
      });
    }

    it(`${schema}: a malformed reading cannot be read as CSV or as JSON`, () => {
      const { items, injector } = simulate(schema, { malformed: 1 }, 30);
      assert.equal(injector.counts.malformed, items.length);
      for (const item of items) {
        assert.equal(item.expect, 'quarantined');
        assert.ok(item.text && !item.text.includes('\n'));
        assert.deepEqual(item.record, item.reading.record);
        assert.throws(() => JSON.parse(malformedJson(item.record)));
      }
      assert.ok(verdicts(schema, items).every((v) => v !== undefined && v.length > 0));
    });

    it(`${schema}: mixed faults leave exactly the labelled items invalid`, () => {
      const rates = {
        'null-key': 0.06,
        'out-of-range': 0.06,
        malformed: 0.06,
        'wrong-type': 0.06,
        duplicate: 0.06,
        late: 0.06,
      };
      const { readings, items, injector } = simulate(schema, rates, 300);
      const csv = verdicts(schema, items);
      const messages = new Validator(schema, '').validate(items.filter((i) => !i.text).map((i) => i.record));
      assert.equal(messages.valid, items.filter((i) => !i.text && i.expect !== 'quarantined').length);
      items.forEach((item, i) => {
        if (item.expect === 'quarantined') assert.ok(csv[i], `${item.fault!.detail} passed`);
        else
          assert.equal(
            csv[i],
            undefined,
            `${item.key} (${item.fault?.fault ?? 'no fault'}) rejected: ${csv[i]}`,
          );
      });
      const labelled = new Map<FaultKind, number>();
      for (const item of items)
        if (item.fault) labelled.set(item.fault.fault, (labelled.get(item.fault.fault) ?? 0) + 1);
      for (const kind of FAULT_KINDS) assert.equal(injector.counts[kind], labelled.get(kind) ?? 0, kind);
      for (const kind of FAULT_KINDS.filter((k) => k !== 'half-written'))
        assert.ok(injector.counts[kind] > 10, kind);
      assert.equal(items.length, readings.length + injector.counts.duplicate);
    });
  }

  it('emits a duplicate right after its original, with the same record and key', () => {
    const { readings, items, injector } = simulate('iot-temp', { duplicate: 1 }, 20);
    assert.equal(items.length, 2 * readings.length);
    assert.equal(injector.counts.duplicate, readings.length);
    for (let i = 0; i < items.length; i += 2) {
      const [original, copy] = [items[i], items[i + 1]];
      assert.equal(original.expect, 'stored');
      assert.equal(original.fault, undefined);
      assert.equal(copy.expect, 'duplicate');
      assert.equal(copy.fault?.fault, 'duplicate');
      assert.equal(copy.key, original.key);
      assert.deepEqual(copy.record, original.record);
    }
  });

  it('holds late readings back 1 to 5 ticks, after newer readings, and flushes the rest', () => {
    const { readings, calls, items, injector } = simulate('iot-environment', { late: 0.3 }, 100);
    assert.equal(items.length, readings.length);
    assert.deepEqual(new Set(items.map((i) => i.key)), new Set(readings.map((r) => r.key)));
    const late = items.filter((i) => i.fault?.fault === 'late');
    assert.equal(late.length, injector.counts.late);
    assert.ok(late.length > 30);
    const flushed = calls[calls.length - 1];
    assert.ok(flushed.length > 0 && flushed.every((i) => i.fault?.fault === 'late'));
    const tickOf = (i: SimItem) => (i.reading.ts - START) / 60_000;
    let overtaken = 0;
    calls.slice(0, -1).forEach((call, c) => {
      for (const item of call) {
        if (item.fault?.fault !== 'late') continue;
        assert.equal(item.expect, 'stored');
        const tick = tickOf(item);
        assert.ok(c - tick >= 1 && c - tick <= 5, `held ${c - tick} ticks`);
        // every reading of the ticks since, unless held itself, comes out before it
        const newer = items.filter((i) => i.fault?.fault !== 'late' && tickOf(i) > tick && tickOf(i) <= c);
        assert.ok(newer.every((i) => items.indexOf(i) < items.indexOf(item)));
        if (newer.length) overtaken++;
      }
    });
    assert.ok(
      overtaken > late.length / 2,
      `${overtaken} of ${late.length} late readings come after newer ones`,
    );
    assert.equal(injector.flush().length, 0);
  });

  it('gives each reading one fault at most, scaling rates that sum over 1', () => {
    const { readings, items, injector } = simulate('iot-temp', { 'null-key': 1, 'wrong-type': 1 }, 200);
    assert.equal(items.length, readings.length);
    assert.ok(items.every((i) => i.fault));
    const share = injector.counts['null-key'] / readings.length;
    assert.ok(share > 0.4 && share < 0.6, `share ${share}`);
  });

  it('applies no fault per reading for half-written, which is the file writer’s', () => {
    const { items, injector } = simulate('iot-temp', { 'half-written': 1 }, 20);
    assert.ok(items.every((i) => !i.fault && i.expect === 'stored'));
    assert.equal(injector.counts['half-written'], 0);
  });
});
