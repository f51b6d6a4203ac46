import assert from 'node:assert/strict';
import { DEFAULT_SCHEMAS } from '../../lib/pg/identifiers';
import {
  checkParams,
  csvFileName,
  REPORT_NAMES,
  reportStatement,
  rowsAsCsv,
} from '../../lib/reports/reports';

describe('reports: parameters, statements and CSV', () => {
  it('checks parameters, naming each bad one and its rule', () => {
    assert.deepEqual(checkParams(undefined), {});
    assert.deepEqual(checkParams({ limit: '20', hours: 1.5, threshold: '3.5' }), {
      limit: 20,
      hours: 1.5,
      threshold: 3.5,
    });
    assert.throws(() => checkParams({ limit: 1001 }), /params.limit: .*1000/);
    assert.throws(() => checkParams({ limit: 2.5 }), /params.limit: .*expected int/);
    assert.throws(() => checkParams({ hours: -1 }), /params.hours: /);
    assert.throws(
      () => checkParams({ window: '1 fortnight' }),
      /params.window: a whole number of s, m, h, d or w/,
    );
    assert.throws(() => checkParams({ metric: '' }), /params.metric: /);
    assert.throws(() => checkParams({ table: 'x' }), /table/);
  });

  it('puts values only in parameters, and bounds every statement', () => {
    const hostile = "x'); DROP TABLE bronze.records; --";
    for (const name of REPORT_NAMES) {
      const s = reportStatement(name, { metric: hostile, location: hostile, threshold: 3 }, DEFAULT_SCHEMAS);
      assert.ok(!s.text.includes(hostile), name);
      assert.match(s.text, /\bLIMIT (\$\d+|1)\b/, `${name} has a row limit`);
    }
    const series = reportStatement('metric-series', { metric: hostile }, DEFAULT_SCHEMAS);
    assert.deepEqual(series.values, [hostile, 3600, 48, null, 1000]);
    assert.deepEqual(reportStatement('runs', {}, DEFAULT_SCHEMAS).values, [24, 50]);
    assert.deepEqual(reportStatement('metric-series', { window: '1d' }, DEFAULT_SCHEMAS).values, [
      null,
      86400,
      48 * 24,
      null,
      1000,
    ]);
  });

  it('quotes the schema names of a pg-config', () => {
    const s = reportStatement('bronze', {}, { ...DEFAULT_SCHEMAS, bronze: 'plant_raw' });
    assert.match(s.text, /FROM "plant_raw"\.records/);
  });

  it('writes rows as CSV: a header, quoted where needed, empty cells for missing values', () => {
    assert.equal(
      rowsAsCsv([
        { a: 1, b: null, c: 'x,"y"', d: { k: 1 }, e: true },
        { a: 2, f: 'new' },
      ]),
      'a,b,c,d,e,f\r\n1,,"x,""y""","{""k"":1}",true,\r\n2,,,,,new\r\n',
    );
    assert.equal(rowsAsCsv([]), '');
    assert.equal(
      rowsAsCsv([{ location_id: "=cmd|' /C calc'!A0", note: '@SUM(1+1)', t: '-3.5', n: -2, s: '+1+x' }]),
      `location_id,note,t,n,s\r\n'=cmd|' /C calc'!A0,'@SUM(1+1),-3.5,-2,'+1+x\r\n`,
      'formula cells (a location read from a hostile file) are neutralized, numbers are not',
    );
    assert.equal(
      csvFileName('quarantine-rules', new Date('2026-11-24T15:30:00.123Z')),
      'quarantine-rules-20261124T153000Z.csv',
    );
  });
});
