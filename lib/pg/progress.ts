/**
 * Batch progress rows (`medallion.batches`): one per (source key, batch, layer),
 * written in the same transaction as that layer's rows and never overwritten, so
 * the first commit's counts survive every replay. Conservation and run completion
 * are computed from them.
 */
import type { Pool, PoolClient } from 'pg';
import { qualified, type TableRef } from './identifiers';

export interface ProgressKey {
  sourceKey: string;
  batch: number;
  layer: string;
  runId?: string;
  /** The source's last batch. */
  last: boolean;
}

export interface ProgressCounts {
  rowsIn: number;
  inserted: number;
  duplicate: number;
  quarantined: number;
}

export interface ProgressRow extends ProgressCounts {
  /** True when this write stored the row; false when an earlier commit had (a replay). */
  stored: boolean;
}

/** What upstream nodes put on a message (DESIGN.md "Messages carry batches"). */
export interface MessageSource {
  kind?: string;
  name?: string;
  key?: string;
  sha256?: string;
  batch?: number;
  last?: boolean;
}

export class ProgressKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProgressKeyError';
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The progress key of a message: its source key (`source.key`, else the content
 * `sha256`, else `kind:name`) and batch number, or undefined when the message carries
 * no batch number (then no progress row is written).
 */
export function progressKeyFrom(
  source: MessageSource | undefined,
  run: { id?: unknown } | undefined,
  layer: string,
): ProgressKey | undefined {
  if (!source || source.batch === undefined || source.batch === null) return undefined;
  const batch = Number(source.batch);
  if (!Number.isInteger(batch) || batch < 0 || batch > 2 ** 31 - 1) {
    throw new ProgressKeyError(
      `msg.source.batch must be a whole number ≥ 0, got ${JSON.stringify(source.batch)}`,
    );
  }
  const sourceKey =
    source.key || source.sha256 || (source.kind && source.name ? `${source.kind}:${source.name}` : '');
  if (!sourceKey) {
    throw new ProgressKeyError(
      'msg.source has a batch number but no key, sha256, or kind and name to identify it',
    );
  }
  const runId = run?.id === undefined || run.id === null ? undefined : String(run.id);
  if (runId !== undefined && !UUID.test(runId)) {
    throw new ProgressKeyError(`msg.run.id must be a UUID, got ${JSON.stringify(run?.id)}`);
  }
  return { sourceKey, batch, layer, runId, last: Boolean(source.last) };
}

/**
 * Inserts the progress row unless one exists, and returns the row as stored: this
 * write's counts on a first commit, the first commit's counts on a replay.
 */
export async function recordProgress(
  client: PoolClient,
  table: TableRef,
  key: ProgressKey,
  counts: ProgressCounts,
): Promise<ProgressRow> {
  const t = qualified(table);
  const { rows } = await client.query<ProgressRow>(
    `WITH ins AS (
       INSERT INTO ${t} (source_key, batch, layer, run_id, rows_in, inserted, duplicate, quarantined, last)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (source_key, batch, layer) DO NOTHING
       RETURNING rows_in, inserted, duplicate, quarantined)
     SELECT true AS stored, rows_in AS "rowsIn", inserted, duplicate, quarantined FROM ins
     UNION ALL
     SELECT false, rows_in, inserted, duplicate, quarantined FROM ${t}
      WHERE source_key = $1 AND batch = $2 AND layer = $3 AND NOT EXISTS (SELECT 1 FROM ins)`,
    [
      key.sourceKey,
      key.batch,
      key.layer,
      key.runId ?? null,
      counts.rowsIn,
      counts.inserted,
      counts.duplicate,
      counts.quarantined,
      key.last,
    ],
  );
  return rows[0];
}

/** True when a progress row for the key exists (the batch was committed before). */
export async function hasProgress(client: PoolClient, table: TableRef, key: ProgressKey): Promise<boolean> {
  const { rows } = await client.query(
    `SELECT 1 FROM ${qualified(table)} WHERE source_key = $1 AND batch = $2 AND layer = $3`,
    [key.sourceKey, key.batch, key.layer],
  );
  return rows.length > 0;
}

/** Which of `batches` of a source have a progress row in `layer` (their commit was not heard of in-process). */
export async function committedBatches(
  pool: Pool,
  table: TableRef,
  sourceKey: string,
  layer: string,
  batches: readonly number[],
): Promise<number[]> {
  const { rows } = await pool.query<{ batch: number }>(
    `SELECT batch FROM ${qualified(table)} WHERE source_key = $1 AND layer = $2 AND batch = ANY($3::int[])`,
    [sourceKey, layer, batches],
  );
  return rows.map((r) => r.batch);
}
