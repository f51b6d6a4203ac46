import assert from 'node:assert/strict';
import { ConnectionConfigError, describeTarget, redactUrl, toPoolConfig } from '../../lib/pg/connection';
import { describeError, isConnectionError } from '../../lib/pg/errors';

describe('lib/pg/connection', () => {
  it('builds a pool config from a URL, the credential password winning', () => {
    const c = toPoolConfig({ url: 'postgres://app@db.example:5433/plant', password: 's3cret', poolSize: 4 });
    assert.equal(c.connectionString, 'postgres://app@db.example:5433/plant');
    assert.equal(c.password, 's3cret');
    assert.equal(c.max, 4);
    assert.equal(c.application_name, 'node-red-iot-medallion');
    assert.equal(describeTarget(c), 'app@db.example:5433/plant');
  });

  it('builds a pool config from fields', () => {
    const c = toPoolConfig({ host: 'db', port: 6543, database: 'iot', user: 'nr', ssl: 'verify-full' });
    assert.equal(c.host, 'db');
    assert.equal(c.port, 6543);
    assert.equal(c.database, 'iot');
    assert.deepEqual(c.ssl, { rejectUnauthorized: true });
    assert.equal(describeTarget(c), 'nr@db:6543/iot');
  });

  it('names an environment variable that is not set', () => {
    assert.throws(
      () => toPoolConfig({ url: '${DATABASE_URL}' }),
      (e: Error) =>
        e instanceof ConnectionConfigError &&
        /environment variable DATABASE_URL, which is not set/.test(e.message),
    );
    assert.throws(() => toPoolConfig({ host: '${PGHOST}' }), /host refers to environment variable PGHOST/);
  });

  it('rejects malformed settings with the field and the rule', () => {
    assert.throws(() => toPoolConfig({ url: 'mysql://x/y' }), /must start with postgres:\/\//);
    assert.throws(() => toPoolConfig({ url: 'not a url' }), /not a valid postgres:\/\/ connection URL/);
    assert.throws(() => toPoolConfig({}), /set either a URL or a host/);
    assert.throws(() => toPoolConfig({ host: 'h', port: 70000 }), /port must be 1–65535/);
    assert.throws(
      () => toPoolConfig({ host: 'h', poolSize: 0 }),
      /pool size must be a whole number from 1 to 1000/,
    );
    assert.throws(() => toPoolConfig({ host: 'h', poolSize: 2.5 }), /pool size/);
  });

  it('never shows a password', () => {
    assert.equal(redactUrl('postgres://u:pw@h:5432/d'), 'postgres://u:***@h:5432/d');
    assert.equal(redactUrl('postgres://u@h/d'), 'postgres://u@h/d');
    assert.doesNotMatch(describeTarget(toPoolConfig({ url: 'postgres://u:pw@h/d' })), /pw/);
  });
});

describe('lib/pg/errors', () => {
  it('tells connection problems from statement errors', () => {
    assert.equal(isConnectionError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), true);
    assert.equal(isConnectionError(Object.assign(new Error('x'), { code: '57P01' })), true);
    assert.equal(isConnectionError(Object.assign(new Error('x'), { code: '08006' })), true);
    assert.equal(isConnectionError(Object.assign(new Error('x'), { code: '53300' })), true);
    assert.equal(isConnectionError(new Error('Connection terminated unexpectedly')), true);
    assert.equal(isConnectionError(Object.assign(new Error('dup'), { code: '23505' })), false);
    assert.equal(isConnectionError(Object.assign(new Error('syntax'), { code: '42601' })), false);
    assert.equal(isConnectionError(undefined), false);
  });

  it('describes errors in one line, including aggregate socket errors', () => {
    const agg = new AggregateError(
      [
        Object.assign(new Error('connect ECONNREFUSED ::1:5'), { code: 'ECONNREFUSED' }),
        Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5'), { code: 'ECONNREFUSED' }),
      ],
      '',
    );
    assert.equal(describeError(agg), 'connect ECONNREFUSED ::1:5; connect ECONNREFUSED 127.0.0.1:5');
    assert.equal(isConnectionError(agg), true);
    const pgErr = Object.assign(new Error('duplicate key value violates unique constraint "k"'), {
      code: '23505',
      detail: 'Key (a)=(1) already exists.',
    });
    assert.equal(
      describeError(pgErr),
      'duplicate key value violates unique constraint "k" (SQLSTATE 23505) — Key (a)=(1) already exists.',
    );
  });
});
