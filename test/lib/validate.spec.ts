import assert from 'node:assert/strict';
import { compileRules, type RecordError } from '../../lib/validate/compile';
import { compileDateFormat, DateFormatError, parseTimestamp } from '../../lib/validate/date-format';
import { closestProfile, detectProfile, inputColumns, PROFILES } from '../../lib/validate/profiles';
import { RuleSetError, type RuleSetInput } from '../../lib/validate/rules';
import { silverRows } from '../../lib/validate/silver-rows';
import { Validator } from '../../lib/validate/validator';

const utc = (s: string) => Date.parse(`${s}Z`);

describe('lib/validate/date-format', () => {
  it('reads day-first, month-first and year-first formats, with seconds or fractions', () => {
    assert.equal(
      compileDateFormat('dd-mm-yyyy HH:MM').parse('08-12-2018 09:30', 'UTC'),
      utc('2018-12-08T09:30:00'),
    );
    assert.equal(compileDateFormat('mm/dd/yyyy').parse('12/08/2018', 'UTC'), utc('2018-12-08T00:00:00'));
    assert.equal(
      compileDateFormat('yyyy-mm-dd HH:MM:SS').parse('2024-05-01 08:15:30.25', 'UTC'),
      utc('2024-05-01T08:15:30.250'),
    );
    assert.equal(
      compileDateFormat('dd/mm/yyyy HH.MM.SS').parse('10/03/2004 18.00.00', 'UTC'),
      utc('2004-03-10T18:00:00'),
    );
    assert.equal(compileDateFormat('dd.mm.yy').parse('01.02.24', 'UTC'), utc('2024-02-01T00:00:00'));
  });

  it('refuses dates that are not in the calendar and times that are not on the clock', () => {
    const f = compileDateFormat('dd-mm-yyyy HH:MM');
    for (const bad of [
      '31-02-2024 10:00',
      '29-02-2023 10:00',
      '00-01-2024 10:00',
      '01-13-2024 10:00',
      '01-01-2024 24:00',
      '01-01-2024 10:60',
      '1-1-24 10:00',
      '01-01-2024',
    ]) {
      assert.equal(f.parse(bad, 'UTC'), undefined, bad);
    }
    assert.equal(f.parse('29-02-2024 10:00', 'UTC'), utc('2024-02-29T10:00:00'), 'a leap day');
  });

  it('keeps years before 100 and far in the future as written, and has no year 0', () => {
    const f = compileDateFormat('yyyy-mm-dd HH:MM:SS');
    const iso = (s: string) => new Date(f.parse(s, 'UTC')!).toISOString();
    assert.equal(iso('0001-01-01 00:00:00'), '0001-01-01T00:00:00.000Z');
    assert.equal(iso('0099-12-31 23:59:59'), '0099-12-31T23:59:59.000Z');
    assert.equal(iso('9999-12-31 23:59:59'), '9999-12-31T23:59:59.000Z');
    assert.equal(iso('0004-02-29 12:00:00'), '0004-02-29T12:00:00.000Z', 'year 4 was a leap year');
    assert.equal(f.parse('0003-02-29 12:00:00', 'UTC'), undefined);
    assert.equal(f.parse('0000-01-01 00:00:00', 'UTC'), undefined);
    assert.equal(parseTimestamp('0000-06-01T00:00:00Z', [], 'UTC'), undefined);
    assert.equal(parseTimestamp('0001-01-01T00:30:00+01:00', [], 'UTC'), undefined, 'year 0 in UTC');
    assert.equal(parseTimestamp('0001-01-01T00:00:00Z', [], 'UTC'), Date.parse('0001-01-01T00:00:00Z'));
  });

  it('reads naive timestamps in the given time zone, across daylight saving time', () => {
    const f = compileDateFormat('dd/mm/yyyy HH.MM.SS');
    assert.equal(f.parse('10/03/2004 18.00.00', 'Europe/Rome'), utc('2004-03-10T17:00:00'), 'CET is UTC+1');
    assert.equal(f.parse('10/07/2004 18.00.00', 'Europe/Rome'), utc('2004-07-10T16:00:00'), 'CEST is UTC+2');
    assert.equal(f.parse('10/07/2004 18.00.00', 'America/New_York'), utc('2004-07-10T22:00:00'));
  });

  it('takes ISO 8601 with an offset whatever the formats, and names bad formats', () => {
    assert.equal(parseTimestamp('2024-05-01T08:00:00+02:00', [], 'UTC'), utc('2024-05-01T06:00:00'));
    assert.equal(parseTimestamp('2024-05-01 08:00:00Z', [], 'Asia/Tokyo'), utc('2024-05-01T08:00:00'));
    assert.equal(parseTimestamp('2024-05-01', [], 'UTC'), undefined, 'no format and no offset');
    assert.throws(() => compileDateFormat('dd-mm HH:MM'), DateFormatError);
    assert.throws(() => compileDateFormat('yyyy-Q'), /unknown letter "Q"/);
  });
});

