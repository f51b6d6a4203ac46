import assert from 'node:assert/strict';
import { copyField, escapeCopyText, fieldText, kindOfType, NULL_FIELD } from '../../lib/pg/copy-text';

describe('lib/pg/copy-text', () => {
  it('escapes the four characters COPY text treats specially', () => {
    assert.equal(escapeCopyText('a\tb\nc\rd\\e'), 'a\\tb\\nc\\rd\\\\e');
    assert.equal(escapeCopyText('plain ünïcode ✓'), 'plain ünïcode ✓');
  });

  it('writes null and undefined as \\N, but an empty string as empty', () => {
    assert.equal(copyField(null, 'other'), NULL_FIELD);
    assert.equal(copyField(undefined, 'json'), NULL_FIELD);
    assert.equal(copyField('', 'other'), '');
  });

  it('maps PostgreSQL types to encodings', () => {
    assert.equal(kindOfType('bytea', 'U'), 'bytea');
    assert.equal(kindOfType('jsonb', 'U'), 'json');
    assert.equal(kindOfType('json', 'U'), 'json');
    assert.equal(kindOfType('timestamptz', 'D'), 'timestamp');
    assert.equal(kindOfType('date', 'D'), 'timestamp');
    assert.equal(kindOfType('bool', 'B'), 'boolean');
    assert.equal(kindOfType('_int4', 'A'), 'array');
    assert.equal(kindOfType('float8', 'N'), 'other');
  });

  it('encodes bytea as hex from buffers, typed arrays and strings', () => {
    assert.equal(fieldText(Buffer.from([0, 0xff, 0x41]), 'bytea'), '\\x00ff41');
    assert.equal(fieldText(new Uint8Array([1, 2]), 'bytea'), '\\x0102');
    assert.equal(fieldText('é', 'bytea'), '\\xc3a9');
    assert.equal(copyField(Buffer.from([0]), 'bytea'), '\\\\x00');
  });

  it('encodes json from any value, strings included', () => {
    assert.equal(fieldText({ a: 1, b: [true, null] }, 'json'), '{"a":1,"b":[true,null]}');
    assert.equal(fieldText('text', 'json'), '"text"');
    assert.equal(fieldText(3, 'json'), '3');
    assert.equal(copyField({ s: 'tab\there' }, 'json'), '{"s":"tab\\\\there"}');
  });

  it('encodes timestamps from Date, epoch milliseconds and strings', () => {
    assert.equal(fieldText(new Date('2026-01-02T03:04:05.678Z'), 'timestamp'), '2026-01-02T03:04:05.678Z');
    assert.equal(fieldText(0, 'timestamp'), '1970-01-01T00:00:00.000Z');
    assert.equal(fieldText('2026-03-10 08:00', 'timestamp'), '2026-03-10 08:00');
    assert.equal(fieldText(new Date('nope'), 'timestamp'), 'invalid date');
    assert.equal(fieldText(Number.NaN, 'timestamp'), 'invalid date');
  });

  it('encodes booleans and numbers', () => {
    assert.equal(fieldText(true, 'boolean'), 't');
    assert.equal(fieldText(false, 'boolean'), 'f');
    assert.equal(fieldText('yes', 'boolean'), 'yes');
    assert.equal(fieldText(2.5, 'other'), '2.5');
    assert.equal(fieldText(12345678901234567890n, 'other'), '12345678901234567890');
    assert.equal(fieldText(Number.POSITIVE_INFINITY, 'other'), 'Infinity');
  });

  it('writes numbers and dates as fieldText does, without scanning them for escapes', () => {
    for (const [value, kind] of [
      [2.5, 'other'],
      [-0.000001, 'other'],
      [Number.NaN, 'other'],
      [Number.NEGATIVE_INFINITY, 'other'],
      [new Date('2026-01-02T03:04:05.678Z'), 'timestamp'],
      [new Date('nope'), 'timestamp'],
      [1_700_000_000_000, 'timestamp'],
      [7, 'json'],
    ] as const) {
      assert.equal(copyField(value, kind), fieldText(value, kind), `${String(value)} ${kind}`);
    }
  });

  it('encodes arrays as array literals with quoting', () => {
    assert.equal(fieldText([1, 2, null], 'array'), '{"1","2",NULL}');
    assert.equal(fieldText(['a"b', 'c\\d', 'e,f'], 'array'), '{"a\\"b","c\\\\d","e,f"}');
    assert.equal(fieldText([[1], [2]], 'array'), '{{"1"},{"2"}}');
  });

  it('writes objects into text columns as JSON', () => {
    assert.equal(fieldText({ a: 1 }, 'other'), '{"a":1}');
  });
});
