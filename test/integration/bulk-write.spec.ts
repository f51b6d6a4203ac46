import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { TableWriter, type TableWriterOptions } from '../../lib/pg/bulk-write';
import { DEFAULT_SCHEMAS, resolveTable } from '../../lib/pg/identifiers';
import { WriteConfigError, type DbRecord } from '../../lib/pg/write-plan';
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
      CREATE TABLE public.windows (
        location text, window_start int, count int, avg double precision,
        PRIMARY KEY (location, window_start)
      );
      CREATE TABLE public.nokey (a int);`);
  });
  after(async () => {
    await pool.end();
    await db.drop();
  });

  const makeWriter = (
    table: string,
    onConflict: 'nothing' | 'update',
    extra: Partial<TableWriterOptions> = {},
  ) =>
    new TableWriter(pool, {
      table: resolveTable(table),
      onConflict,
      progressTable: resolveTable('medallion.batches'),
      ...extra,
    });
  const bronze = (extra: Partial<TableWriterOptions> = {}) => makeWriter('bronze.records', 'nothing', extra);
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

  it('with a version column, replaces a stored row only by one with a version at least as large', async () => {
    const writer = makeWriter('public.windows', 'update', { versionColumn: 'count' });
    const windows = async () =>
      (await pool.query('SELECT location, count, avg FROM public.windows ORDER BY location')).rows;
    await writer.write([
      { location: 'a', window_start: 0, count: 5, avg: 1 },
      { location: 'b', window_start: 0, count: 2, avg: 4 },
    ]);
    // a recomputation from an older snapshot of silver lands last: it saw fewer readings
    const stale = await writer.write([
      { location: 'a', window_start: 0, count: 3, avg: 9 },
      { location: 'b', window_start: 0, count: 2, avg: 4 },
    ]);
    assert.deepEqual([stale.inserted, stale.updated, stale.conflicted], [0, 0, 2]);
    assert.deepEqual(await windows(), [
      { location: 'a', count: 5, avg: 1 },
      { location: 'b', count: 2, avg: 4 },
    ]);
    const newer = await writer.write([
      { location: 'a', window_start: 0, count: 7, avg: 2 },
      { location: 'b', window_start: 0, count: 2, avg: 4.5 },
    ]);
    assert.deepEqual([newer.inserted, newer.updated], [0, 2]);
    assert.deepEqual(await windows(), [
      { location: 'a', count: 7, avg: 2 },
      { location: 'b', count: 2, avg: 4.5 },
    ]);
  });

  it('keeps the last of in-batch duplicates with DO UPDATE and counts real changes only', async () => {
    const writer = makeWriter('public.readings', 'update');
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
    const writer = makeWriter('public.kinds', 'update');
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
    const writer = makeWriter('public.kinds', 'update');
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

  it('stores the rest of a batch and names the rows the database refuses', async () => {
    const writer = makeWriter('public.readings', 'nothing');
    const r = await writer.write([
      { location: 'x1', ts: '2026-02-01T00:00:00Z', value: 1 },
      { location: 'x2', ts: 'not a time', value: 2 },
      { location: null, ts: '2026-02-01T00:00:00Z', value: 3 },
      { location: 'x4', ts: '2026-02-01T00:00:00Z', value: 4 },
    ]);
    assert.equal(r.path, 'isolating');
    assert.deepEqual([r.inserted, r.conflicted, r.rejected.length], [2, 0, 2]);
    assert.deepEqual(
      r.rejected.map((x) => [x.index, x.code, x.column]),
      [
        [1, '22007', 'ts'],
        [2, '23502', 'location'],
      ],
    );
    assert.match(
      r.rejected[0].message,
      /invalid input syntax for type timestamp with time zone: "not a time"/,
    );
    assert.match(r.rejected[1].message, /null value in column "location"/);
    assert.deepEqual(r.rejected[1].record, { location: null, ts: '2026-02-01T00:00:00Z', value: 3 });
    assert.equal(await count(`SELECT count(*) AS n FROM public.readings WHERE location IN ('x1','x4')`), 2);
  });

  it('isolates 3 refused rows among 5 000 and commits the other 4 997 with one progress row', async () => {
    const batch = bronzeBatch('sha-poison', 1, 5000);
    for (const i of [17, 2500, 4999]) batch[i].line_no = `line ${i}`;
    const key = { sourceKey: 'sha-poison', batch: 0, layer: 'bronze', last: true };
    const r = await bronze().write(batch, key);
    assert.equal(r.path, 'isolating');
    assert.equal(r.inserted, 4997);
    assert.deepEqual(
      r.rejected.map((x) => [x.index, x.code, x.column]),
      [
        [17, '22P02', 'line_no'],
        [2500, '22P02', 'line_no'],
        [4999, '22P02', 'line_no'],
      ],
    );
    assert.equal(
      await count(`SELECT count(*) AS n FROM bronze.records WHERE source_key = 'sha-poison'`),
      4997,
    );
    assert.deepEqual(r.progress, {
      stored: true,
      rowsIn: 5000,
      inserted: 4997,
      duplicate: 0,
      quarantined: 3,
    });
  });

  it('takes the COPY fast path on a first load and the staging path on a replay', async () => {
    const batch = bronzeBatch('sha-fast', 1, 1000);
    const writer = bronze();
    const first = await writer.write(batch, {
      sourceKey: 'sha-fast',
      batch: 0,
      layer: 'bronze',
      last: false,
    });
    assert.equal(first.path, 'direct');
    assert.equal(first.inserted, 1000);
    const replay = await writer.write(batch, {
      sourceKey: 'sha-fast',
      batch: 0,
      layer: 'bronze',
      last: false,
    });
    assert.equal(replay.path, 'staging', 'the ledger shows a replay: no fast-path attempt');
    assert.deepEqual([replay.inserted, replay.conflicted], [0, 1000]);
    assert.equal(await count(`SELECT count(*) AS n FROM bronze.records WHERE source_key = 'sha-fast'`), 1000);
  });

  it('falls back from the fast path on a conflict and backs off from it', async () => {
    const writer = bronze();
    await writer.write(bronzeBatch('sha-back', 1, 10));
    const overlap = await writer.write(bronzeBatch('sha-back', 6, 10));
    assert.equal(overlap.path, 'staging');
    assert.deepEqual([overlap.inserted, overlap.conflicted], [5, 5]);
    const next = await writer.write(bronzeBatch('sha-back', 100, 10));
    assert.equal(next.path, 'staging', 'one batch skips the fast path after a conflict');
    const later = await writer.write(bronzeBatch('sha-back', 200, 10));
    assert.equal(later.path, 'direct');
    const dup = await writer.write([...bronzeBatch('sha-back', 300, 3), ...bronzeBatch('sha-back', 300, 1)]);
    assert.deepEqual([dup.path, dup.inserted, dup.conflicted], ['staging', 3, 1]);
    const plain = await bronze({ fastPath: false }).write(bronzeBatch('sha-back', 400, 10));
    assert.equal(plain.path, 'staging');
  });

  it('keeps the first commit counts in the progress row when a batch is replayed', async () => {
    const key = {
      sourceKey: 'sha-progress',
      batch: 3,
      layer: 'bronze',
      runId: '6f1c1d2e-8d7b-4d59-9a35-0a4f5d2c7b10',
      last: true,
    };
    const batch = bronzeBatch('sha-progress', 1, 200);
    batch[5].line_no = 'bad';
    const first = await bronze().write(batch, key);
    assert.deepEqual(first.progress, {
      stored: true,
      rowsIn: 200,
      inserted: 199,
      duplicate: 0,
      quarantined: 1,
    });
    const replay = await bronze().write(batch, key);
    assert.deepEqual([replay.inserted, replay.conflicted, replay.rejected.length], [0, 199, 1]);
    assert.deepEqual(replay.progress, {
      stored: false,
      rowsIn: 200,
      inserted: 199,
      duplicate: 0,
      quarantined: 1,
    });
    const rows = await pool.query(`SELECT * FROM medallion.batches WHERE source_key = 'sha-progress'`);
    assert.equal(rows.rows.length, 1);
    assert.deepEqual(
      [
        rows.rows[0].batch,
        rows.rows[0].layer,
        rows.rows[0].rows_in,
        rows.rows[0].inserted,
        rows.rows[0].duplicate,
      ],
      [3, 'bronze', 200, 199, 0],
    );
    assert.deepEqual(
      [rows.rows[0].quarantined, rows.rows[0].last, rows.rows[0].run_id],
      [1, true, key.runId],
    );
  });

  it('counts records, not rows, in the progress row of a long-format table (one row per metric)', async () => {
    const writer = makeWriter('silver.readings', 'nothing');
    const rows = (lines: number[], metrics = ['co', 'no2', 'temp']) =>
      lines.flatMap((line) =>
        metrics.map((metric) => ({
          ts: new Date(Date.UTC(2024, 0, 1, line)).toISOString(),
          location_id: 'L1',
          metric,
          value: metric === 'temp' && line === 7 ? 'hot' : line,
          quality_score: 1,
          rule_version: 'v1',
          source_key: 'long',
          line_no: line,
        })),
      );
    const key = (batch: number) => ({ sourceKey: 'long', batch, layer: 'silver', last: false });
    const progress = async (batch: number) =>
      (
        await pool.query(
          `SELECT rows_in, inserted, duplicate, quarantined FROM medallion.batches
            WHERE source_key = 'long' AND batch = $1 AND layer = 'silver'`,
          [batch],
        )
      ).rows[0];

    // the COPY fast path: 4 records, 12 rows, all new
    const first = await writer.write(rows([1, 2, 3, 4]), key(0));
    assert.equal(first.path, 'direct');
    assert.deepEqual(await progress(0), { rows_in: 4, inserted: 4, duplicate: 0, quarantined: 0 });

    // staging: lines 3 and 4 are stored already (their rows conflict), 5 and 6 are new
    const second = await writer.write(rows([3, 4, 5, 6]), key(1));
    assert.equal(second.inserted, 6);
    assert.deepEqual(await progress(1), { rows_in: 4, inserted: 2, duplicate: 2, quarantined: 0 });

    // isolating: line 7's temp value is refused, so line 7 is quarantined although two of its rows went in
    const third = await writer.write(rows([7, 8]), key(2));
    assert.equal(third.path, 'isolating');
    assert.equal(third.rejected.length, 1);
    assert.deepEqual(await progress(2), { rows_in: 2, inserted: 1, duplicate: 0, quarantined: 1 });

    // a record of which only a new metric is new counts as inserted
    await writer.write(rows([1], ['humidity']), key(3));
    assert.deepEqual(await progress(3), { rows_in: 1, inserted: 1, duplicate: 0, quarantined: 0 });
  });

  it('counts MQTT readings (each its own source key, all on line 1) by reading, in long format and in bronze', async () => {
    const reading = (device: string, metrics: string[]) =>
      metrics.map((metric) => ({
        ts: '2026-11-24T08:00:00Z',
        location_id: device,
        metric,
        value: 1,
        quality_score: 1,
        rule_version: 'v1',
        source_key: `mqtt:${device}`,
        line_no: 1,
      }));
    const progress = async (sourceKey: string) =>
      (
        await pool.query(
          `SELECT rows_in, inserted, duplicate FROM medallion.batches WHERE source_key = $1 AND batch = 0`,
          [sourceKey],
        )
      ).rows[0];
    const long = makeWriter('silver.readings', 'nothing');
    await long.write([...reading('a', ['co', 'temp']), ...reading('b', ['co'])], {
      sourceKey: 'mqtt-long',
      batch: 0,
      layer: 'silver',
      last: false,
    });
    assert.deepEqual(await progress('mqtt-long'), { rows_in: 2, inserted: 2, duplicate: 0 });

    const bronze = makeWriter('bronze.records', 'nothing');
    const raw = (device: string) => ({
      source_kind: 'mqtt',
      source_key: `mqtt:${device}`,
      line_no: 1,
      raw: Buffer.from(device),
    });
    // the same reading delivered twice in one batch is two rows read, one of them a duplicate
    await bronze.write([raw('a'), raw('b'), raw('a')], {
      sourceKey: 'mqtt-bronze',
      batch: 0,
      layer: 'bronze',
      last: false,
    });
    assert.deepEqual(await progress('mqtt-bronze'), { rows_in: 3, inserted: 2, duplicate: 1 });
  });

  it('records progress for an empty batch too (a source whose last batch is empty)', async () => {
    const r = await bronze().write([], { sourceKey: 'sha-empty', batch: 7, layer: 'bronze', last: true });
    assert.deepEqual(r.progress, { stored: true, rowsIn: 0, inserted: 0, duplicate: 0, quarantined: 0 });
    assert.equal(
      await count(`SELECT count(*) AS n FROM medallion.batches WHERE source_key = 'sha-empty' AND last`),
      1,
    );
  });

  it('reports fields that have no column', async () => {
    const writer = makeWriter('public.readings', 'nothing');
    const r = await writer.write([
      { location: 'y', ts: '2026-02-01T00:00:00Z', value: 1, quality_score: 1, unit: 'C' },
    ]);
    assert.deepEqual(r.ignoredFields, ['quality_score', 'unit']);
    assert.equal(r.inserted, 1);
  });

  it('names a missing table and a table without a unique key', async () => {
    const missing = makeWriter('silver.nope', 'nothing');
    await assert.rejects(
      missing.write([{ a: 1 }]),
      (e: Error) => e instanceof TableNotFoundError && /silver.nope does not exist/.test(e.message),
    );
    const nokey = makeWriter('public.nokey', 'nothing');
    await assert.rejects(
      nokey.write([{ a: 1 }]),
      (e: Error) => e instanceof WriteConfigError && /has no unique key/.test(e.message),
    );
  });

  it('writes an empty batch without a progress key without touching the database', async () => {
    const r = await bronze().write([]);
    assert.deepEqual([r.rows, r.inserted, r.conflicted, r.path], [0, 0, 0, 'none']);
  });

  it('leaves every pool connection released after failures', async () => {
    const writer = makeWriter('public.readings', 'nothing');
    for (let i = 0; i < 5; i++) {
      assert.equal((await writer.write([{ location: 'z', ts: 'bad', value: 1 }])).rejected.length, 1);
      await assert.rejects(writer.write([{ location: 'z' }]), /no field|covers none/);
    }
    assert.equal(pool.waitingCount, 0);
    assert.equal(pool.totalCount - pool.idleCount, 0);
  });
});
