/**
 * Large CSV files shaped like seed 004's campus sensors (the `iot-environment` profile),
 * deterministic in the row number, every row valid for the profile: five locations
 * (101–105) take turns, the clock advancing 15 minutes every five rows from
 * 2024-01-01 00:00:00 UTC, so (location_id, timestamp) never repeats. The values follow
 * a daily cycle with a hash-based wiggle; plain arithmetic and `toFixed` only, so the
 * bytes are the same on every machine. About 70 bytes a row.
 */
import { Random } from '../sim/random';
import { writeGeneratedCsv } from './csv-file';

export const IOT_ENVIRONMENT_HEADER =
  'timestamp,location_id,temperature_celsius,humidity_percent,air_quality_index,noise_level_db,lighting_lux,crowd_density,stress_level,sleep_hours,mood_score,mental_health_status';

const LOCATIONS = 5;
const START = Date.UTC(2024, 0, 1);
const STEP_MS = 15 * 60_000;
const DAY_MS = 86_400_000;

/** A number in [0, 1) from the row and a salt (murmur3's finalizer). */
function wiggle(i: number, salt: number): number {
  let h = Math.imul(i ^ salt, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

export function iotEnvironmentLine(i: number): string {
  const ms = START + Math.floor(i / LOCATIONS) * STEP_MS;
  const timestamp = new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
  // 0 at 02:00, 1 at 14:00, linear in between
  const day = Math.abs((((ms % DAY_MS) / DAY_MS + 5 / 12) % 1) - 0.5) * 2;
  const w = (salt: number) => wiggle(i, salt);
  const stress = Math.round(10 + 40 * day + 40 * w(7));
  return [
    timestamp,
    101 + (i % LOCATIONS),
    (16 + 10 * day + 6 * w(1)).toFixed(2),
    (70 - 25 * day + 20 * w(2)).toFixed(2),
    Math.round(30 + 60 * day + 60 * w(3)),
    (35 + 25 * day + 25 * w(4)).toFixed(2),
    (150 + 300 * day + 100 * w(5)).toFixed(2),
    Math.round(2 + 45 * day + 15 * w(6)),
    stress,
    (3 + 7 * w(8)).toFixed(2),
    (5 * w(9)).toFixed(1),
    stress > 70 ? 2 : stress > 45 ? 1 : 0,
  ].join(',');
}

/**
 * Row `i` made invalid for the profile, its key kept: the humidity above its maximum
 * (rule `max`) for even rows, the temperature not a number (rule `type`) for odd ones.
 */
export function invalidIotEnvironmentLine(i: number): string {
  const fields = iotEnvironmentLine(i).split(',');
  if (i % 2 === 0) fields[3] = '150.00';
  else fields[2] = 'ERR';
  return fields.join(',');
}

/** `count` distinct row numbers in 0…rows-1 picked by a seeded generator, ascending. */
export function seededRows(rows: number, count: number, seed: number): number[] {
  if (count > rows) throw new Error(`cannot pick ${count} of ${rows} rows`);
  const random = new Random(seed);
  const picked = new Set<number>();
  while (picked.size < count) picked.add(random.int(rows));
  return [...picked].sort((a, b) => a - b);
}

/**
 * Writes a header and `rows` data lines (LF), the rows numbered in `invalid` made invalid
 * by invalidIotEnvironmentLine; resolves with the file size in bytes.
 */
export function writeIotEnvironmentCsv(
  path: string,
  rows: number,
  invalid: ReadonlySet<number> = new Set(),
): Promise<number> {
  return writeGeneratedCsv(path, IOT_ENVIRONMENT_HEADER, rows, (i) =>
    invalid.has(i) ? invalidIotEnvironmentLine(i) : iotEnvironmentLine(i),
  );
}
