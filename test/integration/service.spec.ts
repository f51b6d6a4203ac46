import assert from 'node:assert/strict';
import { DEFAULT_SCHEMAS } from '../../lib/pg/identifiers';
import { MIGRATIONS } from '../../lib/pg/migrations';
import { PgService, type PgState } from '../../lib/pg/service';
import { appliedMigrations, createTestDatabase, query, type TestDatabase } from '../support/db';
import { freePort } from '../support/processes';

describe('PgService (real PostgreSQL)', () => {
  let db: TestDatabase;
  before(async () => (db = await createTestDatabase('service')));
  after(async () => db.drop());

  it('connects, migrates and reports ready; close ends the pool', async () => {
    const service = new PgService({ connection: { url: db.url }, schemas: { ...DEFAULT_SCHEMAS } });
    const states: string[] = [];
    service.on('state', (s: PgState) => states.push(s.state));
    await service.ready();
    assert.equal(service.state.state, 'ready');
    assert.deepEqual(states, ['connecting', 'ready']);
    assert.match(service.state.message, /^connected to .*medallion_test_service/);
    assert.deepEqual(
      await appliedMigrations(db.url),
      MIGRATIONS.map((m) => m.version),
    );
    await service.close();
    assert.equal(service.pool.ending, true);
    assert.equal(service.pool.totalCount, 0);
    await assert.rejects(service.ready(), /closed/);
  });

  it('reports an unreachable server in red and keeps retrying with backoff', async () => {
    const port = await freePort(); // nothing listens on it
    const service = new PgService({
      connection: { host: '127.0.0.1', port, database: 'x', user: 'u', connectTimeoutMs: 1000 },
      schemas: { ...DEFAULT_SCHEMAS },
      retryInitialMs: 50,
      retryMaxMs: 100,
    });
    const states: PgState[] = [];
    service.on('state', (s: PgState) => states.push(s));
    await assert.rejects(service.ready(), /ECONNREFUSED/);
    assert.equal(service.state.state, 'error');
    assert.match(service.state.message, new RegExp(`ECONNREFUSED 127.0.0.1:${port}`));
    await new Promise((r) => setTimeout(r, 400));
    const attempts = states.filter((s) => s.state === 'connecting').length;
    assert.ok(attempts >= 3, `retried ${attempts} times`);
    await service.close();
    const after = states.length;
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(states.length, after, 'no retries after close');
  });

  it('survives a backend killed by the server and recovers', async () => {
    const warnings: string[] = [];
    const service = new PgService({
      connection: { url: db.url, poolSize: 1 },
      schemas: { ...DEFAULT_SCHEMAS },
      onWarning: (m) => warnings.push(m),
    });
    await service.ready();
    const states: string[] = [];
    service.on('state', (s: PgState) => states.push(s.state));
    const client = await service.pool.connect();
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    client.release();
    await query(db.url, 'SELECT pg_terminate_backend($1)', [rows[0].pid]);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0],
      /PostgreSQL connection lost .*terminating connection due to administrator command/,
    );
    assert.equal(service.state.state, 'error');
    await service.ready();
    assert.deepEqual(states, ['error', 'connecting', 'ready']);
    const again = await service.pool.query('SELECT 1 AS one');
    assert.equal(again.rows[0].one, 1);
    await service.close();
  });
});
