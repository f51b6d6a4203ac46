/**
 * The file ledger (`medallion.files`, `medallion.file_events`, and the runs):
 * who holds which content, for how long, and what became of it. Content is the key
 * (sha256), so a file dropped again under another name is recognised. A loaded file
 * keeps its lease until its run is complete; a run left incomplete (its holder died
 * after the commit point) is found here and replayed from bronze.
 */
import type { Pool } from 'pg';
import { qualified, resolveTable, type SchemaNames } from '../pg/identifiers';
import { Runs } from '../pg/runs';
import type { CsvLayout } from './csv-reader';

export type FileState = 'claimed' | 'loaded' | 'quarantined' | 'failed';

export interface FileRow {
  sha256: string;
  name: string;
  state: FileState;
  claimed_by: string | null;
  lease_until: Date | null;
  run_id: string | null;
  batch_size: number | null;
  error: string | null;
}

export type ClaimOutcome =
  /** Ours now: new content, or content that was quarantined or failed before. */
  | { kind: 'claimed'; runId: string; batchSize: number }
  /** Ours again: a claim whose lease expired, or our own from before a restart or redeploy. */
  | { kind: 'resumed'; runId: string; batchSize: number }
  /** Loaded before (perhaps under another name). */
  | { kind: 'loaded'; row: FileRow }
  /** Held by a live lease of another instance. */
  | { kind: 'busy'; row: FileRow };

export interface ClaimRequest {
  sha256: string;
  name: string;
  size: number;
  instance: string;
  leaseMs: number;
  runId: string;
  batchSize: number;
}

/** `medallion.files.csv_options` as `setLayout` stores it. */
interface CsvOptions {
  delimiter: string;
  quote: string;
  columns: string[];
}

export interface FileCounts {
  rowsRead: number;
  rowsSkipped: number;
  batches: number;
}

/** A loaded file whose run is not complete: what a replay from bronze needs. */
export interface IncompleteRun {
  sha256: string;
  name: string;
  runId: string;
  batches: number;
  completeLayers: string[];
  /** How the file was parsed (`setLayout`). */
  layout?: CsvLayout;
}

export class Ledger {
  readonly runs: Runs;
  private readonly files: string;
  private readonly events: string;
  private readonly runTable: string;
  private readonly batches: string;

  constructor(
    private readonly pool: Pool,
    private readonly schemas: SchemaNames,
  ) {
    this.runs = new Runs(pool, schemas);
    this.files = qualified(resolveTable('medallion.files', schemas));
    this.events = qualified(resolveTable('medallion.file_events', schemas));
    this.runTable = qualified(resolveTable('medallion.runs', schemas));
    this.batches = qualified(resolveTable('medallion.batches', schemas));
  }

  /**
   * Claims the content in one statement (concurrent claimers: one wins). A claim held
   * by `instance` itself or with an expired lease is taken over and keeps its run and
   * batch size, so the batches already committed are recognised.
   */
  async claim(req: ClaimRequest): Promise<ClaimOutcome> {
    const { rows } = await this.pool.query<{ run_id: string; batch_size: number }>(
      `INSERT INTO ${this.files} AS f
         (sha256, name, size, state, claimed_by, lease_until, run_id, claimed_at, batch_size)
       VALUES ($1, $2, $3, 'claimed', $4, now() + $5 * interval '1 millisecond', $6, now(), $7)
       ON CONFLICT (sha256) DO UPDATE SET
         name = EXCLUDED.name, size = EXCLUDED.size, state = 'claimed',
         claimed_by = EXCLUDED.claimed_by, lease_until = EXCLUDED.lease_until,
         run_id = CASE WHEN f.state = 'claimed' THEN f.run_id ELSE EXCLUDED.run_id END,
         batch_size = COALESCE(f.batch_size, EXCLUDED.batch_size),
         claimed_at = now(), finished_at = NULL, error = NULL, updated_at = now()
       WHERE f.state IN ('quarantined', 'failed')
          OR (f.state = 'claimed' AND (f.lease_until IS NULL OR f.lease_until < now() OR f.claimed_by = $4))
       RETURNING run_id, batch_size`,
      [req.sha256, req.name, req.size, req.instance, req.leaseMs, req.runId, req.batchSize],
    );
    if (rows.length) {
      const { run_id: runId, batch_size: batchSize } = rows[0];
      if (runId === req.runId) return { kind: 'claimed', runId, batchSize };
      return { kind: 'resumed', runId, batchSize };
    }
    const row = await this.get(req.sha256);
    if (!row) throw new Error(`the ledger lost the row of ${req.name} (${req.sha256}) while claiming it`);
    return row.state === 'loaded' ? { kind: 'loaded', row } : { kind: 'busy', row };
  }

  async get(sha256: string): Promise<FileRow | undefined> {
    const { rows } = await this.pool.query<FileRow>(
      `SELECT sha256, name, state, claimed_by, lease_until, run_id, batch_size, error FROM ${this.files} WHERE sha256 = $1`,
      [sha256],
    );
    return rows[0];
  }

