import assert from 'node:assert/strict';
import {
  asRecords,
  copyChunks,
  planWrite,
  RecordShapeError,
  WriteConfigError,
} from '../../lib/pg/write-plan';
import { bronzeRecords, col, table } from '../support/table-fixtures';

const records = bronzeRecords;

describe('lib/pg/write-plan', () => {
  it('writes the columns the records have and reports the other fields', () => {
    const plan = planWrite(records, new Set(['source_key', 'line_no', 'raw', 'quality', 'id']), {
      table: records.ref,
      onConflict: 'nothing',
    });
    assert.deepEqual(
      plan.columns.map((c) => c.name),
      ['source_key', 'line_no', 'raw'],
    );
    assert.deepEqual(plan.ignoredFields, ['id', 'quality']);
    assert.deepEqual(plan.key, ['source_key', 'line_no']);
    assert.match(
      plan.createStage,
      /^CREATE TEMP TABLE IF NOT EXISTS medallion_stage_[0-9a-f]{8} ON COMMIT DELETE ROWS AS SELECT "source_key", "line_no", "raw", 0::bigint AS medallion_ord FROM "bronze"."records" WITH NO DATA$/,
    );
    const stage = /medallion_stage_[0-9a-f]{8}/.exec(plan.createStage)![0];
    assert.equal(plan.copy, `COPY ${stage} ("source_key", "line_no", "raw", medallion_ord) FROM STDIN`);
    assert.equal(plan.truncateStage, `TRUNCATE ${stage}`);
    assert.equal(plan.copyDirect, 'COPY "bronze"."records" ("source_key", "line_no", "raw") FROM STDIN');
    const same = planWrite(records, new Set(['raw', 'line_no', 'source_key']), {
      table: records.ref,
      onConflict: 'update',
    });
    assert.equal(same.truncateStage, plan.truncateStage, 'one staging table per target and column set');
    const other = planWrite(records, new Set(['source_key', 'line_no']), {
      table: records.ref,
      onConflict: 'nothing',
    });
    assert.notEqual(other.truncateStage, plan.truncateStage);
    assert.match(plan.insert, /ON CONFLICT \("source_key", "line_no"\) DO NOTHING RETURNING 1/);
    assert.match(plan.insert, /ORDER BY medallion_ord/);
  });

  it('collapses in-batch duplicates to the last record for DO UPDATE', () => {
    const plan = planWrite(records, new Set(['source_key', 'line_no', 'raw', 'run_id']), {
      table: records.ref,
      onConflict: 'update',
    });
    assert.match(plan.insert, /SELECT DISTINCT ON \("source_key", "line_no"\)/);
    assert.match(plan.insert, /ORDER BY "source_key", "line_no", medallion_ord DESC/);
    assert.match(
      plan.insert,
      /DO UPDATE SET "raw" = EXCLUDED\."raw", "run_id" = EXCLUDED\."run_id" WHERE ROW/,
    );
    assert.doesNotMatch(plan.insert, /"source_key" = EXCLUDED/);
  });

  it('with a version column, updates only where the stored version is not larger', () => {
    const fields = new Set(['source_key', 'line_no', 'raw']);
    const plan = planWrite(records, fields, {
      table: records.ref,
      onConflict: 'update',
      versionColumn: 'raw',
    });
    assert.match(
      plan.insert,
      /DO UPDATE SET .* WHERE \(t\."raw" IS NULL OR t\."raw" <= EXCLUDED\."raw"\) AND ROW/,
    );
    const without = planWrite(records, fields, { table: records.ref, onConflict: 'update' });
    assert.doesNotMatch(without.insert, /<= EXCLUDED/);
    assert.throws(
      () => planWrite(records, fields, { table: records.ref, onConflict: 'update', versionColumn: 'run_id' }),
      /the version column run_id is not written to bronze\.records/,
    );
    assert.throws(
      () =>
        planWrite(records, fields, { table: records.ref, onConflict: 'update', versionColumn: 'line_no' }),
      /the version column line_no is part of the key of bronze\.records/,
    );
  });

  it('falls back to DO NOTHING when every written column is in the key', () => {
    const plan = planWrite(records, new Set(['source_key', 'line_no']), {
      table: records.ref,
      onConflict: 'update',
    });
    assert.match(plan.insert, /DO NOTHING/);
  });

  it('uses the named key columns and checks them', () => {
    const fields = new Set(['source_key', 'line_no', 'raw']);
    const plan = planWrite(records, fields, {
      table: records.ref,
      onConflict: 'nothing',
      keyColumns: ['line_no', 'source_key'],
    });
    assert.deepEqual(plan.key, ['source_key', 'line_no']);
    assert.throws(
      () => planWrite(records, fields, { table: records.ref, onConflict: 'nothing', keyColumns: ['raw'] }),
      /key columns \(raw\) are not a unique key of bronze.records; its unique keys: \(id\), \(source_key, line_no\)/,
    );
    assert.throws(
      () =>
        planWrite(records, new Set(['raw']), {
          table: records.ref,
          onConflict: 'nothing',
          keyColumns: ['id'],
        }),
      /no value for key column\(s\) id/,
    );
  });

  it('refuses a batch that covers no unique key, and a table without one', () => {
    assert.throws(
      () => planWrite(records, new Set(['raw']), { table: records.ref, onConflict: 'nothing' }),
      (err: Error) => err instanceof WriteConfigError && /covers none of the unique keys/.test(err.message),
    );
    const noKey = table([col('a')], []);
    assert.throws(
      () => planWrite(noKey, new Set(['a']), { table: noKey.ref, onConflict: 'nothing' }),
      /has no unique key: pg-write needs one/,
    );
  });

  it('restricts to configured columns and rejects unknown or generated ones', () => {
    const plan = planWrite(records, new Set(['source_key', 'line_no', 'raw']), {
      table: records.ref,
      onConflict: 'nothing',
      columns: ['source_key', 'line_no'],
    });
    assert.deepEqual(plan.ignoredFields, ['raw']);
    assert.throws(
      () => planWrite(records, new Set(), { table: records.ref, onConflict: 'nothing', columns: ['nope'] }),
      /column nope does not exist in bronze.records/,
    );
    assert.throws(
      () => planWrite(records, new Set(), { table: records.ref, onConflict: 'nothing', columns: ['id'] }),
      /generated and cannot be written/,
    );
  });

  it('says which fields it saw when none matches', () => {
    assert.throws(
      () => planWrite(records, new Set(['temp', 'hum']), { table: records.ref, onConflict: 'nothing' }),
      /no field of the records matches a column of bronze.records \(record fields: temp, hum\)/,
    );
  });

  it("streams COPY lines for a subset of the batch, keeping each record's position", () => {
    const cols = [col('source_key')];
    const text = [
      ...copyChunks([{ source_key: 'a' }, { source_key: 'b' }, { source_key: 'c' }], cols, {
        indices: [2, 0],
      }),
    ];
    assert.equal(text.join(''), 'c\t2\na\t0\n');
  });

  it('streams COPY lines with the batch position as the last field', () => {
    const cols = [col('source_key'), col('raw', 'bytea')];
    const text = [
      ...copyChunks([{ source_key: 'k\t1', raw: Buffer.from('a') }, { source_key: null }], cols),
    ].join('');
    assert.equal(text, 'k\\t1\t\\\\x61\t0\n\\N\t\\N\t1\n');
    const many = Array.from({ length: 1000 }, (_, i) => ({ source_key: `key-${i}`, raw: 'x'.repeat(100) }));
    const chunks = [...copyChunks(many, cols, { chunkBytes: 4096 })];
    assert.ok(chunks.length > 10);
    assert.equal(chunks.join('').split('\n').length - 1, 1000);
    const plain = [...copyChunks([{ source_key: 'a', raw: null }], cols, { position: false })].join('');
    assert.equal(plain, 'a\t\\N\n');
  });

  it('accepts a batch or a single record and names what is wrong otherwise', () => {
    assert.deepEqual(asRecords({ a: 1 }), [{ a: 1 }]);
    assert.deepEqual(asRecords([{ a: 1 }, { a: 2 }]), [{ a: 1 }, { a: 2 }]);
    assert.deepEqual(asRecords([]), []);
    assert.throws(() => asRecords('text'), RecordShapeError);
    assert.throws(() => asRecords('text'), /msg.payload is string: send an object/);
    assert.throws(() => asRecords([{ a: 1 }, 5]), /record 1 of the batch is number/);
    assert.throws(() => asRecords([null]), /record 0 of the batch is null/);
    assert.throws(() => asRecords([[1]]), /record 0 of the batch is an array/);
  });
});
