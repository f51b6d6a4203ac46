/**
 * The quarantine folder's files for one batch of rejected records: a CSV of the records
 * as received (so a person can open, fix and drop them again) and a JSON file with
 * every error. Each appears whole or not at all, and a cell a spreadsheet would run as
 * a formula is neutralized.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAllAtomically } from '../files/folders';
import { neutralize } from '../csv-formula';
import type { RecordError } from './compile';

export interface QuarantineRow {
  line_no?: number;
  /** The record's own source key (an MQTT reading's); else the batch's. */
  source_key?: string;
  source_name?: string | null;
  record: Record<string, unknown>;
  errors: RecordError[];
  rule_version: string;
}

function csvCell(value: unknown): string {
  const text = neutralize(value === undefined || value === null ? '' : String(value));
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** `line_no`, then every field the records have (first seen first), one line per record. */
export function rejectedCsv(rows: readonly QuarantineRow[]): string {
  const fields: string[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    for (const k of Object.keys(r.record)) {
      if (!seen.has(k)) {
        seen.add(k);
        fields.push(k);
      }
    }
  }
  const lines = [['line_no', ...fields].map(csvCell).join(',')];
  for (const r of rows) lines.push([r.line_no, ...fields.map((f) => r.record[f])].map(csvCell).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** Characters of the source name kept: with `.<batch>.rejected.csv.<pid>.tmp` a file name stays under 255 bytes. */
const BASE_CHARS = 200;

/** `<source>.<batch>`: the source name without its extension, made safe (and short enough) for a file name. */
export function quarantineBase(sourceName: string | undefined, batch: number | undefined): string {
  const name =
    (sourceName || 'records')
      .replace(/\.[^.]*$/, '')
      .replace(/[^\w.-]+/g, '_')
      .slice(0, BASE_CHARS) || 'records';
  return batch === undefined ? `${name}.${Date.now()}` : `${name}.${batch}`;
}

export interface QuarantineFiles {
  csv: string;
  errors: string;
}

/**
 * Writes `<base>.rejected.csv` and `<base>.errors.json` into `dir`, both or neither; a
 * replayed batch writes the same again.
 */
export async function writeQuarantineFiles(
  dir: string,
  base: string,
  rows: readonly QuarantineRow[],
  about: Record<string, unknown>,
): Promise<QuarantineFiles> {
  const csv = join(dir, `${base}.rejected.csv`);
  const errors = join(dir, `${base}.errors.json`);
  const detail = {
    ...about,
    rows: rows.map((r) => ({ line: r.line_no, rule_version: r.rule_version, errors: r.errors })),
  };
  await writeAllAtomically([
    [csv, rejectedCsv(rows)],
    [errors, `${JSON.stringify(detail, null, 2)}\n`],
  ]);
  return { csv, errors };
}

/** Where a rejected batch came from, written into its `.errors.json`. */
export interface RejectedBatchSource {
  name?: string;
  key?: string;
  batch?: number;
  runId?: string;
}

/**
 * The quarantine node's files for one batch: `writeQuarantineFiles` into `dir` (created
 * when missing). When they cannot be written (a full disk, no permission) the rows still
 * belong in silver.quarantine, so this does not fail: it says why, for the node to report.
 */
export async function keepRejectedBatch(
  dir: string,
  rows: readonly QuarantineRow[],
  source: RejectedBatchSource,
): Promise<{ files: QuarantineFiles; error?: undefined } | { files?: undefined; error: string }> {
  const base = quarantineBase(source.name, source.batch);
  try {
    await mkdir(dir, { recursive: true });
    const files = await writeQuarantineFiles(dir, base, rows, {
      source: source.name ?? null,
      source_key: source.key ?? null,
      batch: source.batch ?? null,
      run_id: source.runId ?? null,
      what_to_do:
        'fix the records (or the rules, then replay) and drop the corrected file into the landing folder',
    });
    return { files };
  } catch (err) {
    return {
      error:
        `cannot write ${base}.rejected.csv and ${base}.errors.json into ${dir} (${(err as Error).message}): ` +
        `the ${rows.length} rejected records go on to silver.quarantine without them; ` +
        'free space on that disk or let Node-RED write the folder',
    };
  }
}