function errorsOf(rules: RuleSetInput, record: Record<string, unknown>): RecordError[] {
  const { valid, invalid } = compileRules(rules).validate([
    { line_no: 7, raw: Buffer.alloc(0), fields: record },
  ]);
  assert.equal(valid.length + invalid.length, 1);
  return invalid[0]?.errors ?? [];
}

describe('lib/validate/compile', () => {
  const temp = PROFILES['iot-temp'];
  const env = PROFILES['iot-environment'];
  const reading = {
    id: '__export__.temp_log_196134_bd201015',
    'room_id/id': 'Room Admin',
    noted_date: '08-12-2018 09:30',
    temp: '29',
    'out/in': 'In',
  };

  it('types and renames a valid iot-temp record, with its line and a quality score', () => {
    const { valid, invalid } = compileRules(temp).validate([
      { line_no: 2, raw: Buffer.from('x'), fields: reading },
    ]);
    assert.deepEqual(invalid, []);
    assert.deepEqual(valid, [
      {
        line: 2,
        values: {
          id: reading.id,
          room_id: 'Room Admin',
          ts: new Date(utc('2018-12-08T09:30:00')),
          temp: 29,
          out_in: 'In',
        },
        quality: 1,
      },
    ]);
  });

  it('names every error of a record: line, field, rule, value, expected', () => {
    const errors = errorsOf(temp, {
      ...reading,
      noted_date: '31-02-2024 10:00',
      temp: '61',
      'out/in': 'Inside',
      id: ' ',
    });
    assert.deepEqual(
      errors.map((e) => [e.line, e.field, e.rule, e.value]),
      [
        [7, 'id', 'required', ' '],
        [7, 'ts', 'format', '31-02-2024 10:00'],
        [7, 'temp', 'max', '61'],
        [7, 'out_in', 'enum', 'Inside'],
      ],
    );
    const max = errors.find((e) => e.rule === 'max')!;
    assert.equal(max.expected, 'a number ≥ -50 and ≤ 60');
    assert.equal(max.message, 'line 7: temp is "61", expected a number ≥ -50 and ≤ 60');
    assert.match(errors[0].message, /id is required \(a key field\)/);
  });

  it('refuses NaN, Infinity, words and half numbers as numbers', () => {
    for (const bad of ['NaN', 'Infinity', '-Infinity', 'twenty', '2,5', '1e', '0x10']) {
      assert.deepEqual(
        errorsOf(temp, { ...reading, temp: bad }).map((e) => [e.field, e.rule]),
        [['temp', 'type']],
        bad,
      );
    }
  });

  it('never lets a key field be empty, even when the rule does not say required', () => {
    const errors = errorsOf(env, { timestamp: '2024-05-01 08:00:00', location_id: '' });
    assert.deepEqual(
      errors.map((e) => [e.field, e.rule]),
      [['location_id', 'required']],
    );
  });

  it('applies missing-value markers (numerically), decimal commas, joined fields, constants and unit conversion', () => {
    const rules: RuleSetInput = {
      name: 'air',
      version: 'air/1',
      timezone: 'Europe/Rome',
      key: ['ts', 'location_id'],
      fields: [
        { field: 'ts', join: ['Date', 'Time'], type: 'timestamp', formats: ['dd/mm/yyyy HH.MM.SS'] },
        { field: 'location_id', constant: 'station-1', type: 'string' },
        {
          field: 'co',
          from: 'CO(GT)',
          type: 'number',
          decimalComma: true,
          missing: ['-200'],
          min: 0,
          max: 50,
          metric: true,
        },
        {
          field: 't_c',
          from: 'T_F',
          type: 'number',
          convert: 'F->C',
          min: -50,
          max: 60,
          metric: true,
          unit: '°C',
        },
      ],
    };
    const { valid, invalid } = compileRules(rules).validate([
      { Date: '10/03/2004', Time: '18.00.00', 'CO(GT)': '2,6', T_F: '68' },
      { Date: '10/03/2004', Time: '19.00.00', 'CO(GT)': '-200,0', T_F: '32' },
      { Date: '10/03/2004', Time: '', 'CO(GT)': '1', T_F: '32' },
    ]);
    assert.deepEqual(
      valid.map((v) => v.values),
      [
        { ts: new Date(utc('2004-03-10T17:00:00')), location_id: 'station-1', co: 2.6, t_c: 20 },
        { ts: new Date(utc('2004-03-10T18:00:00')), location_id: 'station-1', co: null, t_c: 0 },
      ],
    );
    assert.equal(valid[1].quality, 0.75, 'one of two optional values missing, the other plausible');
    assert.deepEqual(
      invalid.map((i) => i.errors.map((e) => [e.field, e.rule])),
      [[['ts', 'required']]],
    );
  });

  it('takes plain readings (no line) and file records that could not be parsed', () => {
    const { valid, invalid } = compileRules(temp).validate([
      { ...reading, 'room_id/id': 'Room 1' },
      {
        line_no: 9,
        raw: Buffer.from('"x'),
        error: 'line 9 could not be parsed: a quote opened on line 9 is never closed',
      },
      null,
    ]);
    assert.equal(valid[0].line, undefined);
    assert.equal(valid[0].values.room_id, 'Room 1');
    assert.deepEqual(
      invalid.map((i) => [i.line, i.errors[0].rule]),
      [
        [9, 'parse'],
        [undefined, 'parse'],
      ],
    );
    assert.match(invalid[0].errors[0].message, /never closed/);
  });

  it('refuses rule sets that cannot work, naming where', () => {
    const ts = { field: 'ts', type: 'timestamp' as const };
    const where = { field: 'location_id', type: 'string' as const };
    const base = {
      name: 'x',
      version: 'x/1',
      key: ['ts'],
      fields: [ts, where, { field: 'a', type: 'number' as const, metric: true }],
    };
    const withA = (a: Record<string, unknown>) => ({
      ...base,
      fields: [ts, where, { field: 'a', metric: true, ...a }],
    });
    assert.doesNotThrow(() => compileRules(base));
    assert.throws(() => compileRules({ ...base, key: ['b'] }), /key field "b" is not one of the fields/);
    assert.throws(
      () => compileRules(withA({ type: 'number', min: 5, max: 1 })),
      /fields\.2: min is greater than max/,
    );
    assert.throws(() => compileRules(withA({ type: 'text' })), RuleSetError);
    assert.throws(
      () => compileRules({ ...base, timezone: 'Mars/Olympus' }),
      /unknown time zone "Mars\/Olympus"/,
    );
    assert.throws(
      () => compileRules(withA({ type: 'timestamp', formats: ['HH:MM'] })),
      /field "a": date format "HH:MM" has no year/,
    );
    assert.throws(
      () => compileRules({ ...base, fields: [ts, where] }),
      /at least one field with metric: true/,
    );
    assert.throws(() => compileRules({ ...base, location: 'room' }), /need a field "room"/);
  });
});

