/**
 * The operator page's reports against real PostgreSQL: what each returns from known rows,
 * parameters checked and kept, and every report found by an index (no sequential scan of
 * the tables that grow with the data), read-only.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { DEFAULT_SCHEMAS } from '../../lib/pg/identifiers';
import { migrate } from '../../lib/pg/migrations';
import { ReportReader } from '../../lib/reports/report-reader';
import { REPORT_NAMES, reportStatement, type ReportName } from '../../lib/reports/reports';
import { createTestDatabase, type TestDatabase } from '../support/db';

const schemas = { ...DEFAULT_SCHEMAS };

describe('reports for the operator page (real PostgreSQL)', () => {
  let db: TestDatabase;
  let pool: Pool;
  const read = (report: ReportName, params?: object) =>
    new ReportReader(pool, schemas, { report }).read(undefined, params);

  before(async () => {
    db = await createTestDatabase('reports');
    pool = new Pool({ connectionString: db.url, max: 4 });
    await migrate(pool, schemas);
    const run = randomUUID();
    await pool.query(
      `INSERT INTO medallion.files (sha256, name, size, state, finished_at) VALUES
         (repeat('a', 64), 'today.csv', 10, 'loaded', now()),
         (repeat('b', 64), 'old.csv', 10, 'loaded', now() - interval '3 days'),
         (repeat('c', 64), 'busy.csv', 10, 'claimed', NULL)`,
    );
    await pool.query(
      `INSERT INTO medallion.runs (run_id, source, source_key, started_at, finished_at, status, rows_read,
         rows_inserted, rows_duplicate, rows_quarantined) VALUES
         ($1, 'file:today.csv', 'sha-today', now() - interval '1 minute', now(), 'complete', 10, 7, 1, 2),
         ($2, 'file:old.csv', 'sha-old', now() - interval '3 days', now() - interval '3 days', 'complete', 4, 4, 0, 0)`,
      [run, randomUUID()],
    );
    await pool.query(
      `INSERT INTO medallion.batches (source_key, batch, layer, rows_in, inserted, duplicate, quarantined, committed_at) VALUES
         ('sha-today', 0, 'bronze', 10, 10, 0, 0, now()),
         ('sha-today', 0, 'silver', 8, 7, 1, 0, now()),
         ('sha-today', 0, 'quarantine', 2, 2, 0, 0, now()),
         ('sha-today', 0, 'gold', 5, 5, 0, 0, now()),
         ('sha-old', 0, 'bronze', 4, 4, 0, 0, now() - interval '3 days')`,
    );
    await pool.query(
      `INSERT INTO bronze.records (source_kind, source_key, source_name, line_no, raw, received_at) VALUES
         ('file', 'sha-today', 'today.csv', 2, convert_to('104,24.3,naïve', 'UTF8'), now() - interval '1 minute'),
         ('mqtt', 'mqtt-s1', 'sensors/104/readings', 1, convert_to('{"t":1}', 'UTF8'), now() - interval '5 seconds'),
         ('file', 'sha-today', 'today.csv', 3, convert_to('105,26.1', 'UTF8'), now())`,
    );
    await pool.query(
      `INSERT INTO silver.environment_readings (location_id, ts, temperature_celsius, humidity_percent,
         quality_score, rule_version, source_key, line_no, validated_at) VALUES
         ('104', '2024-05-01T08:00:00Z', 24.3, 62.9, 1, 'v1', 'sha-today', 2, now() - interval '2 seconds'),
         ('105', '2024-05-01T08:15:00Z', 26.1, NULL, 0.9, 'v1', 'sha-today', 3, now())`,
    );
    await pool.query(
      `INSERT INTO silver.temperature_readings (id, room_id, ts, temp, out_in, quality_score, rule_version,
         source_key, line_no, validated_at) VALUES
         ('t1', 'Room Admin', '2018-12-08T09:30:00Z', 29, 'In', 1, 'v1', 'sha-t', 2, now() - interval '1 second')`,
    );
    await pool.query(
      `INSERT INTO silver.quarantine (source_key, line_no, rule_version, source_name, record, errors) VALUES
         ('sha-today', 4, 'v1', 'today.csv', '{"location_id":"104","humidity_percent":"-5"}',
          '[{"field":"humidity_percent","rule":"min","message":"line 4: humidity_percent -5 is below 0"}]'),
         ('sha-today', 5, 'v1', 'today.csv', '{"location_id":""}',
          '[{"field":"location_id","rule":"required","message":"line 5: location_id is empty"},
            {"field":"humidity_percent","rule":"min","message":"line 5: humidity_percent -9 is below 0"}]')`,
    );
    await pool.query(
      `INSERT INTO gold.metric_windows (location_id, metric, window_start, window_end, count, min, max, avg, stddev)
       SELECT loc, 'temp', t, t + interval '1 hour', 2, h, h + 2, h + 1, 1.4
       FROM unnest(ARRAY['Room Admin/In', 'Room Admin/Out']) loc,
            generate_series(timestamptz '2018-12-01T00:00:00Z', timestamptz '2018-12-03T23:00:00Z', interval '1 hour') t,
            LATERAL (SELECT extract(hour FROM t)::float8 AS h) x`,
    );
    await pool.query(
      `INSERT INTO gold.metric_windows (location_id, metric, window_start, window_end, count, min, max, avg, stddev) VALUES
         ('Room Admin/In', 'temp', '2018-12-01T00:00:00Z', '2018-12-02T00:00:00Z', 24, 0, 25, 12.5, 7),
         ('104', 'humidity_percent', '2024-05-01T08:00:00Z', '2024-05-01T09:00:00Z', 1, 62.9, 62.9, 62.9, NULL)`,
    );
    await pool.query(
      `INSERT INTO gold.anomalies (ts, location_id, metric, value, score, baseline, method, threshold) VALUES
         ('2018-12-03T10:00:00Z', 'Room Admin/In', 'temp', 41, 3.2, 30, 'zscore', 3),
         ('2018-12-03T11:00:00Z', 'Room Admin/In', 'temp', 45, 4.5, 30, 'zscore', 3),
         ('2018-12-03T12:00:00Z', 'Room Admin/Out', 'temp', 2, -6, 30, 'zscore', 3),
         ('2018-11-01T12:00:00Z', 'Room Admin/Out', 'temp', 50, 9, 30, 'zscore', 3)`,
    );
  });

  after(async () => {
    await pool?.end();
    await db?.drop();
  });

  it("overview: today's files, rows, valid %, quarantined, the last run and how long ago MQTT last landed", async () => {
    const { rows } = await read('overview');
    assert.equal(rows.length, 1);
    const o = rows[0] as Record<string, unknown> & { last_run: Record<string, unknown>; mqtt_lag_s: number };
    assert.equal(o.files_today, 1);
    assert.equal(Number(o.rows_today), 10);
    assert.equal(Number(o.quarantined_today), 2);
    assert.equal(o.valid_pct, 80);
    assert.equal(o.last_run.source_key, 'sha-today');
    assert.equal(o.last_run.status, 'complete');
    assert.ok(o.mqtt_lag_s >= 4 && o.mqtt_lag_s < 120, String(o.mqtt_lag_s));
  });

  it('runs and quality: the runs in the range, newest first, with the valid %', async () => {
    assert.deepEqual(
      (await read('runs')).rows.map((r) => r.source_key),
      ['sha-today'],
    );
    assert.deepEqual(
      (await read('runs', { hours: 24 * 7 })).rows.map((r) => r.source_key),
      ['sha-today', 'sha-old'],
    );
    assert.equal((await read('runs', { hours: 24 * 7, limit: 1 })).rows.length, 1);
    const [q] = (await read('quality')).rows;
    assert.deepEqual(
      { key: q.source_key, read: Number(q.rows_read), valid: q.valid_pct },
      { key: 'sha-today', read: 10, valid: 80 },
    );
  });

  it('ingest-rate: rows per minute per layer, oldest bucket first, shaped for a chart', async () => {
    const { rows } = await read('ingest-rate');
    const byLayer = Object.fromEntries(rows.map((r) => [r.layer, r.y]));
    assert.deepEqual(byLayer, { bronze: 10, silver: 7, quarantine: 2 });
    assert.ok(rows.every((r) => typeof r.x === 'string' && !Number.isNaN(Date.parse(r.x))));
  });

  it('bronze, silver, quarantine: the newest rows first, raw text decoded, values and rules spelled out', async () => {
    const bronze = (await read('bronze')).rows;
    assert.deepEqual(
      bronze.map((r) => r.raw),
      ['105,26.1', '{"t":1}', '104,24.3,naïve'],
    );
    assert.equal((await read('bronze', { limit: 2 })).rows.length, 2);

    const silver = (await read('silver')).rows;
    assert.deepEqual(
      silver.map((r) => [r.table, r.location, r.values]),
      [
        ['environment_readings', '105', 'temperature_celsius=26.1'],
        ['temperature_readings', 'Room Admin In', 'temp=29'],
        ['environment_readings', '104', 'humidity_percent=62.9, temperature_celsius=24.3'],
      ],
    );

    const quarantine = (await read('quarantine')).rows;
    assert.deepEqual(quarantine[0], {
      ...quarantine[0],
      line_no: '5',
      rules: 'location_id: required, humidity_percent: min',
      detail: 'line 5: location_id is empty; line 5: humidity_percent -9 is below 0',
      record: '{"location_id":""}',
    });
  });

  it('quarantine-rules: records per field and rule with their share and an example', async () => {
    const { rows } = await read('quarantine-rules');
    assert.deepEqual(
      rows.map((r) => [r.field, r.rule, r.records, r.pct]),
      [
        ['humidity_percent', 'min', 2, 100],
        ['location_id', 'required', 1, 50],
      ],
    );
    assert.equal(rows[0].example, 'line 4: humidity_percent -5 is below 0');
  });

  it('metrics and metric-series: dropdown options, then windows of one size up to the newest, per location', async () => {
    assert.deepEqual((await read('metrics')).rows, [
      { value: 'humidity_percent', label: 'humidity_percent' },
      { value: 'temp', label: 'temp' },
    ]);
    const series = (await read('metric-series', { metric: 'temp' })).rows;
    // 48 one-hour windows back from the newest (2018-12-03 23:00), two locations
    assert.equal(series.length, 96);
    assert.deepEqual(series.at(-1), {
      ...series.at(-1),
      x: '2018-12-03T23:00:00.000Z',
      y: 24,
      location: 'Room Admin/Out',
    });
    assert.ok(String(series[0].x) < String(series.at(-1)!.x), 'oldest first');
    const one = (await read('metric-series', { metric: 'temp', location: 'Room Admin/In', hours: 3 })).rows;
    assert.deepEqual(
      one.map((r) => [r.x, r.y]),
      [
        ['2018-12-03T21:00:00.000Z', 22],
        ['2018-12-03T22:00:00.000Z', 23],
        ['2018-12-03T23:00:00.000Z', 24],
      ],
    );
    // no metric chosen yet: the first one gold has
    const first = (await read('metric-series', { hours: 1 })).rows;
    assert.deepEqual(
      first.map((r) => [r.metric, r.location, r.y]),
      [['humidity_percent', '104', 62.9]],
    );
    const daily = (await read('metric-series', { metric: 'temp', window: '1d' })).rows;
    assert.deepEqual(
      daily.map((r) => r.y),
      [12.5],
    );
  });

  it('anomalies: |score| at or above the threshold, in the week up to the newest', async () => {
    const scores = async (threshold: number) =>
      (await read('anomalies', { threshold })).rows.map((r) => r.score);
    assert.deepEqual(await scores(3), [-6, 4.5, 3.2]);
    assert.deepEqual(await scores(4), [-6, 4.5]);
    assert.deepEqual(await scores(7), []);
    assert.deepEqual(
      (await read('anomalies', { threshold: 3, hours: 24 * 60 })).rows.map((r) => r.score),
      [-6, 4.5, 3.2, 9],
    );
  });

  it('keeps parameters until changed, puts one back with null, and refuses bad ones naming them', async () => {
    const reader = new ReportReader(pool, schemas, { params: { threshold: 4 } });
    await assert.rejects(reader.read(undefined, undefined), /name the report in msg.topic/);
    await assert.rejects(reader.read('drop table', undefined), /msg.topic "drop table" is not a report/);
    assert.equal((await reader.read('anomalies', undefined)).rows.length, 2);
    assert.equal((await reader.read(undefined, { threshold: 3 })).rows.length, 3);
    // a refresh: the same report, the threshold the slider set
    const again = await reader.read(undefined, undefined);
    assert.deepEqual([again.report, again.params, again.rows.length], ['anomalies', { threshold: 3 }, 3]);
    assert.equal((await reader.read(undefined, { threshold: null })).rows.length, 2);
    await assert.rejects(reader.read(undefined, { limit: 0 }), /params.limit: .*>=1/);
    await assert.rejects(reader.read(undefined, { window: '1 fortnight' }), /params.window: a whole number/);
    await assert.rejects(reader.read(undefined, { sql: 'select 1' }), /sql/);
    await assert.rejects(reader.read(undefined, 'hours=3'), /msg.params must be an object/);
    const kept = await reader.read(undefined, undefined);
    assert.deepEqual([kept.report, kept.params], ['anomalies', { threshold: 4 }]);
    // values are parameters: a hostile metric name is only a metric nobody has
    assert.deepEqual(
      (await reader.read('metric-series', { metric: "temp'; DROP TABLE gold.anomalies; --" })).rows,
      [],
    );
    assert.equal((await pool.query('SELECT count(*)::int AS n FROM gold.anomalies')).rows[0].n, 4);
  });

  it('finds every report by index: no sequential scan of a table that grows with the data', async () => {
    const growing = [
      'records',
      'batches',
      'environment_readings',
      'temperature_readings',
      'readings',
      'quarantine',
      'metric_windows',
      'anomalies',
    ];
    const client = await pool.connect();
    try {
      await client.query('SET enable_seqscan = off');
      for (const name of REPORT_NAMES) {
        const s = reportStatement(name, { metric: 'temp', threshold: 3 }, schemas);
        const { rows } = await client.query({ text: `EXPLAIN (FORMAT JSON) ${s.text}`, values: s.values });
        const scans: string[] = [];
        const walk = (n: Record<string, unknown>) => {
          if (n['Node Type'] === 'Seq Scan') scans.push(String(n['Relation Name']));
          for (const c of (n.Plans as Record<string, unknown>[] | undefined) ?? []) walk(c);
        };
        walk((rows[0]['QUERY PLAN'] as Array<{ Plan: Record<string, unknown> }>)[0].Plan);
        assert.deepEqual(
          scans.filter((t) => growing.includes(t)),
          [],
          `${name} scans ${scans.join(', ')}`,
        );
        assert.match(s.text, /LIMIT/, `${name} is bounded`);
      }
    } finally {
      client.release();
    }
  });
});
