/**
 * What `medallion ingest` prints: a progress bar while a file loads (a line per file
 * when the output is not a terminal), then one summary from the files' outcomes —
 * whose counts are the complete runs' counts in `medallion.runs`.
 */
import type { FileOutcome } from '../files/watch-types';

export interface IngestSummary {
  files: { loaded: number; duplicate: number; quarantined: number; failed: number };
  rows: { read: number; inserted: number; duplicate: number; quarantined: number; skipped: number };
  seconds: number;
  rowsPerSecond: number;
  /** One entry per file, in the order they finished. */
  outcomes: Array<Omit<FileOutcome, 'path' | 'movedTo'>>;
  /** Writes that failed for good (a refused batch, a permanent database error). */
  errors: string[];
}

export function summarize(
  outcomes: readonly FileOutcome[],
  seconds: number,
  errors: string[] = [],
): IngestSummary {
  const files = { loaded: 0, duplicate: 0, quarantined: 0, failed: 0 };
  const rows = { read: 0, inserted: 0, duplicate: 0, quarantined: 0, skipped: 0 };
  for (const o of outcomes) {
    if (o.state !== 'busy') files[o.state]++;
    rows.read += o.rowsRead ?? 0;
    rows.inserted += o.rowsInserted ?? 0;
    rows.duplicate += o.rowsDuplicate ?? 0;
    rows.quarantined += o.rowsQuarantined ?? 0;
    rows.skipped += o.rowsSkipped ?? 0;
  }
  return {
    files,
    rows,
    seconds: Math.round(seconds * 100) / 100,
    rowsPerSecond: seconds > 0 ? Math.round(rows.read / seconds) : 0,
    outcomes: outcomes.map(({ path: _path, movedTo: _movedTo, ...rest }) => rest),
    errors,
  };
}

/** 0: every file loaded (or was loaded before); 1: a file quarantined whole or failed, or a write failed. */
export function exitCode(s: IngestSummary): 0 | 1 {
  return s.files.quarantined || s.files.failed || s.errors.length ? 1 : 0;
}

const n = (v: number) => v.toLocaleString('en-US');

/** One line per file as it finishes. */
export function outcomeLine(o: FileOutcome): string {
  switch (o.state) {
    case 'loaded': {
      const how = o.replayed ? ` (run completed from bronze: ${o.replayed} batches)` : '';
      return (
        `${o.file}: loaded ${n(o.rowsRead ?? 0)} rows — ${n(o.rowsInserted ?? 0)} inserted, ` +
        `${n(o.rowsDuplicate ?? 0)} duplicate, ${n(o.rowsQuarantined ?? 0)} quarantined, ` +
        `${n(o.rowsSkipped ?? 0)} skipped${how}`
      );
    }
    case 'duplicate':
      return `${o.file}: not loaded again (${o.error})`;
    default:
      return `${o.file}: ${o.state}${o.rule ? ` (${o.rule})` : ''} — ${o.error ?? ''}`;
  }
}

export function summaryText(s: IngestSummary): string {
  const f = s.files;
  const row = (label: string, value: string) => `${label.padEnd(15)}${value}`;
  const lines = [
    row(
      'files',
      `${n(f.loaded)} loaded, ${n(f.duplicate)} already loaded, ${n(f.quarantined)} quarantined, ${n(f.failed)} failed`,
    ),
    row('rows read', n(s.rows.read)),
    row('  inserted', n(s.rows.inserted)),
    row('  duplicate', n(s.rows.duplicate)),
    row('  quarantined', n(s.rows.quarantined)),
    row('  skipped', `${n(s.rows.skipped)} (blank lines)`),
    row('time', `${s.seconds.toFixed(2)} s, ${n(s.rowsPerSecond)} rows/s`),
  ];
  for (const e of s.errors) lines.push(row('error', e));
  return lines.join('\n');
}

function mb(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

/** A progress bar for the file being read: bytes and rows. */
export function progressBar(file: string, bytes: number, size: number, rows: number, width = 24): string {
  const share = size > 0 ? Math.min(1, bytes / size) : 1;
  const filled = Math.round(share * width);
  const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
  return `${bar} ${String(Math.floor(share * 100)).padStart(3)} % ${mb(bytes)} of ${mb(size)} · ${n(rows)} rows · ${file}`;
}
