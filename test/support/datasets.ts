/**
 * The real datasets beside the repository, and what the built-in rules must make of
 * them, computed here independently of the pack (plain string splitting and the
 * ranges DESIGN.md gives), so tests compare two separate derivations.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DATASETS = join(__dirname, '..', '..', '..', 'shared', 'datasets');

/** Data lines after the header, the empty piece after a final line end dropped. */
function dataLines(path: string): string[] {
  const all = readFileSync(path, 'utf8').split('\n').slice(1);
  if (all[all.length - 1] === '') all.pop();
  return all;
}

export interface Expected {
  /** Records that pass the rules. */
  valid: number;
  /** Records that fail them (quarantined). */
  invalid: number;
  /** Distinct keys among the valid records (rows in silver). */
  distinct: number;
  /** Blank and all-empty lines. */
  skipped: number;
}

/** The complete run of such a file as `medallion.runs` has it (status and counts). */
export function expectedRun(e: Expected) {
  return {
    status: 'complete',
    rows_read: e.valid + e.invalid,
    rows_skipped: e.skipped,
    rows_inserted: e.distinct,
    rows_duplicate: e.valid - e.distinct,
    rows_quarantined: e.invalid,
  };
}

/** iot-temp's rules: id and room present, `dd-mm-yyyy HH:MM` a real time, temp −50..60, out/in In or Out. */
export function expectIotTemp(path: string): Expected {
  const all = dataLines(path);
  const blank = (l: string) => l.replace(/[,\s]/g, '') === '';
  const lines = all.filter((l) => !blank(l));
  const ids = new Set<string>();
  let valid = 0;
  let invalid = 0;
  for (const line of lines) {
    const [id, room, date, temp, io] = line.replace(/\r$/, '').split(',');
    const m = /^(\d\d)-(\d\d)-(\d{4}) (\d\d):(\d\d)$/.exec(date ?? '');
    const real =
      m !== null &&
      new Date(Date.UTC(+m[3], +m[2] - 1, +m[1], +m[4], +m[5])).getUTCDate() === +m[1] &&
      +m[4] < 24;
    const t = Number(temp);
    const ok =
      !!id?.trim() &&
      !!room?.trim() &&
      real &&
      temp?.trim() !== '' &&
      Number.isFinite(t) &&
      t >= -50 &&
      t <= 60;
    if (ok && (io === 'In' || io === 'Out')) {
      valid++;
      ids.add(id);
    } else invalid++;
  }
  return { valid, invalid, distinct: ids.size, skipped: all.length - lines.length };
}

/** iot-environment's ranges (seed 004's code), in column order after timestamp and location. */
const CAMPUS_RANGES = [
  [-50, 60],
  [0, 100],
  [0, 500],
  [0, 130],
  [0, 100000],
  [0, 1000],
  [0, 100],
  [0, 24],
  [0, 5],
];

/** iot-environment's rules: timestamp and location present, each measurement empty or in range. */
export function expectCampus(path: string): Expected {
  const all = dataLines(path);
  const lines = all.filter(Boolean);
  const keys = new Set<string>();
  let valid = 0;
  for (const line of lines) {
    const f = line.split(',');
    const inRange = CAMPUS_RANGES.every(
      ([lo, hi], i) => f[i + 2] === '' || (+f[i + 2] >= lo && +f[i + 2] <= hi),
    );
    if (f[0] && f[1] && inRange) {
      valid++;
      keys.add(`${f[1]}|${f[0]}`);
    }
  }
  return { valid, invalid: lines.length - valid, distinct: keys.size, skipped: all.length - lines.length };
}

/** The ```sql blocks of a seed's README (`../shared/seeds/<number>_*.txt`), verbatim. */
export function seedQueries(seed: string): string[] {
  const dir = join(DATASETS, '..', 'seeds');
  const file = readdirSync(dir).find((f) => f.startsWith(`${seed}_`));
  if (!file) throw new Error(`no seed ${seed} in ${dir}`);
  const text = readFileSync(join(dir, file), 'utf8');
  return [...text.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1].trim());
}
