import assert from 'node:assert/strict';
import { LINEAGE_COLUMNS, lineageOf } from '../../lib/pg/lineage';
import type { ProgressKey } from '../../lib/pg/progress';
import { copyChunks, planWrite } from '../../lib/pg/write-plan';
import type { ColumnInfo, TableInfo } from '../../lib/pg/table-info';

const RUN = '0b8f8a52-4c1e-4d7e-9a57-1f1e0d8c2b11';
const OTHER_RUN = '7d2f0c1a-93b4-4b0e-8f6a-5c4d3e2b1a00';

function progress(extra: Partial<ProgressKey> = {}): ProgressKey {
  return { sourceKey: 'progress-key', batch: 0, layer: 'bronze', last: false, ...extra };
}

describe('lib/pg/lineage', () => {
  it('names five lineage columns', () => {
    assert.deepEqual([...LINEAGE_COLUMNS], ['source_kind', 'source_key', 'source_name', 'run_id', 'batch']);
  });

  it("takes kind, key, name and run from the message's source and run", () => {
    assert.deepEqual(
      lineageOf(
        { kind: 'file', name: 'IOT-temp.csv', key: 'k-1', sha256: 'abc', batch: 3 },
        { id: RUN },
        undefined,
      ),
      { source_kind: 'file', source_key: 'k-1', source_name: 'IOT-temp.csv', run_id: RUN },
    );
  });

  it('falls back to the sha256 for the key', () => {
    assert.deepEqual(lineageOf({ kind: 'file', sha256: 'abc' }, undefined, undefined), {
      source_kind: 'file',
      source_key: 'abc',
    });
  });

  it("prefers the progress key's source key and run", () => {
    const source = { kind: 'mqtt', name: 'sensors/#', key: 'k-1' };
    assert.deepEqual(lineageOf(source, { id: OTHER_RUN }, progress({ runId: RUN })), {
      source_kind: 'mqtt',
      source_key: 'progress-key',
      source_name: 'sensors/#',
      run_id: RUN,
      batch: 0,
    });
    assert.equal(
      lineageOf(source, { id: OTHER_RUN }, progress()).run_id,
      OTHER_RUN,
      'no run in the progress key',
    );
  });

  it('leaves out what the message does not carry', () => {
    assert.deepEqual(lineageOf(undefined, undefined, undefined), {});
    assert.deepEqual(lineageOf({}, {}, undefined), {});
    assert.deepEqual(lineageOf({ kind: '', name: '', key: '', sha256: '' }, { id: null }, undefined), {});
    assert.deepEqual(lineageOf({ name: 'a.csv' }, { id: undefined }, undefined), { source_name: 'a.csv' });
  });

  it('fills the lineage columns a table has, as write defaults', () => {
    const col = (name: string): ColumnInfo => ({
      name,
      type: 'text',
      kind: 'other',
      notNull: false,
      hasDefault: false,
      writable: true,
    });
    const columns = [col('source_key'), col('line_no'), col('source_name'), col('temp')];
    const info: TableInfo = {
      ref: { schema: 'silver', table: 'readings' },
      columns,
      byName: new Map(columns.map((c) => [c.name, c])),
      uniqueKeys: [{ name: 'readings_key', primary: false, columns: ['source_key', 'line_no'] }],
    };
    const defaults = lineageOf({ kind: 'file', name: 'a.csv', sha256: 'abc' }, { id: RUN }, undefined);
    const plan = planWrite(
      info,
      new Set(['line_no', 'temp']),
      { table: info.ref, onConflict: 'nothing' },
      defaults,
    );
    assert.deepEqual(
      plan.columns.map((c) => c.name),
      ['source_key', 'line_no', 'source_name', 'temp'],
    );
    const text = [
      ...copyChunks([{ line_no: 2, temp: '29' }], plan.columns, { defaults, position: false }),
    ].join('');
    assert.equal(text, 'abc\t2\ta.csv\t29\n');
  });
});