describe('lib/validate/silver-rows', () => {
  it('gives a built-in profile one typed row per record, with quality, rule version and line', () => {
    const compiled = compileRules(PROFILES['iot-temp']);
    const { valid } = compiled.validate([
      {
        line_no: 2,
        raw: Buffer.alloc(0),
        fields: {
          id: 'r1',
          'room_id/id': 'Room Admin',
          noted_date: '08-12-2018 09:30',
          temp: '29',
          'out/in': 'Out',
        },
      },
    ]);
    assert.deepEqual(silverRows(compiled.rules, valid), [
      {
        id: 'r1',
        room_id: 'Room Admin',
        ts: new Date(utc('2018-12-08T09:30:00')),
        temp: 29,
        out_in: 'Out',
        quality_score: 1,
        rule_version: 'iot-temp/1',
        line_no: 2,
      },
    ]);
  });

  it('spreads a custom record over silver.readings, one row per metric with a value', () => {
    // quality: two of the three optional fields have a value, and no number is bounded
    const compiled = compileRules({
      name: 'office',
      version: 'office/3',
      key: ['ts'],
      fields: [
        { field: 'ts', from: 'date', type: 'timestamp', formats: ['yyyy-mm-dd HH:MM:SS'] },
        { field: 'location_id', constant: 'office', type: 'string' },
        { field: 'temperature', from: 'Temperature', type: 'number', metric: true, unit: '°C' },
        { field: 'co2', from: 'CO2', type: 'number', metric: true, unit: 'ppm' },
        { field: 'occupied', from: 'Occupancy', type: 'boolean' },
      ],
    });
    const { valid, invalid } = compiled.validate([
      {
        line_no: 5,
        raw: Buffer.alloc(0),
        fields: { date: '2015-02-04 17:51:00', Temperature: '23.18', CO2: '', Occupancy: '1' },
      },
      {
        line_no: 6,
        raw: Buffer.alloc(0),
        fields: { date: '2015-02-04 17:52:00', Temperature: '', CO2: '', Occupancy: '1' },
      },
    ]);
    // a record with no metric value would leave no row: it is quarantined, not lost
    assert.deepEqual(
      invalid.map((r) => r.errors),
      [
        [
          {
            line: 6,
            field: 'temperature,co2',
            rule: 'empty',
            value: null,
            expected: 'a value in at least one metric',
            message: 'line 6: no measurement has a value (temperature, co2 are all missing)',
          },
        ],
      ],
    );
    assert.deepEqual(silverRows(compiled.rules, valid), [
      {
        ts: new Date(utc('2015-02-04T17:51:00')),
        location_id: 'office',
        metric: 'temperature',
        value: 23.18,
        unit: '°C',
        quality_score: 0.833,
        rule_version: 'office/3',
        line_no: 5,
      },
    ]);
  });
});

