import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { neutralize } from '../../lib/csv-formula';
import {
  keepRejectedBatch,
  quarantineBase,
  rejectedCsv,
  writeQuarantineFiles,
  type QuarantineRow,
} from '../../lib/validate/quarantine-files';

const error = {
  field: 'temp',
  rule: 'max' as const,
  value: '61',
  expected: 'a number ≤ 60',
  message: 'temp is "61"',
};

describe('lib/validate/quarantine-files', () => {
  it('neutralizes cells a spreadsheet would run as formulas, but not plain numbers', () => {
    for (const cell of ['=1+1', '+A1', '-A1', '@SUM(A1)', '\t=1', '\r=1', '=HYPERLINK("http://x")']) {
      assert.equal(neutralize(cell), `'${cell}`, JSON.stringify(cell));
    }
    for (const cell of ['-3.5', '+2', '-200,0', 'Room A', '', '1e5']) assert.equal(neutralize(cell), cell);
  });

  it('writes line_no and every field (first seen first), quoting what CSV needs quoted', () => {
    const rows: QuarantineRow[] = [
      { line_no: 3, record: { id: 'a', note: 'x, "y"' }, errors: [error], rule_version: 'v1' },
      { line_no: 9, record: { id: '=cmd', extra: 'line\nbreak' }, errors: [error], rule_version: 'v1' },
    ];
    assert.equal(
      rejectedCsv(rows),
      'line_no,id,note,extra\r\n3,a,"x, ""y""",\r\n9,\'=cmd,,"line\nbreak"\r\n',
    );
  });

  it('names files by source and batch, safely', () => {
    assert.equal(quarantineBase('IOT-temp.csv', 3), 'IOT-temp.3');
    assert.equal(quarantineBase('../../etc/pass wd.csv', 0), '.._.._etc_pass_wd.0');
    assert.match(quarantineBase(undefined, undefined), /^records\.\d+$/);
    assert.equal(
      quarantineBase(`${'x'.repeat(250)}.csv`, 12),
      `${'x'.repeat(200)}.12`,
      'a file name under 255 bytes',
    );
  });

  it('writes both files whole, and the same again for a replayed batch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'medallion-q-'));
    try {
      const rows: QuarantineRow[] = [
        { line_no: 3, record: { temp: '61' }, errors: [error], rule_version: 'v1' },
      ];
      const files = await writeQuarantineFiles(dir, 'IOT-temp.3', rows, { source: 'IOT-temp.csv' });
      await writeQuarantineFiles(dir, 'IOT-temp.3', rows, { source: 'IOT-temp.csv' });
      assert.deepEqual(readdirSync(dir).sort(), ['IOT-temp.3.errors.json', 'IOT-temp.3.rejected.csv']);
      assert.equal(readFileSync(files.csv, 'utf8'), 'line_no,temp\r\n3,61\r\n');
      const detail = JSON.parse(readFileSync(files.errors, 'utf8'));
      assert.deepEqual(detail, {
        source: 'IOT-temp.csv',
        rows: [{ line: 3, rule_version: 'v1', errors: [error] }],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps a batch in a folder it creates, with where it came from; says why when it cannot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'medallion-q-'));
    try {
      const rows: QuarantineRow[] = [
        { line_no: 7, record: { temp: '61' }, errors: [error], rule_version: 'v1' },
      ];
      const source = { name: 'IOT-temp.csv', key: 'abc', batch: 2, runId: 'r1' };
      const kept = await keepRejectedBatch(join(dir, 'new'), rows, source);
      assert.equal(kept.error, undefined);
      assert.deepEqual(readdirSync(join(dir, 'new')).sort(), [
        'IOT-temp.2.errors.json',
        'IOT-temp.2.rejected.csv',
      ]);
      const detail = JSON.parse(readFileSync(kept.files!.errors, 'utf8'));
      assert.deepEqual(
        [detail.source, detail.source_key, detail.batch, detail.run_id],
        ['IOT-temp.csv', 'abc', 2, 'r1'],
      );

      // a file where the folder should be: ENOTDIR, even as root
      writeFileSync(join(dir, 'blocked'), '');
      const refused = await keepRejectedBatch(join(dir, 'blocked', 'q'), rows, source);
      assert.equal(refused.files, undefined);
      assert.match(
        refused.error ?? '',
        /^cannot write IOT-temp\.2\.rejected\.csv and IOT-temp\.2\.errors\.json into .*blocked\/q \(.*ENOTDIR.*\): the 1 rejected records go on to silver\.quarantine/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
