/**
 * What the fault tests measure and print: the committed progress of each layer as
 * `medallion.batches` shows it, and one outcome line per fault (rows expected /
 * stored / doubled / lost, recovery time) in the shape the README's table copies.
 */
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Pool } from 'pg';
import { seededRows, writeIotEnvironmentCsv } from '../../lib/generators/iot-environment-csv';
import { createTestDatabase, query, type TestDatabase } from './db';
import { helper } from './flow';
import { privateMosquitto, type PrivateMosquitto } from './mqtt';
import { spawnCollecting, type Spawned } from './processes';

const REPO = resolve(__dirname, '..', '..');
const PACED = join(REPO, 'bench', 'paced-publisher.ts');

export type LayerCounts = Record<string, number>;

/** Batches committed per layer (of the source `key`, else of every source). */
export async function layerCounts(pool: Pool, key?: string): Promise<LayerCounts> {
  const { rows } = await pool.query<{ layer: string; n: number }>(
    `SELECT layer, count(*)::int AS n FROM medallion.batches
      WHERE $1::text IS NULL OR source_key = $1 GROUP BY layer`,
    [key ?? null],
  );
  return Object.fromEntries(rows.map((r) => [r.layer, r.n]));
}

export interface FaultOutcome {
  fault: string;
  expected: number;
  stored: number;
  doubled: number;
  lost: number;
  /** How long the pipeline took to make progress again after the fault ended, in ms. */
  recoveryMs: number | string;
  note?: string;
}

/** Prints the outcome as one `fault |` line (mocha's reporter leaves console output as it is). */
export function reportOutcome(o: FaultOutcome): void {
  const recovery = typeof o.recoveryMs === 'number' ? `${(o.recoveryMs / 1000).toFixed(2)} s` : o.recoveryMs;
  console.log(
    `      fault | ${o.fault} | expected ${o.expected} | stored ${o.stored} | doubled ${o.doubled} | lost ${o.lost} | recovery ${recovery}${o.note ? ` | ${o.note}` : ''}`,
  );
}

/** Progress rows in `medallion.batches` (every layer, every source) committed after `since`. */
export async function batchesCommittedAfter(url: string, since: Date): Promise<number> {
  const [row] = await query<{ n: number }>(
    url,
    'SELECT count(*)::int AS n FROM medallion.batches WHERE committed_at > $1',
    [since],
  );
  return row.n;
}

/** A generated campus file with `invalid` seeded invalid rows, written beside `landing` and renamed into it whole. */
export async function dropCampusFile(
  landing: string,
  name: string,
  rows: number,
  invalid: number,
  seed: number,
): Promise<void> {
  const staged = join(dirname(landing), `.${name}.staged`);
  await writeIotEnvironmentCsv(staged, rows, new Set(seededRows(rows, invalid, seed)));
  renameSync(staged, join(landing, name));
}

/**
 * bench/paced-publisher.ts in its own process, as a gateway: `rate` campus readings a second
 * for `seconds` to `<prefix>/sensors/…/readings`; it prints `published <n>` once the broker has all.
 */
export function pacedPublisher(
  url: string,
  prefix: string,
  rate: number,
  seconds: number,
  out: string,
): Spawned {
  return spawnCollecting(
    process.execPath,
    ['-r', 'tsx/cjs', PACED, url, prefix, String(rate), String(seconds), out],
    { cwd: REPO },
  );
}

/** What a fault test of the bundled flow runs on: its own database, Mosquitto and work folder. */
export interface FaultRig {
  db: TestDatabase;
  broker: PrivateMosquitto;
  work: string;
  /** The environment the loaded flow changed (loadBundled's restore), undone after. */
  restore: () => void;
  /** The gateway of the test, killed after if still publishing. */
  publisher?: Spawned;
}

/** Kills a publisher that is still running and waits for it to exit. */
export async function stopPublisher(publisher: Spawned | undefined): Promise<void> {
  if (publisher?.child.exitCode !== null) return;
  publisher.child.kill('SIGKILL');
  await publisher.exited(10_000);
}

/**
 * Registers the mocha hooks of a fault test: before, a test database, a private Mosquitto
 * (`mosquitto` lines added to its configuration) and a work folder; after, the publisher
 * stopped, the flow unloaded, its environment restored, then all three removed.
 */
export function faultRig(label: string, mosquitto: string[]): FaultRig {
  const rig = { restore: () => undefined } as unknown as FaultRig;
  before(async () => {
    rig.db = await createTestDatabase(label);
    rig.broker = await privateMosquitto(mosquitto);
    rig.work = mkdtempSync(join(tmpdir(), `medallion-${label}-`));
  });
  after(async () => {
    await stopPublisher(rig.publisher);
    await helper.unload();
    rig.restore();
    await rig.broker?.dispose();
    if (rig.work) rmSync(rig.work, { recursive: true, force: true });
    await rig.db?.drop();
  });
  return rig;
}

/** Empties every table the bundled flow writes, for the next test on the same database. */
export async function emptyTables(url: string): Promise<void> {
  await query(
    url,
    `TRUNCATE bronze.records, silver.environment_readings, silver.quarantine, gold.metric_windows,
              gold.anomalies, medallion.batches, medallion.runs, medallion.files, medallion.file_events`,
  );
}
