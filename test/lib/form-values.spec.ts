import assert from 'node:assert/strict';
import { listOf, numberOr, textOrEnv } from '../../lib/form-values';

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

  it('reads a typed field as its text, or as the environment variable it names', () => {
    const env = (name: string) => ({ LANDING: '/data/landing', EMPTY: '' })[name];
    assert.equal(textOrEnv('landing', 'str', env, 'folder'), 'landing');
    assert.equal(textOrEnv('${LANDING}', undefined, env, 'folder'), '${LANDING}', 'no type: text, as before');
    assert.equal(textOrEnv(undefined, undefined, env, 'folder'), '');
    assert.equal(textOrEnv(3.5, 'num', env, 'threshold'), '3.5');
    assert.equal(textOrEnv(' LANDING ', 'env', env, 'folder'), '/data/landing');
    assert.equal(textOrEnv('${LANDING}', 'env', env, 'folder'), '/data/landing');
    assert.throws(
      () => textOrEnv('NOPE', 'env', env, 'folder'),
      /^Error: folder: the environment variable NOPE is not set$/,
    );
    assert.throws(() => textOrEnv('EMPTY', 'env', env, 'folder'), /EMPTY is not set/);
    assert.throws(() => textOrEnv(' ', 'env', env, 'url'), /^Error: url: name the environment variable/);
  });
});
