/**
 * Quarantined records taken back out of `silver.quarantine` for a replay through the
 * current rules: marked `replayed_at` as they are taken (each is offered once), and
 * grouped by source so that their lineage to bronze stays whole.
 */
import type { Pool } from 'pg';
import { qualified, resolveTable, type SchemaNames } from '../pg/identifiers';

export interface ReplayFilter {
  /** A source key (sha256) or source name. */
  source?: string;
  ruleVersion?: string;
  limit: number;
}

export interface ReplayBatch {
  sourceKey: string;
  sourceName: string | null;
  runId: string | null;
  /** As validate takes them: file records with their line and fields. */
  records: Array<{ line_no: number; fields: Record<string, unknown> }>;
}

export async function takeForReplay(
  pool: Pool,
  schemas: SchemaNames,
  filter: ReplayFilter,
): Promise<ReplayBatch[]> {
  const table = qualified(resolveTable('silver.quarantine', schemas));
  const { rows } = await pool.query<{
    source_key: string;
    source_name: string | null;
    run_id: string | null;
    line_no: string;
    record: Record<string, unknown>;
  }>(
    `UPDATE ${table} SET replayed_at = now()
      WHERE id IN (SELECT id FROM ${table}
                    WHERE replayed_at IS NULL
                      AND ($1::text IS NULL OR source_key = $1 OR source_name = $1)
                      AND ($2::text IS NULL OR rule_version = $2)
                    ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
      RETURNING source_key, source_name, run_id, line_no, record`,
    [filter.source ?? null, filter.ruleVersion ?? null, filter.limit],
  );
  const bySource = new Map<string, ReplayBatch>();
  for (const r of rows) {
    let batch = bySource.get(r.source_key);
    if (!batch) {
      batch = { sourceKey: r.source_key, sourceName: r.source_name, runId: r.run_id, records: [] };
      bySource.set(r.source_key, batch);
    }
    batch.records.push({ line_no: Number(r.line_no), fields: r.record });
  }
  for (const b of bySource.values()) b.records.sort((a, c) => a.line_no - c.line_no);
  return [...bySource.values()];
}
