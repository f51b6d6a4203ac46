import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CsvFileReader, type FileRecord } from '../../lib/files/csv-reader';
import {
  IOT_ENVIRONMENT_HEADER,
  iotEnvironmentLine,
  seededRows,
  writeIotEnvironmentCsv,
} from '../../lib/generators/iot-environment-csv';
import { Validator } from '../../lib/validate/validator';

let dir: string;

describe('lib/generators/iot-environment-csv', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'medallion-env-csv-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('has the header of the campus dataset, and gives the same line for the same row', () => {
    const dataset = readFileSync(
      join(__dirname, '..', '..', '..', 'shared', 'datasets', 'university_mental_health_iot_dataset.csv'),
      'utf8',
    );
    assert.equal(dataset.slice(0, dataset.indexOf('\n')), IOT_ENVIRONMENT_HEADER);
    // pinned: the same bytes on every run and machine, whatever was generated before
    const last = iotEnvironmentLine(999_999);
    assert.equal(
      iotEnvironmentLine(0),
      '2024-01-01 00:00:00,101,18.09,80.46,90,63.17,259.97,17,39,9.78,3.5,0',
    );
    assert.equal(iotEnvironmentLine(9).slice(0, 24), '2024-01-01 00:15:00,105,');
    assert.equal(last, '2029-09-14 07:45:00,105,24.08,64.27,80,70.42,306.53,26,33,8.03,2.7,0');
    assert.equal(iotEnvironmentLine(999_999), last);
    assert.notEqual(iotEnvironmentLine(5).slice(24), iotEnvironmentLine(10).slice(24), 'the values vary');
  });

  it('writes the header and N LF lines, and resolves with the bytes written', async () => {
    const path = join(dir, 'five.csv');
    const bytes = await writeIotEnvironmentCsv(path, 5);
    const text = readFileSync(path, 'utf8');
    assert.equal(
      text,
      `${[IOT_ENVIRONMENT_HEADER, ...[0, 1, 2, 3, 4].map((i) => iotEnvironmentLine(i))].join('\n')}\n`,
    );
    assert.equal(bytes, statSync(path).size);
  });

  it('writes files of several chunks whole, at about 70 bytes a row', async () => {
    const path = join(dir, 'many.csv');
    const rows = 40_000;
    const bytes = await writeIotEnvironmentCsv(path, rows);
    const lines = readFileSync(path, 'utf8').split('\n');
    assert.equal(lines.length, rows + 2, 'header, rows and the empty string after the last LF');
    assert.equal(lines[rows], iotEnvironmentLine(rows - 1));
    assert.equal(lines[rows + 1], '');
    assert.equal(bytes, statSync(path).size);
    assert.ok(bytes / rows > 60 && bytes / rows < 80, `${bytes / rows} bytes a row`);
  });

  it('gives rows the iot-environment profile finds valid', async () => {
    const path = join(dir, 'valid.csv');
    await writeIotEnvironmentCsv(path, 1000);
    const records: FileRecord[] = [];
    for await (const batch of new CsvFileReader(path, { batchSize: 250 }).read())
      records.push(...batch.records);
    assert.equal(records.length, 1000);
    const out = new Validator('iot-environment', '').validate(records, undefined, 'valid.csv');
    assert.deepEqual(out.quarantine, []);
    assert.equal(out.table, 'silver.environment_readings');
    assert.equal(out.silver.length, 1000);
    assert.deepEqual(out.silver[0].ts, new Date('2024-01-01T00:00:00Z'));
    assert.equal(out.silver[0].location_id, '101');
  });

  it('never repeats (location_id, timestamp)', () => {
    const keys = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const [timestamp, location] = iotEnvironmentLine(i).split(',');
      keys.add(`${location} ${timestamp}`);
    }
    assert.equal(keys.size, 10_000);
  });

  it('makes the seeded rows invalid, each for one rule, keys kept, the others valid', async () => {
    const invalid = seededRows(1000, 40, 7);
    assert.deepEqual(seededRows(1000, 40, 7), invalid, 'the same seed picks the same rows');
    assert.notDeepEqual(seededRows(1000, 40, 8), invalid);
    assert.equal(new Set(invalid).size, 40);
    assert.ok(invalid.every((i, k) => i >= 0 && i < 1000 && (k === 0 || invalid[k - 1] < i)));
    const path = join(dir, 'invalid.csv');
    await writeIotEnvironmentCsv(path, 1000, new Set(invalid));
    const records: FileRecord[] = [];
    for await (const batch of new CsvFileReader(path, { batchSize: 250 }).read())
      records.push(...batch.records);
    const out = new Validator('iot-environment', '').validate(records, undefined, 'invalid.csv');
    assert.equal(out.silver.length, 960);
    assert.deepEqual(
      out.quarantine.map((q) => q.line_no),
      invalid.map((i) => i + 2),
    );
    const rules = out.quarantine.map((q) => (q.errors as Array<{ rule: string }>).map((e) => e.rule));
    assert.deepEqual(
      rules,
      invalid.map((i) => [i % 2 === 0 ? 'max' : 'type']),
    );
  });
});
