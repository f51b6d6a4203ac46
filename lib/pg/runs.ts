/**
 * Runs (`medallion.runs`): one per file or stream window. A run knows how many
 * batches its source has (once it has been read to the end) and the layers that
 * complete it; it is complete when every batch has a progress row in each of those
 * layers, and whoever sees that first finalizes it — the pg-write of a final layer
 * after its commit, or the reader waiting for it. The counts come from the progress
 * rows' first-commit counts, never from a replay's conflicts.
 */
import type { Pool } from 'pg';
import { qualified, resolveTable, type SchemaNames } from './identifiers';

export interface RunTotals {
  rowsRead: number;
  rowsSkipped: number;
  rowsInserted: number;
  rowsDuplicate: number;
  rowsQuarantined: number;
  durationMs: number;
}

export interface ReadCounts {
  rowsRead: number;
  rowsSkipped: number;
  batches: number;
}

const TOTALS = `rows_read::int AS "rowsRead", rows_skipped::int AS "rowsSkipped",
  rows_inserted::int AS "rowsInserted", rows_duplicate::int AS "rowsDuplicate",
  rows_quarantined::int AS "rowsQuarantined", duration_ms::int AS "durationMs"`;

export class Runs {
  private readonly runs: string;
  private readonly batches: string;

  constructor(
    private readonly pool: Pool,
    schemas: SchemaNames,
  ) {
    this.runs = qualified(resolveTable('medallion.runs', schemas));
    this.batches = qualified(resolveTable('medallion.batches', schemas));
  }

  /**
   * Starts a run (a resumed one keeps its row). `completeLayers`: the layers every
   * batch must reach. `countLayers` (default: the completion layers) are where its
   * records are counted: the first one's rows are the stored ones, every row of the
   * others (a quarantine) counts as quarantined; a layer of derived rows (gold) is only
   * waited for.
   */
  async start(
    runId: string,
    source: string,
    sourceKey: string,
    completeLayers: string[],
    countLayers: string[] = completeLayers,
  ): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.runs} (run_id, source, source_key, complete_layers, count_layers)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (run_id) DO UPDATE SET complete_layers = EXCLUDED.complete_layers,
                                          count_layers = EXCLUDED.count_layers`,
      [runId, source, sourceKey, completeLayers, countLayers],
    );
  }

  /** The source was read to the end: how many records and batches it has. */
  async endRead(runId: string, counts: ReadCounts): Promise<void> {
    await this.pool.query(
      `UPDATE ${this.runs} SET rows_read = $2, rows_skipped = $3, batches = $4 WHERE run_id = $1`,
      [runId, counts.rowsRead, counts.rowsSkipped, counts.batches],
    );
  }

  /**
   * Completes the run when every batch has reached every completion layer (and, when
   * `layer` is given, only if it is one of them). One statement: of two finalizers at
   * once, one completes the run and the other finds it complete. Returns the totals
   * when this call completed it.
   */
  async finalize(runId: string, layer?: string): Promise<RunTotals | undefined> {
    const { rows } = await this.pool.query<RunTotals>(
      `WITH r AS (
         SELECT run_id, source_key, batches, complete_layers,
                CASE WHEN cardinality(count_layers) > 0 THEN count_layers ELSE complete_layers END AS counted
           FROM ${this.runs}
          WHERE run_id = $1 AND status = 'running' AND batches IS NOT NULL
            AND ($2::text IS NULL OR $2 = ANY(complete_layers))
       ), p AS (
         SELECT b.batch, b.layer, b.rows_in, b.inserted, b.duplicate, b.quarantined,
                b.layer = r.counted[1] AS first, b.layer = ANY(r.counted) AS counted
           FROM ${this.batches} b JOIN r ON b.source_key = r.source_key
          WHERE b.layer = ANY(r.complete_layers) AND b.batch < r.batches
       ), done AS (
         SELECT count(*) AS n FROM (
           SELECT batch FROM p GROUP BY batch
           HAVING count(DISTINCT layer) = (SELECT cardinality(complete_layers) FROM r)) d
       ), s AS (
         SELECT coalesce(sum(inserted) FILTER (WHERE first), 0) AS inserted,
                coalesce(sum(duplicate) FILTER (WHERE first), 0) AS duplicate,
                coalesce(sum(quarantined) FILTER (WHERE first), 0)
                  + coalesce(sum(rows_in) FILTER (WHERE counted AND NOT first), 0) AS quarantined
           FROM p
       )
       UPDATE ${this.runs} u SET status = 'complete', finished_at = now(), error = NULL,
              rows_inserted = s.inserted, rows_duplicate = s.duplicate, rows_quarantined = s.quarantined,
              duration_ms = round(extract(epoch FROM now() - u.started_at) * 1000)
         FROM r, s, done
        WHERE u.run_id = r.run_id AND u.status = 'running'
          AND (cardinality(r.complete_layers) = 0 OR done.n = r.batches)
        RETURNING ${TOTALS}`,
      [runId, layer ?? null],
    );
    return rows[0];
  }

  /** The totals of a complete run; undefined while it is not complete. */
  async totals(runId: string): Promise<RunTotals | undefined> {
    const { rows } = await this.pool.query<RunTotals>(
      `SELECT ${TOTALS} FROM ${this.runs} WHERE run_id = $1 AND status = 'complete'`,
      [runId],
    );
    return rows[0];
  }

  async fail(runId: string, error: string): Promise<void> {
    await this.pool.query(
      `UPDATE ${this.runs} SET status = 'failed', finished_at = now(), error = $2,
              duration_ms = round(extract(epoch FROM now() - started_at) * 1000)
        WHERE run_id = $1`,
      [runId, error],
    );
  }
}