  /** Extends our lease; false when the claim is no longer ours (it expired and was taken over). */
  async renew(sha256: string, instance: string, leaseMs: number): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE ${this.files} SET lease_until = now() + $3 * interval '1 millisecond', updated_at = now()
        WHERE sha256 = $1 AND claimed_by = $2 AND state IN ('claimed', 'loaded')`,
      [sha256, instance, leaseMs],
    );
    return rowCount === 1;
  }

  /** Lets the lease go at once (redeploy, shutdown, run complete): whoever starts next may resume the file. */
  async release(sha256: string, instance: string): Promise<void> {
    await this.pool.query(
      `UPDATE ${this.files} SET lease_until = now(), updated_at = now()
        WHERE sha256 = $1 AND claimed_by = $2 AND state IN ('claimed', 'loaded')`,
      [sha256, instance],
    );
  }

  /** Records how the file is parsed, so a replay from bronze can parse its raw lines again. */
  async setLayout(sha256: string, layout: CsvLayout): Promise<void> {
    await this.pool.query(
      `UPDATE ${this.files} SET header = $2, csv_options = $3, updated_at = now() WHERE sha256 = $1`,
      [
        sha256,
        layout.header ?? null,
        JSON.stringify({ delimiter: layout.delimiter, quote: layout.quote, columns: layout.names }),
      ],
    );
  }

  /** The batch numbers of the content committed in every one of `layers` (of `among`, when given). */
  async committedBatches(sha256: string, layers: string[], among?: number[]): Promise<number[]> {
    const { rows } = await this.pool.query<{ batch: number }>(
      `SELECT batch FROM ${this.batches}
        WHERE source_key = $1 AND layer = ANY($2) AND ($3::int[] IS NULL OR batch = ANY($3))
        GROUP BY batch HAVING count(DISTINCT layer) = cardinality($2::text[])`,
      [sha256, layers, among ?? null],
    );
    return rows.map((r) => r.batch);
  }

  /** The progress rows of the content's batches `among` in `layers`. */
  async progressOf(
    sha256: string,
    layers: string[],
    among: number[],
  ): Promise<Array<{ batch: number; layer: string }>> {
    const { rows } = await this.pool.query<{ batch: number; layer: string }>(
      `SELECT batch, layer FROM ${this.batches} WHERE source_key = $1 AND layer = ANY($2) AND batch = ANY($3)`,
      [sha256, layers, among],
    );
    return rows;
  }

  /** The raw lines of one batch of the content in the bronze table, in file order. */
  async rawLines(
    table: string,
    sha256: string,
    batch: number,
  ): Promise<Array<{ line_no: number; raw: Buffer }>> {
    const { rows } = await this.pool.query<{ line_no: string; raw: Buffer }>(
      `SELECT line_no, raw FROM ${qualified(resolveTable(table, this.schemas))}
        WHERE source_key = $1 AND batch = $2 ORDER BY line_no`,
      [sha256, batch],
    );
    return rows.map((r) => ({ line_no: Number(r.line_no), raw: r.raw }));
  }

  /**
   * Marks the content loaded (only while we hold it; the lease stays ours until the
   * run is complete); false when the claim was lost. Loaded by us already is true: the
   * same statement asked again after its commit's reply was lost (the server stopping).
   */
  async markLoaded(sha256: string, instance: string, counts: FileCounts): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE ${this.files} SET state = 'loaded', finished_at = now(), updated_at = now(),
              rows_read = $3, rows_skipped = $4, batches = $5
        WHERE sha256 = $1 AND claimed_by = $2 AND state IN ('claimed', 'loaded')`,
      [sha256, instance, counts.rowsRead, counts.rowsSkipped, counts.batches],
    );
    return rowCount === 1;
  }

  /** Marks the content quarantined (the whole file) or failed, with the reason. */
  async markRejected(sha256: string, instance: string, state: 'quarantined' | 'failed', error: string) {
    await this.pool.query(
      `UPDATE ${this.files} SET state = $3, error = $4, lease_until = NULL, finished_at = now(), updated_at = now()
        WHERE sha256 = $1 AND claimed_by = $2 AND state = 'claimed'`,
      [sha256, instance, state, error],
    );
  }

  async event(sha256: string, name: string, event: string, instance: string, detail?: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.events} (sha256, name, event, instance, detail) VALUES ($1, $2, $3, $4, $5)`,
      [sha256, name, event, instance, detail ?? null],
    );
  }

  /**
   * Loaded files whose run is not complete and whose holder is gone (lease expired) or
   * is this instance (from before a restart): the runs to replay from bronze.
   */
  async incompleteRuns(instance: string, limit = 100): Promise<IncompleteRun[]> {
    const { rows } = await this.pool.query<
      IncompleteRun & { options: CsvOptions | null; header: string | null }
    >(
      `SELECT f.sha256, f.name, f.run_id AS "runId", r.batches, r.complete_layers AS "completeLayers",
              f.csv_options AS options, f.header
         FROM ${this.files} f JOIN ${this.runTable} r ON r.run_id = f.run_id
        WHERE f.state = 'loaded' AND r.status = 'running' AND r.batches IS NOT NULL
          AND (f.lease_until IS NULL OR f.lease_until < now() OR f.claimed_by = $1)
        ORDER BY f.finished_at LIMIT $2`,
      [instance, limit],
    );
    return rows.map(({ options, header, ...run }) => ({
      ...run,
      layout: options
        ? {
            delimiter: options.delimiter,
            quote: options.quote,
            names: options.columns,
            header: header ?? undefined,
          }
        : undefined,
    }));
  }

  /** Takes the lease of a loaded file to replay its incomplete run; false when someone else holds it. */
  async claimReplay(run: IncompleteRun, instance: string, leaseMs: number): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE ${this.files} f SET claimed_by = $3, lease_until = now() + $4 * interval '1 millisecond', updated_at = now()
        WHERE f.sha256 = $1 AND f.run_id = $2 AND f.state = 'loaded'
          AND (f.lease_until IS NULL OR f.lease_until < now() OR f.claimed_by = $3)
          AND EXISTS (SELECT 1 FROM ${this.runTable} r WHERE r.run_id = $2 AND r.status = 'running')`,
      [run.sha256, run.runId, instance, leaseMs],
    );
    return rowCount === 1;
  }
}
