import assert from 'node:assert/strict';
import { pgAck, rowErrors, storedRecords } from '../../lib/pg/ack';
import type { WriteResult } from '../../lib/pg/bulk-write';
import { errorColumn, isRowError, isTransientError } from '../../lib/pg/errors';
import { progressKeyFrom, ProgressKeyError } from '../../lib/pg/progress';

const RUN = '6f1c1d2e-8d7b-4d59-9a35-0a4f5d2c7b10';

describe('lib/pg/progress keys', () => {
  it('keys a batch by source key, content hash, or kind and name', () => {
    assert.deepEqual(
      progressKeyFrom({ key: 'k', sha256: 'h', batch: 2, last: true }, { id: RUN }, 'bronze'),
      {
        sourceKey: 'k',
        batch: 2,
        layer: 'bronze',
        runId: RUN,
        last: true,
      },
    );
    assert.equal(progressKeyFrom({ sha256: 'abc', batch: 0 }, undefined, 'l')?.sourceKey, 'abc');
    assert.equal(
      progressKeyFrom({ kind: 'mqtt', name: 'plant/1', batch: 9 }, undefined, 'l')?.sourceKey,
      'mqtt:plant/1',
    );
  });

  it('writes no progress for messages without a batch number', () => {
    assert.equal(progressKeyFrom(undefined, undefined, 'l'), undefined);
    assert.equal(progressKeyFrom({ kind: 'mqtt', name: 'x' }, undefined, 'l'), undefined);
  });

  it('names what is wrong with a key', () => {
    assert.throws(() => progressKeyFrom({ key: 'k', batch: 1.5 }, undefined, 'l'), ProgressKeyError);
    assert.throws(() => progressKeyFrom({ key: 'k', batch: -1 }, undefined, 'l'), /whole number ≥ 0, got -1/);
    assert.throws(() => progressKeyFrom({ batch: 1 }, undefined, 'l'), /no key, sha256, or kind and name/);
    assert.throws(
      () => progressKeyFrom({ key: 'k', batch: 1 }, { id: 'run-1' }, 'l'),
      /msg.run.id must be a UUID/,
    );
  });
});

describe('lib/pg/ack', () => {
  const result: WriteResult = {
    table: 'bronze.records',
    rows: 4,
    inserted: 2,
    updated: 0,
    conflicted: 1,
    rejected: [
      {
        index: 2,
        record: { line_no: 12, ts: 'nope' },
        code: '22007',
        column: 'ts',
        message: 'invalid input',
      },
    ],
    progress: { stored: false, rowsIn: 4, inserted: 3, duplicate: 0, quarantined: 1 },
    path: 'isolating',
    durationMs: 12.345,
    ignoredFields: [],
  };

  it('passes on the stored records and describes the write', () => {
    const records = [{ a: 1 }, { a: 2 }, { a: 3 }, { a: 4 }];
    assert.deepEqual(storedRecords(records, result), [{ a: 1 }, { a: 2 }, { a: 4 }]);
    const clean = { ...result, rejected: [] };
    assert.equal(storedRecords(records, clean), records, 'the same array when nothing was refused');
    assert.deepEqual(pgAck(result), {
      table: 'bronze.records',
      rows: 4,
      inserted: 2,
      updated: 0,
      conflicted: 1,
      rejected: 1,
      durationMs: 12.3,
      path: 'isolating',
      progress: { replay: true, rowsIn: 4, inserted: 3, duplicate: 0, quarantined: 1 },
    });
  });

  it('describes refused rows the way validation errors are described', () => {
    assert.deepEqual(rowErrors(result.rejected), [
      { index: 2, line: 12, field: 'ts', rule: 'db:22007', value: 'nope', message: 'invalid input' },
    ]);
  });
});

describe('lib/pg/errors classification for retries and isolation', () => {
  const e = (code: string, extra: object = {}) => Object.assign(new Error(code), { code, ...extra });
  it('retries what may succeed unchanged', () => {
    for (const code of ['40001', '40P01', '55P03', '57P01', '08006', 'ECONNRESET', '53300']) {
      assert.equal(isTransientError(e(code)), true, code);
    }
    assert.equal(isTransientError(e('23505')), false);
    assert.equal(isTransientError(e('42P01')), false);
  });

  it('isolates rows only for errors caused by values', () => {
    for (const code of ['22P02', '22007', '22021', '23502', '23505', '23514', '54000']) {
      assert.equal(isRowError(e(code)), true, code);
    }
    for (const code of ['42P01', '42703', '57P01', '40001']) assert.equal(isRowError(e(code)), false, code);
  });

  it('finds the column an error names', () => {
    assert.equal(errorColumn(e('23502', { column: 'location' })), 'location');
    assert.equal(
      errorColumn(e('22P02', { where: 'COPY medallion_stage_1a2b3c4d, line 1, column line_no: "x"' })),
      'line_no',
    );
    assert.equal(errorColumn(e('23505')), undefined);
  });
});
