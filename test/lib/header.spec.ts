import assert from 'node:assert/strict';
import { configuredHeader, isBlankRow, resolveHeader, ROW_INDEX, toFields } from '../../lib/files/header';
import { WholeFileError, type WholeFileRule } from '../../lib/files/sniff';

function fails(fn: () => unknown, rule: WholeFileRule, message: RegExp, line?: number) {
  assert.throws(fn, (err: Error) => {
    assert.ok(err instanceof WholeFileError, `expected a WholeFileError, got ${err.name}`);
    assert.equal(err.rule, rule);
    assert.match(err.message, message);
    assert.equal(err.line, line);
    return true;
  });
}

describe('lib/files/header', () => {
  describe('resolveHeader', () => {
    it('uses the trimmed names of the header line', () => {
      assert.deepEqual(resolveHeader([' id ', 'temp', 'out/in'], 1), {
        names: ['id', 'temp', 'out/in'],
        fromFile: true,
      });
    });

    it('drops empty names at the end (trailing delimiters)', () => {
      assert.deepEqual(resolveHeader(['Date', 'Time', 'AH', '', ' '], 1).names, ['Date', 'Time', 'AH']);
    });

    it('names an empty name in the middle after its position', () => {
      assert.deepEqual(resolveHeader(['a', '', 'c', ' ', 'e'], 1).names, [
        'a',
        'column_2',
        'c',
        'column_4',
        'e',
      ]);
    });

    it('refuses a header without any name', () => {
      fails(
        () => resolveHeader(['', ' ', ''], 4),
        'no-header',
        /line 4 should be the header but has no column names/,
        4,
      );
    });

    it('refuses a header line that looks like data', () => {
      fails(
        () => resolveHeader(['1', '2.5', '2018-12-08', 'x'], 3),
        'no-header',
        /line 3 looks like data, not a header \(1, 2\.5, 2018-12-08, x\)/,
        3,
      );
      fails(() => resolveHeader(['08-12-2018 09:30', '29', 'In'], 1), 'no-header', /looks like data/, 1);
      fails(() => resolveHeader(['10/03/2004', '18.00.00', '2,6'], 1), 'no-header', /looks like data/, 1);
      // half of the names looking like data is enough to refuse
      fails(() => resolveHeader(['id', '2020'], 1), 'no-header', /looks like data/, 1);
      assert.deepEqual(resolveHeader(['id', 'name', '2020'], 1).names, ['id', 'name', '2020']);
    });

    it('refuses a header that repeats a name', () => {
      fails(
        () => resolveHeader(['a', 'b', 'a'], 2),
        'header',
        /line 2: the header repeats the column "a" \(columns 1 and 3\)/,
        2,
      );
      fails(
        () => resolveHeader(['a', ' b', 'b '], 1),
        'header',
        /repeats the column "b" \(columns 2 and 3\)/,
        1,
      );
      // a generated name can collide with a real one
      fails(() => resolveHeader(['a', '', 'column_2'], 1), 'header', /repeats the column "column_2"/, 1);
    });

    it('names an unnamed leading row index when the first row has one value more', () => {
      assert.equal(ROW_INDEX, '_row');
      const firstRow = ['1', '2015-02-04 17:51:00', '23.18'];
      assert.deepEqual(resolveHeader(['date', 'Temperature'], 1, firstRow).names, [
        '_row',
        'date',
        'Temperature',
      ]);
      // trailing empty values of the row do not count
      assert.deepEqual(resolveHeader(['date', 'temp'], 1, ['1', 'x', 'y', '', ' ']).names, [
        '_row',
        'date',
        'temp',
      ]);
      assert.deepEqual(resolveHeader(['date', 'temp'], 1, ['x', 'y']).names, ['date', 'temp']);
      assert.deepEqual(resolveHeader(['date', 'temp'], 1, ['1', 'x', 'y', 'z']).names, ['date', 'temp']);
      assert.deepEqual(resolveHeader(['date', 'temp'], 1).names, ['date', 'temp']);
      fails(() => resolveHeader(['_row', 'b'], 1, ['1', '2', '3']), 'header', /repeats the column "_row"/, 1);
    });
  });

  describe('configuredHeader', () => {
    it('uses the configured names, trimmed', () => {
      assert.deepEqual(configuredHeader([' id', 'temp ']), { names: ['id', 'temp'], fromFile: false });
    });

    it('refuses an empty or repeated name', () => {
      fails(() => configuredHeader(['a', ' ']), 'header', /the Columns option has an empty name/);
      fails(() => configuredHeader(['a', 'b', ' a']), 'header', /the Columns option repeats "a"/);
    });
  });

  describe('toFields', () => {
    it('pairs values with names', () => {
      assert.deepEqual(toFields(['a', 'b'], ['1', '']), { a: '1', b: '' });
    });

    it('keeps extra non-empty values as column_<n> and drops empty ones', () => {
      assert.deepEqual(toFields(['a', 'b'], ['1', '2', '3', '', '']), { a: '1', b: '2', column_3: '3' });
      assert.deepEqual(toFields(['a', 'b'], ['1', '2', '', '4']), { a: '1', b: '2', column_4: '4' });
    });

    it('leaves missing values absent', () => {
      const fields = toFields(['a', 'b', 'c'], ['1']);
      assert.deepEqual(fields, { a: '1' });
      assert.equal('b' in fields, false);
      assert.deepEqual(toFields(['a'], []), {});
    });
  });

  describe('isBlankRow', () => {
    it('is true only when every value is empty or whitespace', () => {
      assert.equal(isBlankRow([]), true);
      assert.equal(isBlankRow(['']), true);
      assert.equal(isBlankRow(['', ' ', '\t', '']), true);
      assert.equal(isBlankRow(['', 'x', '']), false);
      assert.equal(isBlankRow(['0']), false);
    });
  });
});
