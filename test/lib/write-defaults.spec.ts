import assert from 'node:assert/strict';
import { copyChunks, planWrite, WriteConfigError } from '../../lib/pg/write-plan';
import { bronzeRecords, col } from '../support/table-fixtures';

const records = bronzeRecords;

const options = { table: records.ref, onConflict: 'nothing' as const };

function copyText(...args: Parameters<typeof copyChunks>): string {
  return [...copyChunks(...args)].join('');
}

describe('lib/pg/write-plan: column defaults', () => {
  it('writes a column that has a default and no record field', () => {
    const plan = planWrite(records, new Set(['line_no', 'raw']), options, {
      source_key: 'sha-1',
      run_id: 'run-1',
    });
    assert.deepEqual(
      plan.columns.map((c) => c.name),
      ['source_key', 'line_no', 'raw', 'run_id'],
    );
    assert.deepEqual(plan.key, ['source_key', 'line_no'], 'a default can complete the unique key');
    assert.deepEqual(plan.ignoredFields, []);
    assert.deepEqual(plan.defaults, { source_key: 'sha-1', run_id: 'run-1' });
    assert.equal(
      plan.copyDirect,
      'COPY "bronze"."records" ("source_key", "line_no", "raw", "run_id") FROM STDIN',
    );
    assert.throws(
      () => planWrite(records, new Set(['line_no', 'raw']), options),
      WriteConfigError,
      'without the default the batch covers no unique key',
    );
  });

  it('chooses no column for a default that is undefined', () => {
    const plan = planWrite(records, new Set(['source_key', 'line_no']), options, { run_id: undefined });
    assert.deepEqual(
      plan.columns.map((c) => c.name),
      ['source_key', 'line_no'],
    );
  });

  it('ignores defaults for columns the table lacks or cannot write', () => {
    const defaults = { source_kind: 'file', source_name: 'a.csv', id: 99, run_id: 'r' };
    const plan = planWrite(records, new Set(['source_key', 'line_no']), options, defaults);
    assert.deepEqual(
      plan.columns.map((c) => c.name),
      ['source_key', 'line_no', 'run_id'],
    );
    assert.deepEqual(plan.ignoredFields, [], 'defaults are not record fields');
    const text = copyText([{ source_key: 'k', line_no: 2 }], plan.columns, { defaults, position: false });
    assert.equal(text, 'k\t2\tr\n');
  });

  it("writes the default where a record has no field, and the record's own value otherwise", () => {
    const defaults = { source_key: 'sha-1', run_id: 7 };
    const batch = [
      { line_no: 1, raw: 'a' },
      { line_no: 2, raw: 'b', source_key: 'own', run_id: 8 },
      { line_no: 3, raw: 'c', source_key: null },
    ];
    const plan = planWrite(records, new Set(['line_no', 'raw', 'source_key', 'run_id']), options, defaults);
    assert.deepEqual(
      plan.columns.map((c) => c.name),
      ['source_key', 'line_no', 'raw', 'run_id'],
    );
    assert.equal(
      copyText(batch, plan.columns, { defaults }),
      'sha-1\t1\t\\\\x61\t7\t0\n' + 'own\t2\t\\\\x62\t8\t1\n' + '\\N\t3\t\\\\x63\t7\t2\n',
    );
    assert.equal(
      copyText(batch, plan.columns, { defaults: {} }),
      '\\N\t1\t\\\\x61\t\\N\t0\n' + 'own\t2\t\\\\x62\t8\t1\n' + '\\N\t3\t\\\\x63\t\\N\t2\n',
      'without defaults a missing field is NULL',
    );
  });

  it('escapes default values like record values', () => {
    const cols = [col('source_key'), col('line_no')];
    assert.equal(
      copyText([{ line_no: 1 }], cols, { defaults: { source_key: 'a\tb\\c' } }),
      'a\\tb\\\\c\t1\t0\n',
    );
  });

  it('uses defaults for configured columns and for a subset of the batch', () => {
    const defaults = { source_key: 'sha-2' };
    const plan = planWrite(
      records,
      new Set(['line_no', 'raw']),
      { ...options, columns: ['source_key', 'line_no'] },
      defaults,
    );
    assert.deepEqual(
      plan.columns.map((c) => c.name),
      ['source_key', 'line_no'],
    );
    assert.deepEqual(plan.ignoredFields, ['raw']);
    const batch = [{ line_no: 10 }, { line_no: 11, source_key: 'x' }, { line_no: 12 }];
    assert.equal(
      copyText(batch, plan.columns, { defaults, indices: [2, 1] }),
      'sha-2\t12\t2\n' + 'x\t11\t1\n',
    );
  });
});
