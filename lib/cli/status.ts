/**
 * `medallion status`: recent runs with their counts, the file ledger by state (leases
 * gone stale among the claimed files), and quarantined records by rule.
 */
import type { Pool } from 'pg';
import { qualified, resolveTable, type SchemaNames } from '../pg/identifiers';

export interface StatusReport {
  runs: Array<{
    source: string;
    status: string;
    started_at: Date;
    rows_read: number;
    rows_inserted: number;
    rows_duplicate: number;
    rows_quarantined: number;
    rows_skipped: number;
    duration_ms: number | null;
    error: string | null;
  }>;
  /** Files per ledger state; `stale`: claimed with an expired lease (its holder is gone). */
  ledger: Array<{ state: string; files: number; stale: number }>;
  quarantine: Array<{ rule: string; records: number }>;
}

export async function readStatus(pool: Pool, schemas: SchemaNames, limit: number): Promise<StatusReport> {
  const t = (name: string) => qualified(resolveTable(name, schemas));
  const runs = await pool.query<StatusReport['runs'][number]>(
    `SELECT source, status, started_at, rows_read::int, rows_inserted::int, rows_duplicate::int,
            rows_quarantined::int, rows_skipped::int, duration_ms::int, error
       FROM ${t('medallion.runs')} ORDER BY started_at DESC LIMIT $1`,
    [limit],
  );
  const ledger = await pool.query<StatusReport['ledger'][number]>(
    `SELECT state, count(*)::int AS files,
            count(*) FILTER (WHERE state = 'claimed' AND lease_until < now())::int AS stale
       FROM ${t('medallion.files')} GROUP BY state ORDER BY state`,
  );
  // a record counts once per rule it broke (a record may break several)
  const quarantine = await pool.query<StatusReport['quarantine'][number]>(
    `SELECT rule, count(*)::int AS records FROM (
       SELECT DISTINCT q.id, e->>'rule' AS rule
         FROM ${t('silver.quarantine')} q, jsonb_array_elements(q.errors) e) r
      GROUP BY rule ORDER BY records DESC, rule`,
  );
  return { runs: runs.rows, ledger: ledger.rows, quarantine: quarantine.rows };
}

const n = (v: number) => v.toLocaleString('en-US');

export function statusText(s: StatusReport): string {
  const out: string[] = ['Recent runs'];
  if (!s.runs.length) out.push('  none yet');
  for (const r of s.runs) {
    const when = r.started_at.toISOString().replace('T', ' ').slice(0, 19);
    const counts =
      `read ${n(r.rows_read)}, inserted ${n(r.rows_inserted)}, duplicate ${n(r.rows_duplicate)}, ` +
      `quarantined ${n(r.rows_quarantined)}, skipped ${n(r.rows_skipped)}`;
    const took = r.duration_ms === null ? '' : `, ${(r.duration_ms / 1000).toFixed(1)} s`;
    out.push(
      `  ${when}  ${r.status.padEnd(8)} ${r.source}: ${counts}${took}${r.error ? ` — ${r.error}` : ''}`,
    );
  }
  out.push('File ledger');
  if (!s.ledger.length) out.push('  no files yet');
  for (const l of s.ledger) {
    out.push(`  ${l.state.padEnd(12)} ${n(l.files)}${l.stale ? ` (${n(l.stale)} with a stale lease)` : ''}`);
  }
  out.push('Quarantined records by rule');
  if (!s.quarantine.length) out.push('  none');
  for (const q of s.quarantine) out.push(`  ${q.rule.padEnd(12)} ${n(q.records)}`);
  return out.join('\n');
}
