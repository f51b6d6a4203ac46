import assert from 'node:assert/strict';
import {
  checkSample,
  DELIMITERS,
  guessDelimiter,
  WholeFileError,
  type WholeFileRule,
} from '../../lib/files/sniff';

function refused(sample: Buffer, complete: boolean, rule: WholeFileRule, message: RegExp) {
  assert.throws(
    () => checkSample(sample, complete),
    (err: Error) =>
      err instanceof WholeFileError &&
      err.name === 'WholeFileError' &&
      err.rule === rule &&
      message.test(err.message),
  );
}

/** `length` bytes of text (a header, then `x`) with `control` of them replaced by 0x01. */
function withControlBytes(length: number, control: number): Buffer {
  const buf = Buffer.alloc(length, 'x');
  buf.write('a,b\n', 0, 'latin1');
  for (let i = 0; i < control; i++) buf[length - 1 - i] = 0x01;
  return buf;
}

describe('lib/files/sniff', () => {
  describe('checkSample', () => {
    it('refuses an empty file', () => {
      refused(Buffer.alloc(0), true, 'empty', /the file is empty \(0 bytes\)/);
    });

    it('refuses UTF-16 and UTF-32 text by its BOM', () => {
      refused(
        Buffer.from([0xff, 0xfe, 0x61, 0x00, 0x2c, 0x00]),
        true,
        'undecodable',
        /UTF-16 LE text: save it as UTF-8/,
      );
      refused(Buffer.from([0xfe, 0xff, 0x00, 0x61]), true, 'undecodable', /UTF-16 BE text/);
      refused(Buffer.from([0xff, 0xfe, 0x00, 0x00, 0x61, 0, 0, 0]), true, 'undecodable', /UTF-32 LE text/);
      refused(Buffer.from([0x00, 0x00, 0xfe, 0xff, 0, 0, 0, 0x61]), true, 'undecodable', /UTF-32 BE text/);
    });

    it('refuses known binary formats by their magic number', () => {
      refused(
        Buffer.from('PK\x03\x04\x14\x00rest', 'latin1'),
        true,
        'binary',
        /a zip archive .*not CSV text/,
      );
      refused(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x61]), true, 'binary', /a gzip archive/);
      refused(Buffer.from('%PDF-1.7\n%text', 'latin1'), true, 'binary', /a PDF document/);
      refused(Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), true, 'binary', /a PNG image/);
      refused(Buffer.from('SQLite format 3\x00', 'latin1'), true, 'binary', /an SQLite database/);
    });

    it('refuses a sample with 10 % control bytes or more, not one with less', () => {
      refused(
        withControlBytes(100, 10),
        true,
        'binary',
        /the file is binary, not CSV text \(10 % control bytes in its first 100 bytes\)/,
      );
      refused(withControlBytes(200, 150), true, 'binary', /75 % control bytes/);
      assert.equal(checkSample(withControlBytes(100, 9), true), 'a,b');
      // tab, LF, FF and CR are text
      assert.equal(checkSample(Buffer.from('a\tb\r\n\f\t\t\t\t\t\t\t\r\n'), true), 'a\tb');
    });

    it('accepts a stray NUL in text', () => {
      assert.equal(checkSample(Buffer.from('id,v\n1,x\x00y\n2,z\n', 'latin1'), true), 'id,v');
    });

    it('refuses a sample of blank lines only', () => {
      refused(Buffer.from('\n  \r\n\t\n'), true, 'empty', /the file has only blank lines/);
      refused(Buffer.from('\n\n\n\n'), false, 'empty', /the first 4 bytes of the file are blank lines/);
      refused(Buffer.from('\xef\xbb\xbf\r\n', 'latin1'), true, 'empty', /only blank lines/);
    });

    it('returns the first non-blank line without its BOM or line ending', () => {
      assert.equal(checkSample(Buffer.from('\ufeffid;val\r\n1;2\r\n'), true), 'id;val');
      assert.equal(checkSample(Buffer.from('\ufeff\n \r\n  a,b\n1,2'), false), '  a,b');
      assert.equal(checkSample(Buffer.from('a|b\r1|2\r'), true), 'a|b');
      assert.equal(checkSample(Buffer.from('only line'), true), 'only line');
      // the line is returned as latin1 text: one character per byte
      assert.equal(
        checkSample(Buffer.from('température,b\n'), true),
        Buffer.from('température,b').toString('latin1'),
      );
    });
  });

  describe('guessDelimiter', () => {
    it('knows four delimiters', () => {
      assert.deepEqual([...DELIMITERS], [',', ';', '\t', '|']);
    });

    it('picks the delimiter found most often', () => {
      assert.equal(guessDelimiter('a,b,c'), ',');
      assert.equal(guessDelimiter('Date;Time;CO(GT);PT08.S1(CO);;'), ';');
      assert.equal(guessDelimiter('a\tb\tc'), '\t');
      assert.equal(guessDelimiter('a|b|c'), '|');
      assert.equal(guessDelimiter('a;b;c,d'), ';');
      assert.equal(guessDelimiter('a|b|c;d;e|f'), '|');
    });

    it('falls back to a comma when no delimiter is found, and on a tie', () => {
      assert.equal(guessDelimiter('temperature'), ',');
      assert.equal(guessDelimiter(''), ',');
      assert.equal(guessDelimiter('a;b,c'), ',');
    });

    it('counts only outside quotes', () => {
      assert.equal(guessDelimiter('"a;b;c;d",e,f'), ',');
      assert.equal(guessDelimiter('x;"b,c,d";e'), ';');
      assert.equal(guessDelimiter("'a;b;c',d", "'"), ',');
      // without a quote character quotes are ordinary characters
      assert.equal(guessDelimiter('"a;b;c",d', ''), ';');
    });
  });

  it('WholeFileError carries its rule and line', () => {
    const err = new WholeFileError('header', 'bad', 7);
    assert.equal(err.rule, 'header');
    assert.equal(err.line, 7);
    assert.equal(err.message, 'bad');
    assert.ok(err instanceof Error);
  });
});
