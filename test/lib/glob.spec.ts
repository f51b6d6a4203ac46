import assert from 'node:assert/strict';
import { GlobError, globMatcher, globToRegExp } from '../../lib/files/glob';

function matches(glob: string, names: string[]): string[] {
  const match = globMatcher(glob);
  return names.filter((n) => match(n));
}

describe('lib/files/glob', () => {
  it('matches any run of characters with *, anchored at both ends', () => {
    assert.deepEqual(
      matches('*.csv', ['a.csv', 'data.2024.csv', 'a.csv.tmp', 'a.csvx', 'acsv', 'A.CSV', 'x.csv']),
      ['a.csv', 'data.2024.csv', 'x.csv'],
    );
    assert.deepEqual(matches('sensor*', ['sensor', 'sensor_1.csv', 'my_sensor.csv']), [
      'sensor',
      'sensor_1.csv',
    ]);
  });

  it('matches exactly one character with ?', () => {
    assert.deepEqual(matches('?.csv', ['a.csv', 'ab.csv', '.csv', '1.csv']), ['a.csv', '1.csv']);
    assert.deepEqual(matches('log-??.txt', ['log-01.txt', 'log-1.txt', 'log-001.txt']), ['log-01.txt']);
  });

  it('matches a character class and its negation', () => {
    assert.deepEqual(matches('[abc].txt', ['a.txt', 'c.txt', 'd.txt', 'ab.txt']), ['a.txt', 'c.txt']);
    assert.deepEqual(matches('[!abc].txt', ['a.txt', 'c.txt', 'd.txt', 'z.txt']), ['d.txt', 'z.txt']);
    assert.deepEqual(
      matches('data_[0-9][0-9].csv', ['data_01.csv', 'data_1.csv', 'data_ab.csv', 'data_99.csv']),
      ['data_01.csv', 'data_99.csv'],
    );
  });

  it('takes a ] right after [ or [! as a member of the class, as a shell does', () => {
    assert.deepEqual(matches('[]x].csv', [']x.csv', '].csv', 'x.csv', 'a.csv']), ['].csv', 'x.csv']);
    assert.deepEqual(matches('[!]x].csv', ['].csv', 'x.csv', 'a.csv', 'ax].csv']), ['a.csv']);
  });

  it('matches alternatives in braces', () => {
    assert.deepEqual(matches('{a,b}.csv', ['a.csv', 'b.csv', 'c.csv', 'ab.csv']), ['a.csv', 'b.csv']);
    assert.deepEqual(matches('*.{csv,txt}', ['x.csv', 'x.txt', 'x.tsv', 'x.csv.txt']), [
      'x.csv',
      'x.txt',
      'x.csv.txt',
    ]);
    assert.deepEqual(
      matches('room_{admin,lab}_*.csv', ['room_admin_1.csv', 'room_lab_.csv', 'room_x_1.csv']),
      ['room_admin_1.csv', 'room_lab_.csv'],
    );
  });

  it('takes regular-expression characters literally', () => {
    assert.deepEqual(matches('a+b(1).csv', ['a+b(1).csv', 'aab1.csv', 'aaab(1).csv']), ['a+b(1).csv']);
    assert.deepEqual(matches('x|y', ['x|y', 'x', 'y']), ['x|y']);
    assert.deepEqual(matches('^a$', ['^a$', 'a']), ['^a$']);
    assert.deepEqual(matches('a,b}', ['a,b}', 'a']), ['a,b}'], 'a comma or } outside braces is literal');
  });

  it('never matches a leading dot, whatever the pattern', () => {
    assert.deepEqual(matches('*', ['.hidden', 'visible', 'a.b']), ['visible', 'a.b']);
    assert.deepEqual(matches('*.csv', ['.~lock.a.csv', '.a.csv', 'a.csv']), ['a.csv']);
    assert.deepEqual(matches('?csv', ['.csv', 'xcsv']), ['xcsv']);
    assert.deepEqual(matches('.*', ['.hidden', '.csv']), []);
    assert.deepEqual(matches('[!a]*', ['.x', 'bx']), ['bx']);
  });

  it('is case-sensitive and ignores spaces around the pattern', () => {
    assert.deepEqual(matches('  *.csv ', ['a.csv', 'a.CSV']), ['a.csv']);
  });

  it('builds an anchored regular expression', () => {
    const re = globToRegExp('*.csv');
    assert.ok(re instanceof RegExp);
    assert.equal(re.test('x.csv'), true);
    assert.equal(re.test('x.csv~'), false);
    assert.equal(re.test('dir/x.csv'), false, '* does not cross a path separator');
  });

  it('refuses empty patterns, paths and unclosed [ or {', () => {
    const refuses = (glob: string, message: RegExp) =>
      assert.throws(
        () => globToRegExp(glob),
        (err: Error) => err instanceof GlobError && err.name === 'GlobError' && message.test(err.message),
        glob,
      );
    refuses('', /the file pattern is empty/);
    refuses('   ', /the file pattern is empty/);
    refuses('in/*.csv', /has a path separator/);
    refuses('in\\*.csv', /has a path separator/);
    refuses('data[0-9.csv', /has a \[ without its \]/);
    refuses('[', /has a \[ without its \]/);
    refuses('{a,b.csv', /has a \{ without its \}/);
    assert.throws(() => globMatcher('x/y'), GlobError);
  });
});
