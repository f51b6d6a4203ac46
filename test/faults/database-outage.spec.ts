/**
 * PostgreSQL down: the bundled flow (files and MQTT through bronze, silver, quarantine and
 * gold) on a private PostgreSQL, stopped for a few seconds while a file and a paced MQTT
 * stream flow, and stopped before the flow starts. Its own Mosquitto too (an unbounded
 * queue, so what the broker keeps is not what is measured). Nothing lost or doubled,
 * statuses that say what happens, Node-RED (this process) never crashes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../bin/embedded-postgres';
import { BUNDLED, loadBundled, memberOf } from '../support/bundled';
import { query } from '../support/db';
import {
  batchesCommittedAfter,
  dropCampusFile,
  emptyTables,
  pacedPublisher,
  reportOutcome,
  stopPublisher,
} from '../support/faults';
import { helper, statuses, waitFor } from '../support/flow';
import { goldMismatchesSettled } from '../support/gold';
import { privateMosquitto, type PrivateMosquitto } from '../support/mqtt';
import { poll, type Spawned } from '../support/processes';

const ROWS = 30_000;
const INVALID = 300;
const RATE = 1_000;
const SECONDS = 10;
const OUTAGE_MS = 4_000;

const WATCH = memberOf('Landing (files)', 'medallion-watch-folder');
const INGEST = memberOf('Sensors (MQTT)', 'medallion-mqtt-ingest');
const WRITERS = BUNDLED.filter((n) => n.type === 'medallion-pg-write').map((n) => n.id);

/** Readings of the MQTT stream in silver (its locations are 1000…1099, the file's 101…105). */
const MQTT_SILVER = `SELECT count(*)::int AS stored, count(DISTINCT (location_id, ts))::int AS keys
                       FROM silver.environment_readings WHERE location_id::int >= 1000`;

