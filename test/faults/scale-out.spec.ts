/**
 * Scale-out: Node-RED instances as `npm start` runs them, with the same flow and their
 * own MEDALLION_INSTANCE, on one landing folder, one PostgreSQL and one Mosquitto (a
 * `$share/` group). 200 files and 50 000 readings through one instance, then the same
 * data through two: every file ingested by exactly one instance, every reading once, and
 * gold and anomalies identical to the one-instance run. Then one of the two is killed
 * mid-file and mid-stream: the other takes its file over when the lease expires, and its
 * unacknowledged share of the stream comes when it is started again under its name.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  IOT_ENVIRONMENT_HEADER,
  invalidIotEnvironmentLine,
  iotEnvironmentLine,
} from '../../lib/generators/iot-environment-csv';
import { burstMessages, publishAll } from '../support/burst-publisher';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { pacedPublisher, reportOutcome, stopPublisher } from '../support/faults';
import { goldMismatchesSettled } from '../support/gold';
import { instance, joinShare, scaleOutFlow, type Instance } from '../support/instances';
import { privateMosquitto, type PrivateMosquitto } from '../support/mqtt';
import { poll, type Spawned } from '../support/processes';

const FILES = 200;
const ROWS = 250;
/** Every 50th line of the files is invalid (quarantined). */
const INVALID_EVERY = 50;
const READINGS = 50_000;
/** The event time of the published readings: fixed, so both runs publish the same data. */
const READINGS_START = Date.UTC(2025, 0, 1);
const LEASE_SECONDS = 6;
const BIG_ROWS = 40_000;
const STREAM_RATE = 2_000;
const STREAM_SECONDS = 10;
const GOLD_SIZES = [3600, 86400];
const FILE_ROWS = FILES * ROWS;
const FILE_INVALID = FILE_ROWS / INVALID_EVERY;

/** Lines `from` … `from + rows - 1` of the campus generator, every 50th invalid, as a CSV file. */
function campusLines(from: number, rows: number): string {
  const lines = [IOT_ENVIRONMENT_HEADER];
  for (let i = from; i < from + rows; i++) {
    lines.push(i % INVALID_EVERY === 7 ? invalidIotEnvironmentLine(i) : iotEnvironmentLine(i));
  }
  return `${lines.join('\n')}\n`;
}

/** Writes the files beside `landing` and renames each into it whole. */
function dropFiles(landing: string, files: Array<[name: string, content: string]>): void {
  const staging = join(landing, '..', 'staging');
  mkdirSync(staging, { recursive: true });
  for (const [name, content] of files) writeFileSync(join(staging, name), content);
  for (const [name] of files) renameSync(join(staging, name), join(landing, name));
}

const campusFiles = () =>
  Array.from({ length: FILES }, (_, f) => [
    `campus-${String(f).padStart(3, '0')}.csv`,
    campusLines(f * ROWS, ROWS),
  ]) as Array<[string, string]>;

interface Counts {
  runs: number;
  fileRows: number;
  quarantined: number;
  readings: number;
}

/** File runs complete, silver rows from files and from MQTT (location ≥ 1000), quarantined rows. */
async function counts(url: string, since = new Date(0)): Promise<Counts> {
  const [c] = await query<Counts>(
    url,
    `SELECT (SELECT count(*)::int FROM medallion.runs WHERE status = 'complete' AND source LIKE 'file:%') AS runs,
            (SELECT count(*)::int FROM silver.environment_readings WHERE location_id::int < 1000) AS "fileRows",
            (SELECT count(*)::int FROM silver.quarantine) AS quarantined,
            (SELECT count(*)::int FROM silver.environment_readings
              WHERE location_id::int >= 1000 AND ts >= $1) AS readings`,
    [since],
  );
  return c;
}

interface GoldDigest {
  windows: number;
  gold: string;
  anomalies: number;
  flagged: string;
}

