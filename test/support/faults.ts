/**
 * What the fault tests measure and print: the committed progress of each layer as
 * `medallion.batches` shows it, and one outcome line per fault (rows expected /
 * stored / doubled / lost, recovery time) in the shape the README's table copies.
 */
import { renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Pool } from 'pg';
import { seededRows, writeIotEnvironmentCsv } from '../../lib/generators/iot-environment-csv';
import { query } from './db';
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