describe('lib/validate/profiles', () => {
  it('recognises a built-in profile by its columns, and none for others', () => {
    const temp = 'id,room_id/id,noted_date,temp,out/in'.split(',');
    const campus =
      'timestamp,location_id,temperature_celsius,humidity_percent,air_quality_index,noise_level_db,lighting_lux,crowd_density,stress_level,sleep_hours,mood_score,mental_health_status'.split(
        ',',
      );
    assert.equal(detectProfile(temp), 'iot-temp');
    assert.equal(detectProfile([...campus, 'extra']), 'iot-environment');
    assert.equal(detectProfile(campus.slice(1)), undefined, 'a key column missing');
    assert.equal(detectProfile(campus.slice(0, 4)), 'iot-environment', 'a sensor sending some measurements');
    assert.equal(detectProfile([...campus.slice(0, 4), 'extra']), undefined, 'some measurements and more');
    assert.equal(detectProfile(['Date', 'Time', 'CO(GT)']), undefined);
    assert.deepEqual(inputColumns(PROFILES['iot-temp']), temp);
  });
});

describe('lib/validate/validator', () => {
  const reading = {
    id: 'r1',
    'room_id/id': 'Room A',
    noted_date: '08-12-2018 09:30',
    temp: '29',
    'out/in': 'In',
  };

  it('picks the rule set by the columns with auto, and quarantines a batch none fits under version auto', () => {
    const v = new Validator('auto', '');
    const fits = v.validate([{ line_no: 2, raw: Buffer.alloc(0), fields: reading }], undefined, 'a.csv');
    assert.deepEqual(
      [fits.table, fits.ruleVersion, fits.valid, fits.silver.length],
      ['silver.temperature_readings', 'iot-temp/1', 1, 1],
    );
    const none = v.validate(
      [{ line_no: 4, raw: Buffer.alloc(0), fields: { Date: '10/03/2004' } }],
      undefined,
      'b.csv',
    );
    assert.deepEqual([none.table, none.ruleVersion, none.valid, none.silver], [null, 'auto', 0, []]);
    assert.deepEqual(
      none.quarantine.map((q) => [q.line_no, q.source_name, q.rule_version, q.errors[0].rule]),
      [[4, 'b.csv', 'auto', 'profile']],
    );
  });

  it('refuses a NUL character in text (PostgreSQL text cannot hold it) and keeps the record storable as jsonb', () => {
    const v = new Validator('iot-temp', '');
    const out = v.validate([
      {
        line_no: 2,
        raw: Buffer.alloc(0),
        fields: { ...reading, 'room_id/id': 'Room\u0000A', 'x\u0000': 'y' },
      },
    ]);
    assert.equal(out.valid, 0);
    const [row] = out.quarantine;
    assert.deepEqual(
      row.errors.map((e) => [e.field, e.rule, e.value, e.expected]),
      [['room_id', 'type', 'Room\ufffdA', 'text without NUL characters']],
    );
    assert.equal(row.record['room_id/id'], 'Room\ufffdA');
    assert.equal(row.record['x\ufffd'], 'y');
    const nul: unknown[] = [];
    JSON.stringify(row, (k, v) => {
      for (const s of [k, v]) if (typeof s === 'string' && s.includes('\u0000')) nul.push(s);
      return v;
    });
    assert.deepEqual(nul, [], 'no NUL left for jsonb');
  });

  it('names the columns the closest profile lacks when none fits', () => {
    const campus = inputColumns(PROFILES['iot-environment']);
    assert.deepEqual(closestProfile(campus.filter((c) => c !== 'location_id')), {
      name: 'iot-environment',
      missing: ['location_id'],
    });
    assert.equal(closestProfile(['Date', 'CO(GT)']), undefined);
    const v = new Validator('auto', '');
    const fields = Object.fromEntries(campus.filter((c) => c !== 'location_id').map((c) => [c, '1']));
    const [row] = v.validate([{ line_no: 5, raw: Buffer.alloc(0), fields }]).quarantine;
    assert.deepEqual([row.errors[0].field, row.errors[0].rule], ['location_id', 'profile']);
    assert.match(
      row.errors[0].message,
      /^line 5: no built-in profile has the columns of this batch \(.*\); the closest, iot-environment, needs location_id: choose one/,
    );
  });

  it('lets msg.profile override the node, and names an unknown profile', () => {
    const v = new Validator('iot-environment', '');
    assert.equal(v.validate([reading], 'iot-temp').table, 'silver.temperature_readings');
    assert.throws(() => v.validate([reading], 'nope'), /unknown profile "nope"/);
    assert.throws(() => new Validator('custom', '{"name":"x"}'), /invalid rule set/);
  });
});
