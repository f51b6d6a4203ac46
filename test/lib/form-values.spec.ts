import assert from 'node:assert/strict';
import { listOf, numberOr } from '../../lib/form-values';

describe('lib/form-values', () => {
  it('reads numbers from form fields, falling back when empty', () => {
    assert.equal(numberOr('7', 10), 7);
    assert.equal(numberOr(0, 10), 0);
    assert.equal(numberOr('', 10), 10);
    assert.equal(numberOr(undefined, 5432), 5432);
    assert.ok(Number.isNaN(numberOr('seven', 10)), 'garbage stays NaN for the validators downstream');
  });

  it('reads a comma-separated field as its trimmed, non-empty items', () => {
    assert.deepEqual(listOf(' silver , quarantine,, '), ['silver', 'quarantine']);
    assert.deepEqual(listOf(''), []);
    assert.deepEqual(listOf(undefined), []);
  });
});