describe('faults: PostgreSQL down (private PostgreSQL and Mosquitto, the bundled flow)', function () {
  this.timeout(300_000);
  let root: string;
  let pg: EmbeddedPostgres;
  let broker: PrivateMosquitto;
  let work: string;
  let restore: () => void = () => undefined;
  let publisher: Spawned | undefined;

  before(async () => {
    const parent = mkdtempSync(join(tmpdir(), 'medallion-pg-down-'));
    chmodSync(parent, 0o755);
    root = join(parent, 'pg');
    pg = await startEmbeddedPostgres(root);
    broker = await privateMosquitto(['max_queued_messages 0']);
  });
  after(async () => {
    await broker?.dispose();
    await pg?.stop();
    rmSync(join(root, '..'), { recursive: true, force: true });
  });
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'medallion-pg-down-work-'));
  });
  afterEach(async () => {
    await stopPublisher(publisher);
    await helper.unload();
    await emptyTables(pg.url).catch(() => undefined); // the next test starts from empty tables (the server may be down)
    restore();
    rmSync(work, { recursive: true, force: true });
  });

  /** Publishes `seconds` × RATE campus readings from its own process, paced, as a gateway does. */
  function publish(prefix: string, seconds: number): Spawned {
    publisher = pacedPublisher(broker.url, prefix, RATE, seconds, join(work, 'published.json'));
    return publisher;
  }

  const dropFile = (seed: number) => dropCampusFile(join(work, 'landing'), 'campus.csv', ROWS, INVALID, seed);

  async function load(prefix: string) {
    ({ restore } = await loadBundled(pg.url, work, {
      mqtt: { url: broker.url, clientId: `pg-down-${randomBytes(4).toString('hex')}`, topicPrefix: prefix },
    }));
  }

  /** Starts the stopped PostgreSQL again; resolves with the ms from its start to the first batch committed. */
  async function startAgain(): Promise<number> {
    const restartedAt = new Date();
    pg = await startEmbeddedPostgres(root);
    const upAt = Date.now();
    return poll(
      async () => ((await batchesCommittedAfter(pg.url, restartedAt)) > 0 ? Date.now() - upAt : undefined),
      60_000,
      'a batch committed once the database is up',
      50,
    );
  }

  /**
   * Waits until the file's run is complete and the stream's `messages` readings are in silver;
   * on a timeout, says where each layer got to and what the flow's nodes showed last.
   */
  async function allStored(messages: number) {
    let seen = 'nothing yet';
    return poll(
      async () => {
        const [run] = await query<{ status: string }>(pg.url, 'SELECT status FROM medallion.runs');
        const [mqtt] = await query<{ stored: number }>(pg.url, MQTT_SILVER);
        const layers = await query<{ layer: string; n: number }>(
          pg.url,
          'SELECT layer, count(*)::int AS n FROM medallion.batches GROUP BY layer ORDER BY layer',
        );
        const nodes = BUNDLED.filter(
          (n) => n.type.startsWith('medallion-') && helper.getNode(n.id)?.status,
        ).map((n) => `${n.name || n.type}: ${statuses(n.id).at(-1)?.text}`);
        seen = `run ${run?.status}, ${mqtt.stored} readings in silver, batches ${JSON.stringify(layers)}; ${nodes.join('; ')}`;
        return run?.status === 'complete' && mqtt.stored >= messages ? true : undefined;
      },
      180_000,
      () => `the file's run complete and ${messages} readings in silver (${seen})`,
    );
  }

  /** Every row once: the file's valid rows in silver, its invalid ones in quarantine, the stream's readings, gold exact. */
  async function assertExactlyOnce(messages: number) {
    const [file] = await query<{ stored: number; keys: number }>(
      pg.url,
      `SELECT count(*)::int AS stored, count(DISTINCT (location_id, ts))::int AS keys
         FROM silver.environment_readings WHERE location_id::int < 1000`,
    );
    assert.deepEqual(file, { stored: ROWS - INVALID, keys: ROWS - INVALID });
    const [quarantined] = await query<{ stored: number; lines: number }>(
      pg.url,
      'SELECT count(*)::int AS stored, count(DISTINCT line_no)::int AS lines FROM silver.quarantine',
    );
    assert.deepEqual(quarantined, { stored: INVALID, lines: INVALID });
    const [mqtt] = await query<{ stored: number; keys: number }>(pg.url, MQTT_SILVER);
    assert.deepEqual(mqtt, { stored: messages, keys: messages });
    const [bronze] = await query<{ stored: number; keys: number }>(
      pg.url,
      'SELECT count(*)::int AS stored, count(DISTINCT (source_key, line_no))::int AS keys FROM bronze.records',
    );
    assert.deepEqual(bronze, { stored: ROWS + messages, keys: ROWS + messages });
    const [run] = await query(
      pg.url,
      `SELECT status, rows_read::int, rows_inserted::int, rows_duplicate::int, rows_quarantined::int FROM medallion.runs`,
    );
    assert.deepEqual(run, {
      status: 'complete',
      rows_read: ROWS,
      rows_inserted: ROWS - INVALID,
      rows_duplicate: 0,
      rows_quarantined: INVALID,
    });
    assert.deepEqual(await goldMismatchesSettled(pg.url, [3600, 86400]), []);
    return { file, mqtt, quarantined };
  }

  it('stopped for a few seconds mid-file and mid-stream: retries, then every row once', async () => {
    const prefix = `pg-down-${randomBytes(3).toString('hex')}`;
    await load(prefix);
    const messages = RATE * SECONDS;
    const pub = publish(prefix, SECONDS);
    await dropFile(21);

    // mid-file (some of its batches in bronze, not all) and mid-stream (some readings in silver)
    await poll(
      async () => {
        const [s] = await query<{ file: number; mqtt: number }>(
          pg.url,
          `SELECT (SELECT count(*)::int FROM medallion.batches
                    WHERE layer = 'bronze' AND source_key IN (SELECT sha256 FROM medallion.files)) AS file,
                  (SELECT count(*)::int FROM silver.environment_readings WHERE location_id::int >= 1000) AS mqtt`,
        );
        return s.file >= 2 && s.file < ROWS / 5000 && s.mqtt > 0 ? true : undefined;
      },
      60_000,
      'the file and the stream both half-way',
      50,
    );
    await pg.stop();
    const stoppedAt = Date.now();
    await waitFor(
      () => WRITERS.some((id) => statuses(id).some((s) => s.fill === 'yellow' && /retry/.test(s.text ?? ''))),
      30_000,
      'a pg-write retrying',
    );
    const down = OUTAGE_MS - (Date.now() - stoppedAt);
    if (down > 0) await new Promise((r) => setTimeout(r, down)); // the outage lasts this long
    const recoveryMs = await startAgain();
    await pub.waitFor(/^published \d+/m, 60_000);
    await allStored(messages);
    const { file, mqtt } = await assertExactlyOnce(messages);

    const yellow = WRITERS.filter((id) => statuses(id).some((s) => s.fill === 'yellow'));
    assert.ok(yellow.length >= 2, `${yellow.length} pg-writes went yellow`);
    await waitFor(
      () => WRITERS.every((id) => statuses(id).at(-1)?.fill !== 'yellow'),
      10_000,
      'no pg-write yellow any more',
    );
    reportOutcome({
      fault: `PostgreSQL stopped ${OUTAGE_MS / 1000} s mid-file`,
      expected: ROWS - INVALID,
      stored: file.stored,
      doubled: file.stored - file.keys,
      lost: ROWS - INVALID - file.keys,
      recoveryMs,
      note: `${INVALID} quarantined once; ${yellow.length} pg-writes yellow`,
    });
    reportOutcome({
      fault: `PostgreSQL stopped ${OUTAGE_MS / 1000} s mid-stream (${RATE}/s)`,
      expected: messages,
      stored: mqtt.stored,
      doubled: mqtt.stored - mqtt.keys,
      lost: messages - mqtt.keys,
      recoveryMs,
    });
  });

  it('down at start: says so, the file waits in the landing folder, the readings stay unacknowledged', async () => {
    const prefix = `pg-down-start-${randomBytes(3).toString('hex')}`;
    await pg.stop();
    await load(prefix);
    await dropFile(22);
    const messages = RATE * 3;
    const pub = publish(prefix, 3);
    await pub.waitFor(/^published \d+/m, 60_000);

    await waitFor(
      () => statuses(WATCH).some((s) => s.fill === 'red' && /ECONNREFUSED|connect/i.test(s.text ?? '')),
      30_000,
      'watch-folder red with the reason',
    );
    // the broker has delivered the window; none of it is acknowledged, the file is not claimed
    await waitFor(
      () => new RegExp(`\\b${messages}/\\d+ unacked`).test(statuses(INGEST).at(-1)?.text ?? ''),
      30_000,
      `mqtt ingest holding ${messages} unacknowledged (${statuses(INGEST).at(-1)?.text})`,
    );
    assert.deepEqual(readdirSync(join(work, 'landing')).sort(), ['campus.csv']);
    assert.ok(!existsSync(join(work, 'landing', 'processing', 'campus.csv')));

    const recoveryMs = await startAgain();
    await allStored(messages);
    const { file, mqtt } = await assertExactlyOnce(messages);
    assert.deepEqual(readdirSync(join(work, 'landing', 'processed')), ['campus.csv']);
    await waitFor(() => statuses(WATCH).at(-1)?.fill === 'green', 10_000, 'watch-folder green again');
    reportOutcome({
      fault: 'PostgreSQL down at start (file waiting)',
      expected: ROWS - INVALID,
      stored: file.stored,
      doubled: file.stored - file.keys,
      lost: ROWS - INVALID - file.keys,
      recoveryMs,
    });
    reportOutcome({
      fault: 'PostgreSQL down at start (readings unacknowledged)',
      expected: messages,
      stored: mqtt.stored,
      doubled: mqtt.stored - mqtt.keys,
      lost: messages - mqtt.keys,
      recoveryMs,
    });
  });
});