/** A digest of gold (every statistic of every window) and of the anomalies (without lineage). */
async function goldDigest(url: string): Promise<GoldDigest> {
  const [d] = await query<GoldDigest>(
    url,
    `SELECT (SELECT count(*)::int FROM gold.metric_windows) AS windows,
            (SELECT md5(string_agg(concat_ws('|', location_id, metric, window_start, window_end, count, min, max, avg,
                                             stddev, median, p95), ',' ORDER BY location_id, metric, window_start, window_end))
               FROM gold.metric_windows) AS gold,
            (SELECT count(*)::int FROM gold.anomalies) AS anomalies,
            (SELECT md5(string_agg(concat_ws('|', location_id, metric, ts, reading, method, value, score, baseline, threshold),
                                   ',' ORDER BY location_id, metric, ts, reading, method))
               FROM gold.anomalies) AS flagged`,
  );
  return d;
}

/** The value of `read` once it has stayed the same for 2 s. */
async function settled(read: () => Promise<number>): Promise<number> {
  let value = await read();
  let since = Date.now();
  while (Date.now() - since < 2000) {
    await new Promise((r) => setTimeout(r, 250));
    const now = await read();
    if (now !== value) [value, since] = [now, Date.now()];
  }
  return value;
}

describe('scale-out: two Node-RED instances, one landing folder, one broker, one database', function () {
  this.timeout(600_000);
  let broker: PrivateMosquitto;
  let work: string;
  const dbs: TestDatabase[] = [];
  const running: Instance[] = [];
  let publisher: Spawned | undefined;
  /** The two-instance run's database and instances, for the kill test after it. */
  let pair: { db: TestDatabase; a: Instance; b: Instance; landing: string; topic: string } | undefined;
  let single: GoldDigest | undefined;
  const seconds: Record<string, number> = {};

  before(async () => {
    broker = await privateMosquitto(['max_queued_messages 1000000']);
    work = mkdtempSync(join(tmpdir(), 'medallion-scale-out-'));
  });

  after(async () => {
    await stopPublisher(publisher);
    await Promise.all(running.map((i) => i.kill()));
    await broker?.dispose();
    for (const db of dbs) await db.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Starts instances named `names` on a new database; the shared subscription is made first. */
  async function site(label: string, names: string[]) {
    const db = await createTestDatabase(`scale_${label}`);
    dbs.push(db);
    const landing = join(work, label, 'landing');
    mkdirSync(landing, { recursive: true });
    const topic = `$share/medallion/${label}/sensors/+/readings`;
    const setup = {
      databaseUrl: db.url,
      mqttUrl: broker.url,
      mqttTopic: topic,
      landing,
      flow: scaleOutFlow(LEASE_SECONDS),
    };
    const instances = names.map((name) => instance(`${label}-${name}`, work, setup));
    await joinShare(
      broker.url,
      instances.map((i) => i.clientId),
      topic,
    );
    running.push(...instances);
    await Promise.all(instances.map((i) => i.start()));
    return { db, landing, topic, instances };
  }

  /**
   * Drops the 200 files and publishes the 50 000 readings, then waits for them: the seconds
   * until the files' runs are complete (gold and anomalies included), until the readings are
   * in silver, and until both.
   */
  async function ingest(label: string, db: TestDatabase, landing: string): Promise<void> {
    const started = Date.now();
    const at: { files?: number; readings?: number } = {};
    dropFiles(landing, campusFiles());
    await publishAll(broker.url, burstMessages(label, READINGS, READINGS_START));
    let last: Counts | undefined;
    await poll(
      async () => {
        last = await counts(db.url);
        const now = (Date.now() - started) / 1000;
        if (last.runs === FILES) at.files ??= now;
        if (last.readings >= READINGS) at.readings ??= now;
        return at.files && at.readings ? last : undefined;
      },
      300_000,
      () => `200 files and 50 000 readings stored: ${JSON.stringify(last)}`,
      250,
    );
    const files = at.files!;
    const readings = at.readings!;
    const both = Math.max(files, readings);
    seconds[label] = both;
    console.log(
      `      ${label}: ${FILES} files (${FILE_ROWS} rows) complete in ${files.toFixed(1)} s (${Math.round(FILE_ROWS / files)} rows/s), ` +
        `${READINGS} readings in silver in ${readings.toFixed(1)} s (${Math.round(READINGS / readings)} msgs/s), ` +
        `both ${both.toFixed(1)} s (${Math.round((FILE_ROWS + READINGS) / both)} rows/s)`,
    );
  }

  /** Every file line and every reading once, and gold equal to silver recomputed. */
  async function assertStoredOnce(url: string) {
    assert.deepEqual(await counts(url), {
      runs: FILES,
      fileRows: FILE_ROWS - FILE_INVALID,
      quarantined: FILE_INVALID,
      readings: READINGS,
    });
    assert.deepEqual(await goldMismatchesSettled(url, GOLD_SIZES), []);
  }

  it('one instance: 200 files and 50 000 readings (the reference run)', async () => {
    const { db, landing, instances } = await site('one', ['solo']);
    await ingest('one', db, landing);
    await assertStoredOnce(db.url);
    single = await goldDigest(db.url);
    assert.ok(single.windows > 0 && single.anomalies > 0, JSON.stringify(single));
    await instances[0].stop();
  });

  it('two instances: each file ingested by exactly one, every reading once, gold and anomalies identical', async () => {
    assert.ok(single, 'the one-instance run comes first');
    const { db, landing, topic, instances } = await site('two', ['a', 'b']);
    const [a, b] = instances;
    pair = { db, a, b, landing, topic };
    await ingest('two', db, landing);
    await assertStoredOnce(db.url);

    const files = await query<{ state: string; claimed_by: string; n: number }>(
      db.url,
      'SELECT state, claimed_by, count(*)::int AS n FROM medallion.files GROUP BY 1, 2 ORDER BY 2',
    );
    assert.deepEqual(
      files.map((f) => [f.state, f.claimed_by]),
      [
        ['loaded', a.name],
        ['loaded', b.name],
      ],
      'both instances loaded files',
    );
    assert.equal(
      files.reduce((s, f) => s + f.n, 0),
      FILES,
    );
    // one claim per file, by the instance that loaded it; nothing taken over, nothing a duplicate
    const events = await query<{ event: string; n: number; files: number; same: number }>(
      db.url,
      `SELECT e.event, count(*)::int AS n, count(DISTINCT e.sha256)::int AS files,
              count(*) FILTER (WHERE e.instance = f.claimed_by)::int AS same
         FROM medallion.file_events e JOIN medallion.files f USING (sha256) GROUP BY 1 ORDER BY 1`,
    );
    assert.deepEqual(events, [
      { event: 'claimed', n: FILES, files: FILES, same: FILES },
      { event: 'loaded', n: FILES, files: FILES, same: FILES },
    ]);
    assert.deepEqual(
      readdirSync(join(landing, 'processed')).sort(),
      campusFiles().map(([name]) => name),
    );
    assert.deepEqual(readdirSync(join(landing, 'processing')), []);

    assert.deepEqual(await goldDigest(db.url), single, 'gold and anomalies as one instance made them');
    const byInstance = files.map((f) => `${f.claimed_by} ${f.n}`).join(', ');
    console.log(
      `      files per instance: ${byInstance}; one instance ${seconds.one.toFixed(1)} s, two ${seconds.two.toFixed(1)} s: ` +
        `${(seconds.one / seconds.two).toFixed(2)} ×`,
    );
  });

  it('kill -9 of one instance mid-file and mid-stream: its file is taken over, its share comes when it restarts', async () => {
    assert.ok(pair, 'the two-instance run comes first');
    const { db, a, b, landing } = pair;
    // the stream's readings are timed from its start, in whole seconds
    const since = new Date(Date.now() - 60_000);
    const big = campusLines(FILE_ROWS, BIG_ROWS);
    publisher = pacedPublisher(broker.url, 'two', STREAM_RATE, STREAM_SECONDS, join(work, 'published.json'));
    await publisher.waitFor(/^start \d+/m, 30_000);
    dropFiles(landing, [['big.csv', big]]);

    // the instance holding big.csv, once two of its batches are in bronze
    const holder = await poll(
      async () => {
        const [f] = await query<{ claimed_by: string; batches: number }>(
          db.url,
          `SELECT f.claimed_by, (SELECT count(*)::int FROM medallion.batches b
                                  WHERE b.source_key = f.sha256 AND b.layer = 'bronze') AS batches
             FROM medallion.files f WHERE f.name = 'big.csv' AND f.state = 'claimed'`,
        );
        return f && f.batches >= 2 ? f.claimed_by : undefined;
      },
      60_000,
      'big.csv being loaded',
      50,
    );
    const [killed, survivor] = holder === a.name ? [a, b] : [b, a];
    await killed.kill();
    const killedAt = Date.now();

    const takenOver = await poll(
      async () => {
        const [f] = await query<{ claimed_by: string }>(
          db.url,
          "SELECT claimed_by FROM medallion.files WHERE name = 'big.csv'",
        );
        return f.claimed_by === survivor.name ? Date.now() - killedAt : undefined;
      },
      60_000,
      `${survivor.name} taking big.csv over`,
      100,
    );
    await publisher.waitFor(/^published \d+/m, 120_000);
    const expected = STREAM_RATE * STREAM_SECONDS;
    // the survivor stores its share and no more: the killed instance's is queued for its client id
    const waiting = expected - (await settled(async () => (await counts(db.url, since)).readings));
    assert.ok(waiting > 0, 'some readings wait for the killed instance');
    const restarted = Date.now();
    await killed.start();
    let last: Counts | undefined;
    const c = await poll(
      async () => {
        last = await counts(db.url, since);
        return last.runs === FILES + 1 && last.readings >= expected ? last : undefined;
      },
      180_000,
      () => `big.csv and the stream stored: ${JSON.stringify(last)}`,
      250,
    );
    const bigValid = BIG_ROWS - BIG_ROWS / INVALID_EVERY;
    assert.deepEqual(c, {
      runs: FILES + 1,
      fileRows: FILE_ROWS - FILE_INVALID + bigValid,
      quarantined: FILE_INVALID + BIG_ROWS / INVALID_EVERY,
      readings: expected,
    });
    const [resumed] = await query<{ instance: string }>(
      db.url,
      "SELECT e.instance FROM medallion.file_events e JOIN medallion.files f USING (sha256) WHERE f.name = 'big.csv' AND e.event = 'resumed'",
    );
    assert.equal(resumed?.instance, survivor.name, 'the survivor resumed the file');
    // the run's counts as one instance would have them: no row of the killed instance's batches counted twice
    const [run] = await query<{
      status: string;
      read: number;
      inserted: number;
      duplicate: number;
      quarantined: number;
    }>(
      db.url,
      `SELECT status, rows_read::int AS read, rows_inserted::int AS inserted, rows_duplicate::int AS duplicate,
              rows_quarantined::int AS quarantined FROM medallion.runs WHERE source = 'file:big.csv'`,
    );
    assert.deepEqual(run, {
      status: 'complete',
      read: BIG_ROWS,
      inserted: bigValid,
      duplicate: 0,
      quarantined: BIG_ROWS / INVALID_EVERY,
    });
    assert.equal(readdirSync(join(landing, 'processed')).filter((n) => n.startsWith('big')).length, 1);
    assert.deepEqual(await goldMismatchesSettled(db.url, GOLD_SIZES), []);
    reportOutcome({
      fault: `kill -9 of the instance loading a ${BIG_ROWS}-row file (lease ${LEASE_SECONDS} s)`,
      expected: bigValid,
      stored: run.inserted,
      doubled: run.duplicate,
      lost: bigValid - run.inserted,
      recoveryMs: takenOver,
      note: 'recovery: kill → the other instance holds the file',
    });
    reportOutcome({
      fault: `the same kill while ${STREAM_RATE} readings/s flow through the $share group`,
      expected,
      stored: c.readings,
      doubled: Math.max(0, c.readings - expected),
      lost: Math.max(0, expected - c.readings),
      recoveryMs: Date.now() - restarted,
      note: `${waiting} readings waited for the killed instance; recovery: its start → all stored`,
    });
  });
});
