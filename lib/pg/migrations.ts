import type { Pool } from 'pg';
import { inTransaction } from './client';
import { assertSchemaNames, quoteIdent, type SchemaNames } from './identifiers';

/**
 * Schema migrations, append-only: a released migration is never edited, a change is
 * a new entry. Each runs inside the single migration transaction, after the advisory
 * lock, so concurrent starts (several config nodes, several Node-RED instances) apply
 * each version exactly once and everyone else waits, then finds it applied.
 */
export interface Migration {
  version: number;
  name: string;
  sql: (s: Quoted) => string;
}

/** Quoted schema names, ready to interpolate. */
export type Quoted = Record<keyof SchemaNames, string>;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'ledger, runs, batch progress and bronze records',
    sql: ({ medallion, bronze, silver, gold }) => `
      CREATE SCHEMA IF NOT EXISTS ${bronze};
      CREATE SCHEMA IF NOT EXISTS ${silver};
      CREATE SCHEMA IF NOT EXISTS ${gold};

      CREATE TABLE ${medallion}.files (
        sha256        text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
        name          text NOT NULL,
        size          bigint NOT NULL CHECK (size >= 0),
        state         text NOT NULL CHECK (state IN ('claimed', 'loaded', 'quarantined', 'failed')),
        claimed_by    text,
        lease_until   timestamptz,
        run_id        uuid,
        error         text,
        first_seen_at timestamptz NOT NULL DEFAULT now(),
        claimed_at    timestamptz,
        finished_at   timestamptz,
        updated_at    timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX files_state_idx ON ${medallion}.files (state, lease_until);

      CREATE TABLE ${medallion}.runs (
        run_id           uuid PRIMARY KEY,
        source           text NOT NULL,
        source_key       text,
        started_at       timestamptz NOT NULL DEFAULT now(),
        finished_at      timestamptz,
        status           text NOT NULL DEFAULT 'running'
                         CHECK (status IN ('running', 'complete', 'failed')),
        rows_read        bigint NOT NULL DEFAULT 0,
        rows_skipped     bigint NOT NULL DEFAULT 0,
        rows_inserted    bigint NOT NULL DEFAULT 0,
        rows_duplicate   bigint NOT NULL DEFAULT 0,
        rows_quarantined bigint NOT NULL DEFAULT 0,
        duration_ms      bigint,
        error            text
      );
      CREATE INDEX runs_started_idx ON ${medallion}.runs (started_at DESC);

      CREATE TABLE ${medallion}.batches (
        source_key   text NOT NULL,
        batch        integer NOT NULL CHECK (batch >= 0),
        layer        text NOT NULL,
        run_id       uuid,
        rows_in      integer NOT NULL CHECK (rows_in >= 0),
        inserted     integer NOT NULL CHECK (inserted >= 0),
        duplicate    integer NOT NULL CHECK (duplicate >= 0),
        quarantined  integer NOT NULL DEFAULT 0 CHECK (quarantined >= 0),
        last         boolean NOT NULL DEFAULT false,
        committed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (source_key, batch, layer)
      );
      CREATE INDEX batches_run_idx ON ${medallion}.batches (run_id);

      CREATE TABLE ${bronze}.records (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        source_kind text NOT NULL,
        source_key  text NOT NULL,
        source_name text,
        line_no     bigint NOT NULL,
        raw         bytea NOT NULL,
        run_id      uuid,
        received_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT records_source_line_key UNIQUE (source_key, line_no)
      );
      CREATE INDEX records_run_idx ON ${bronze}.records (run_id);
    `,
  },
  {
    version: 2,
    name: 'file ledger: what a resumed or replayed file needs, and its event log',
    sql: ({ medallion }) => `
      ALTER TABLE ${medallion}.files
        ADD COLUMN batch_size   integer CHECK (batch_size > 0),
        ADD COLUMN header       text,
        ADD COLUMN csv_options  jsonb,
        ADD COLUMN rows_read    bigint,
        ADD COLUMN rows_skipped bigint,
        ADD COLUMN batches      integer;

      CREATE TABLE ${medallion}.file_events (
        id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        sha256   text NOT NULL,
        name     text NOT NULL,
        event    text NOT NULL,
        instance text NOT NULL,
        detail   text,
        at       timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX file_events_sha256_idx ON ${medallion}.file_events (sha256, at);
    `,
  },
  {
    version: 3,
    name: 'silver: typed readings per profile, long-format readings, quarantine',
    sql: ({ silver }) => `
      CREATE TABLE ${silver}.temperature_readings (
        id            text PRIMARY KEY,
        room_id       text NOT NULL,
        ts            timestamptz NOT NULL,
        temp          double precision NOT NULL,
        out_in        text NOT NULL CHECK (out_in IN ('In', 'Out')),
        quality_score real NOT NULL CHECK (quality_score BETWEEN 0 AND 1),
        rule_version  text NOT NULL,
        source_key    text NOT NULL,
        line_no       bigint,
        run_id        uuid,
        validated_at  timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX temperature_readings_ts_idx ON ${silver}.temperature_readings (room_id, out_in, ts);

      CREATE TABLE ${silver}.environment_readings (
        location_id          text NOT NULL,
        ts                   timestamptz NOT NULL,
        temperature_celsius  double precision,
        humidity_percent     double precision,
        air_quality_index    double precision,
        noise_level_db       double precision,
        lighting_lux         double precision,
        crowd_density        double precision,
        stress_level         double precision,
        sleep_hours          double precision,
        mood_score           double precision,
        mental_health_status text,
        quality_score        real NOT NULL CHECK (quality_score BETWEEN 0 AND 1),
        rule_version         text NOT NULL,
        source_key           text NOT NULL,
        line_no              bigint,
        run_id               uuid,
        validated_at         timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (location_id, ts)
      );

      CREATE TABLE ${silver}.readings (
        ts            timestamptz NOT NULL,
        location_id   text NOT NULL,
        metric        text NOT NULL,
        value         double precision,
        unit          text,
        quality_score real NOT NULL CHECK (quality_score BETWEEN 0 AND 1),
        rule_version  text NOT NULL,
        source_key    text NOT NULL,
        line_no       bigint,
        run_id        uuid,
        validated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (location_id, metric, ts)
      );

      CREATE TABLE ${silver}.quarantine (
        id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        source_key     text NOT NULL,
        line_no        bigint NOT NULL,
        rule_version   text NOT NULL,
        source_name    text,
        record         jsonb NOT NULL,
        errors         jsonb NOT NULL,
        run_id         uuid,
        quarantined_at timestamptz NOT NULL DEFAULT now(),
        replayed_at    timestamptz,
        CONSTRAINT quarantine_source_line_rules_key UNIQUE (source_key, line_no, rule_version)
      );
      CREATE INDEX quarantine_run_idx ON ${silver}.quarantine (run_id);
    `,
  },
  {
    version: 4,
    name: 'run completion: batch numbers in bronze, a run knows its batches and the layers that complete it',
    sql: ({ medallion, bronze }) => `
      ALTER TABLE ${bronze}.records ADD COLUMN batch integer CHECK (batch >= 0);
      ALTER TABLE ${medallion}.runs
        ADD COLUMN batches         integer CHECK (batches >= 0),
        ADD COLUMN complete_layers text[] NOT NULL DEFAULT '{}';
      CREATE INDEX runs_running_idx ON ${medallion}.runs (source_key) WHERE status = 'running';
    `,
  },
  {
    version: 5,
    name: "gold: metric windows and anomalies, the layers a run's records are counted in, the seeds' views",
    sql: ({ medallion, silver, gold }) => `
      ALTER TABLE ${medallion}.runs ADD COLUMN count_layers text[] NOT NULL DEFAULT '{}';

      CREATE TABLE ${gold}.metric_windows (
        location_id  text NOT NULL,
        metric       text NOT NULL,
        window_start timestamptz NOT NULL,
        window_end   timestamptz NOT NULL CHECK (window_end > window_start),
        count        integer NOT NULL CHECK (count > 0),
        min          double precision NOT NULL,
        max          double precision NOT NULL,
        avg          double precision NOT NULL,
        stddev       double precision,
        median       double precision,
        p95          double precision,
        PRIMARY KEY (location_id, metric, window_start, window_end)
      );
      CREATE INDEX metric_windows_metric_idx ON ${gold}.metric_windows (metric, window_start);

      CREATE TABLE ${gold}.anomalies (
        ts          timestamptz NOT NULL,
        location_id text NOT NULL,
        metric      text NOT NULL,
        value       double precision NOT NULL,
        score       double precision NOT NULL,
        baseline    double precision NOT NULL,
        -- which reading at ts: the reading id where several share a timestamp (iot-temp), else ''
        reading     text NOT NULL DEFAULT '',
        method      text NOT NULL,
        threshold   double precision NOT NULL,
        source_key  text,
        line_no     bigint,
        run_id      uuid,
        detected_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (location_id, metric, ts, reading, method)
      );

      -- seed 004: its "raw" table held validated rows, with these names (timestamp naive, in UTC)
      CREATE OR REPLACE VIEW public.raw_sensor_data AS
      SELECT ts AT TIME ZONE 'UTC' AS "timestamp", location_id, temperature_celsius, humidity_percent,
             air_quality_index, noise_level_db, lighting_lux, crowd_density, stress_level, sleep_hours,
             mood_score,
             CASE WHEN mental_health_status ~ '^-?[0-9]+$' THEN mental_health_status::integer END
               AS mental_health_status,
             quality_score, source_key, line_no
        FROM ${silver}.environment_readings;

      CREATE OR REPLACE VIEW public.aggregated_metrics AS
      SELECT location_id, metric AS metric_name, window_start AT TIME ZONE 'UTC' AS "timestamp",
             min AS min_value, max AS max_value, avg AS avg_value, stddev AS std_value,
             count AS record_count
        FROM ${gold}.metric_windows
       WHERE window_end - window_start = interval '1 hour';

      -- seed 000: raw and cleaned IoT-temp rows under its column names (both from silver)
      CREATE OR REPLACE VIEW public.rawdata_iot_sensors AS
      SELECT t.id, t.room_id AS "room_id/id", t.ts AT TIME ZONE 'UTC' AS noted_date, t.temp,
             t.out_in AS "out/in", t.room_id AS room, f.name AS source_file,
             t.validated_at AT TIME ZONE 'UTC' AS processing_timestamp,
             t.validated_at AT TIME ZONE 'UTC' AS created_timestamp
        FROM ${silver}.temperature_readings t
        LEFT JOIN ${medallion}.files f ON f.sha256 = t.source_key;

      CREATE OR REPLACE VIEW public.cleaneddata_iot_sensors AS
      SELECT r.*, t.rule_version AS cleaneddata_layer_version,
             t.validated_at AT TIME ZONE 'UTC' AS cleaning_timestamp,
             t.quality_score::double precision AS data_quality_score
        FROM public.rawdata_iot_sensors r
        JOIN ${silver}.temperature_readings t ON t.id = r.id;
    `,
  },
  {
    version: 6,
    name: "the operator page's reports: newest rows and today's progress found by index, not by scanning",
    sql: ({ medallion, bronze, silver, gold }) => `
      CREATE INDEX batches_committed_idx ON ${medallion}.batches (committed_at);
      CREATE INDEX records_mqtt_idx ON ${bronze}.records (id) WHERE source_kind = 'mqtt';
      CREATE INDEX temperature_readings_validated_idx ON ${silver}.temperature_readings (validated_at);
      CREATE INDEX environment_readings_validated_idx ON ${silver}.environment_readings (validated_at);
      CREATE INDEX readings_validated_idx ON ${silver}.readings (validated_at);
      CREATE INDEX quarantine_at_idx ON ${silver}.quarantine (quarantined_at);
      CREATE INDEX anomalies_ts_idx ON ${gold}.anomalies (ts);
    `,
  },
];

export function quoteAll(s: SchemaNames): Quoted {
  return {
    medallion: quoteIdent(s.medallion),
    bronze: quoteIdent(s.bronze),
    silver: quoteIdent(s.silver),
    gold: quoteIdent(s.gold),
  };
}

export interface MigrationResult {
  applied: number[];
  current: number;
}

/** Applies every pending migration in one transaction under `pg_advisory_xact_lock`. */
export async function migrate(pool: Pool, schemas: SchemaNames): Promise<MigrationResult> {
  const q = quoteAll(assertSchemaNames(schemas));
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
      `node-red-iot-medallion/migrations/${schemas.medallion}`,
    ]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${q.medallion}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${q.medallion}.schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: number }>(
      `SELECT version FROM ${q.medallion}.schema_migrations`,
    );
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await client.query(m.sql(q));
      await client.query(`INSERT INTO ${q.medallion}.schema_migrations (version, name) VALUES ($1, $2)`, [
        m.version,
        m.name,
      ]);
      applied.push(m.version);
    }
    return { applied, current: MIGRATIONS[MIGRATIONS.length - 1].version };
  });
}
