import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { TableWriter, WriteConfigError, type DbRecord } from '../../lib/pg/bulk-write';
import { DEFAULT_SCHEMAS, resolveTable } from '../../lib/pg/identifiers';
import { migrate } from '../../lib/pg/migrations';
import { TableNotFoundError } from '../../lib/pg/table-info';
import { createTestDatabase, type TestDatabase } from '../support/db';

function bronzeBatch(key: string, from: number, n: number): DbRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    source_kind: 'file',
    source_key: key,
    source_name: 'landing/a.csv',
    line_no: from + i,
    raw: `row ${from + i};21,5;${'x'.repeat(i % 7)}`,
  }));
}

describe('TableWriter (real PostgreSQL)', () => {
  let db: TestDatabase;
  let pool: Pool;
  before(async () => {
    db = await createTestDatabase('bulk_write');
    pool = new Pool({ connectionString: db.url, max: 3 });
    await migrate(pool, { ...DEFAULT_SCHEMAS });
    await pool.query(`
      CREATE TABLE public.kinds (
        id integer PRIMARY KEY, label text, doc jsonb, at timestamptz, flag boolean,
        tags text[], amount numeric(10,2), blob bytea
      );
      CREATE TABLE public.readings (
        location text NOT NULL, ts timestamptz NOT NULL, value double precision, note text,
        UNIQUE (location, ts)
      );
      CREATE TABLE public.nokey (a int);`);
  });
  after(async () => {
    await pool.end();
    await db.drop();
  });

  const bronze = () =>
    new TableWriter(pool, { table: resolveTable('bronze.records'), onConflict: 'nothing' });
  const count = async (sql: string, params: unknown[] = []) =>
    Number((await pool.query<{ n: string }>(sql, params)).rows[0].n);

  it('stores a batch of 5 000 once; replaying it inserts nothing', async () => {
    const writer = bronze();
    const batch = bronzeBatch('sha-a', 1, 5000);
    const first = await writer.write(batch);
    assert.equal(first.rows, 5000);
    assert.equal(first.inserted, 5000);
    assert.equal(first.conflicted, 0);
    assert.equal(first.table, 'bronze.records');
    assert.ok(first.durationMs > 0);
    const replay = await writer.write(batch);
    assert.equal(replay.inserted, 0);
    assert.equal(replay.conflicted, 5000);
    assert.equal(await count(`SELECT count(*) AS n FROM bronze.records WHERE source_key = 'sha-a'`), 5000);
  });

  it('stores only the new rows of a partly replayed batch', async () => {
    const writer = bronze();
    await writer.write(bronzeBatch('sha-b', 1, 100));
    const result = await writer.write(bronzeBatch('sha-b', 51, 100));
    assert.equal(result.inserted, 50);
    assert.equal(result.conflicted, 50);
    assert.equal(await count(`SELECT count(*) AS n FROM bronze.records WHERE source_key = 'sha-b'`), 150);
  });

  it('keeps the first of in-batch duplicates with DO NOTHING', async () => {
    const writer = bronze();
    const batch = [
      { source_kind: 'file', source_key: 'sha-c', line_no: 1, raw: 'first' },
      { source_kind: 'file', source_key: 'sha-c', line_no: 1, raw: 'second' },
    ];
    const r = await writer.write(batch);
    assert.equal(r.inserted, 1);
    assert.equal(r.conflicted, 1);
    const { rows } = await pool.query(
      `SELECT convert_from(raw, 'UTF8') AS raw FROM bronze.records WHERE source_key = 'sha-c'`,
    );
    assert.deepEqual(rows, [{ raw: 'first' }]);
  });

  it('keeps the last of in-batch duplicates with DO UPDATE and counts real changes only', async () => {
    const writer = new TableWriter(pool, { table: resolveTable('public.readings'), onConflict: 'update' });
    const ts = '2026-01-01T00:00:00Z';
    const r1 = await writer.write([
      { location: 'r1', ts, value: 1 },
      { location: 'r1', ts, value: 2 },
      { location: 'r2', ts, value: 5 },
    ]);
    assert.deepEqual([r1.inserted, r1.updated, r1.conflicted], [2, 0, 1]);
    const r2 = await writer.write([
      { location: 'r1', ts, value: 2 },
      { location: 'r2', ts, value: 6 },
    ]);
    assert.deepEqual([r2.inserted, r2.updated, r2.conflicted], [0, 1, 2]);
    const { rows } = await pool.query('SELECT location, value FROM public.readings ORDER BY location');
    assert.deepEqual(rows, [
      { location: 'r1', value: 2 },
      { location: 'r2', value: 6 },
    ]);
  });

  it('keeps bytes exactly: NUL, invalid UTF-8, tabs, newlines, backslashes', async () => {
    const writer = bronze();
    const raws = [
      Buffer.from([0x00, 0x41, 0x00]),
      Buffer.from([0xff, 0xfe, 0xc3, 0x28]),
      Buffer.from('a\tb\nc\r\\d "e" \'f\''),
      randomBytes(4096),
      Buffer.alloc(0),
    ];
    await writer.write(
      raws.map((raw, i) => ({ source_kind: 'file', source_key: 'sha-bytes', line_no: i + 1, raw })),
    );
    const { rows } = await pool.query<{ raw: Buffer }>(
      `SELECT raw FROM bronze.records WHERE source_key = 'sha-bytes' ORDER BY line_no`,
    );
    assert.equal(rows.length, raws.length);
    rows.forEach((r, i) => assert.ok(r.raw.equals(raws[i]), `raw ${i}`));
  });

  it('round-trips text with every character COPY treats specially', async () => {
    const writer = new TableWriter(pool, { table: resolveTable('public.kinds'), onConflict: 'update' });
    const labels = [
      'tab\there',
      'line\nbreak',
      'cr\rlf\r\n',
      'back\\slash',
      '\\N',
      '',
      'ünï ✓ 𝄞',
      ' padded ',
    ];
    await writer.write(labels.map((label, i) => ({ id: 100 + i, label })));
    const { rows } = await pool.query<{ label: string }>(
      'SELECT label FROM public.kinds WHERE id >= 100 ORDER BY id',
    );
    assert.deepEqual(
      rows.map((r) => r.label),
      labels,
    );
  });

  it('converts values by column type', async () => {
    const writer = new TableWriter(pool, { table: resolveTable('public.kinds'), onConflict: 'update' });
    const at = new Date('2026-05-06T07:08:09.123Z');
    await writer.write([
      {
        id: 1,
        doc: { a: [1, 'two', null], 'b\tc': 'x\ny' },
        at,
        flag: true,
        tags: ['a,b', 'c"d', null],
        amount: 12.345,
        blob: 'é',
      },
      { id: 2, doc: 'just a string', at: at.getTime(), flag: false, tags: [], amount: '7', blob: null },
    ]);
    const { rows } = await pool.query('SELECT * FROM public.kinds WHERE id < 100 ORDER BY id');
    assert.deepEqual(rows[0].doc, { a: [1, 'two', null], 'b\tc': 'x\ny' });
    assert.equal(rows[0].at.toISOString(), at.toISOString());
    assert.equal(rows[0].flag, true);
    assert.deepEqual(rows[0].tags, ['a,b', 'c"d', null]);
    assert.equal(rows[0].amount, '12.35');
    assert.ok(rows[0].blob.equals(Buffer.from('é')));
    assert.equal(rows[1].doc, 'just a string');
    assert.equal(rows[1].at.toISOString(), at.toISOString());
    assert.deepEqual(rows[1].tags, []);
    assert.equal(rows[1].blob, null);
  });

  it('commits nothing of a batch when the database rejects a row', async () => {
    const writer = new TableWriter(pool, { table: resolveTable('public.readings'), onConflict: 'nothing' });
    await assert.rejects(
      writer.write([
        { location: 'x1', ts: '2026-02-01T00:00:00Z', value: 1 },
        { location: 'x2', ts: 'not a time', value: 2 },
      ]),
      /invalid input syntax for type timestamp with time zone: "not a time"/,
    );
    assert.equal(await count(`SELECT count(*) AS n FROM public.readings WHERE location LIKE 'x%'`), 0);
    await assert.rejects(
      writer.write([{ location: null, ts: '2026-02-01T00:00:00Z', value: 1 }]),
      /null value in column "location"/,
    );
    const ok = await writer.write([{ location: 'x3', ts: '2026-02-01T00:00:00Z', value: 3 }]);
    assert.equal(ok.inserted, 1);
  });

  it('reports fields that have no column', async () => {
    const writer = new TableWriter(pool, { table: resolveTable('public.readings'), onConflict: 'nothing' });
    const r = await writer.write([
      { location: 'y', ts: '2026-02-01T00:00:00Z', value: 1, quality_score: 1, unit: 'C' },
    ]);
    assert.deepEqual(r.ignoredFields, ['quality_score', 'unit']);
    assert.equal(r.inserted, 1);
  });

  it('names a missing table and a table without a unique key', async () => {
    const missing = new TableWriter(pool, { table: resolveTable('silver.nope'), onConflict: 'nothing' });
    await assert.rejects(
      missing.write([{ a: 1 }]),
      (e: Error) => e instanceof TableNotFoundError && /silver.nope does not exist/.test(e.message),
    );
    const nokey = new TableWriter(pool, { table: resolveTable('public.nokey'), onConflict: 'nothing' });
    await assert.rejects(
      nokey.write([{ a: 1 }]),
      (e: Error) => e instanceof WriteConfigError && /has no unique key/.test(e.message),
    );
  });

  it('writes an empty batch without a round trip', async () => {
    const r = await bronze().write([]);
    assert.deepEqual([r.rows, r.inserted, r.conflicted], [0, 0, 0]);
  });

  it('leaves every pool connection released after failures', async () => {
    const writer = new TableWriter(pool, { table: resolveTable('public.readings'), onConflict: 'nothing' });
    for (let i = 0; i < 5; i++) {
      await assert.rejects(writer.write([{ location: 'z', ts: 'bad', value: 1 }]));
    }
    assert.equal(pool.waitingCount, 0);
    assert.equal(pool.totalCount - pool.idleCount, 0);
  });
});
