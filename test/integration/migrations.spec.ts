import assert from 'node:assert/strict';
import { Pool } from 'pg';
import { DEFAULT_SCHEMAS } from '../../lib/pg/identifiers';
import { migrate, MIGRATIONS } from '../../lib/pg/migrations';
import { appliedMigrations, createTestDatabase, query, type TestDatabase } from '../support/db';

describe('migrations (real PostgreSQL)', () => {
  let db: TestDatabase;
  beforeEach(async () => (db = await createTestDatabase('migrations')));
  afterEach(async () => db.drop());

  it('creates the schemas and tables, then finds nothing left to do', async () => {
    const pool = new Pool({ connectionString: db.url, max: 2 });
    try {
      const first = await migrate(pool, { ...DEFAULT_SCHEMAS });
      assert.deepEqual(
        first.applied,
        MIGRATIONS.map((m) => m.version),
      );
      const second = await migrate(pool, { ...DEFAULT_SCHEMAS });
      assert.deepEqual(second.applied, []);
      assert.equal(second.current, MIGRATIONS[MIGRATIONS.length - 1].version);
    } finally {
      await pool.end();
    }
    const tables = await query<{ t: string }>(
      db.url,
      `SELECT table_schema || '.' || table_name AS t FROM information_schema.tables
        WHERE table_schema IN ('medallion','bronze','silver','gold') ORDER BY 1`,
    );
    assert.deepEqual(
      tables.map((r) => r.t),
      [
        'bronze.records',
        'gold.anomalies',
        'gold.metric_windows',
        'medallion.batches',
        'medallion.file_events',
        'medallion.files',
        'medallion.runs',
        'medallion.schema_migrations',
        'silver.environment_readings',
        'silver.quarantine',
        'silver.readings',
        'silver.temperature_readings',
      ],
    );
    const schemas = await query<{ n: string }>(
      db.url,
      `SELECT nspname AS n FROM pg_namespace WHERE nspname IN ('medallion','bronze','silver','gold') ORDER BY 1`,
    );
    assert.deepEqual(
      schemas.map((r) => r.n),
      ['bronze', 'gold', 'medallion', 'silver'],
    );
  });

  it('applies each version once when many processes start together', async () => {
    const pools = Array.from({ length: 6 }, () => new Pool({ connectionString: db.url, max: 1 }));
    try {
      const results = await Promise.all(pools.map((p) => migrate(p, { ...DEFAULT_SCHEMAS })));
      const appliedTotal = results.flatMap((r) => r.applied);
      assert.deepEqual(
        appliedTotal.sort(),
        MIGRATIONS.map((m) => m.version),
      );
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
    assert.deepEqual(
      await appliedMigrations(db.url),
      MIGRATIONS.map((m) => m.version),
    );
  });

  it('honours configured schema names', async () => {
    const pool = new Pool({ connectionString: db.url, max: 1 });
    try {
      await migrate(pool, { medallion: 'ops', bronze: 'raw', silver: 'clean', gold: 'mart' });
    } finally {
      await pool.end();
    }
    const rows = await query<{ t: string }>(
      db.url,
      `SELECT table_schema || '.' || table_name AS t FROM information_schema.tables
        WHERE table_schema IN ('ops','raw','clean') ORDER BY 1`,
    );
    assert.deepEqual(
      rows.map((r) => r.t),
      [
        'clean.environment_readings',
        'clean.quarantine',
        'clean.readings',
        'clean.temperature_readings',
        'ops.batches',
        'ops.file_events',
        'ops.files',
        'ops.runs',
        'ops.schema_migrations',
        'raw.records',
      ],
    );
  });

  it('rejects unsafe schema names before touching the database', async () => {
    const pool = new Pool({ connectionString: db.url, max: 1 });
    try {
      await assert.rejects(
        migrate(pool, { ...DEFAULT_SCHEMAS, bronze: 'x"; DROP SCHEMA public; --' }),
        /bronze schema name/,
      );
    } finally {
      await pool.end();
    }
    const rows = await query(db.url, `SELECT 1 FROM pg_namespace WHERE nspname = 'medallion'`);
    assert.equal(rows.length, 0);
  });
});
