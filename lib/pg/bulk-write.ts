import type { Pool, PoolClient } from 'pg';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { inTransaction } from './client';
import { describeError, errorColumn, isRowError } from './errors';
import { displayName, type TableRef } from './identifiers';
import { hasProgress, recordProgress, type ProgressKey, type ProgressRow } from './progress';
import { describeTable, type TableInfo } from './table-info';
import {
  copyChunks,
  fieldsOf,
  planWrite,
  type ColumnDefaults,
  type DbRecord,
  type WriteOptions,
  type WritePlan,
} from './write-plan';

export interface TableWriterOptions extends WriteOptions {
  /** Where progress rows go (`medallion.batches`). */
  progressTable: TableRef;
  /** Try COPY straight into the table before the staging path (default true). */
  fastPath?: boolean;
}

/** A row the database refused, with its message; the rest of its batch was stored. */
export interface RejectedRow {
  /** Position in the batch. */
  index: number;
  record: DbRecord;
  /** SQLSTATE, e.g. `22P02`. */
  code?: string;
  /** The column the server named, when it did. */
  column?: string;
  message: string;
}

export interface WriteResult {
  table: string;
  /** Records in the batch. */
  rows: number;
  /** Rows that are new in the table. */
  inserted: number;
  /** Rows that replaced a stored row with different values (`update` only). */
  updated: number;
  /** Rows stored already, or repeated inside the batch: not inserted. */
  conflicted: number;
  /** Rows the database refused; every other row of the batch is stored. */
  rejected: RejectedRow[];
  /** The batch's progress row as stored (first-commit counts), when the write had a progress key. */
  progress?: ProgressRow;
  /** How the rows went in: `direct` COPY, `staging` + INSERT, or `isolating` rejected rows. */
  path: 'direct' | 'staging' | 'isolating' | 'none';
  durationMs: number;
  /** Record fields that match no writable column and were not written. */
  ignoredFields: string[];
}

interface Counts {
  inserted: number;
  updated: number;
  rejected: RejectedRow[];
}

interface Committed {
  counts: Counts;
  row?: ProgressRow;
}

/** Rows of the batch that were neither inserted nor refused: their key was stored or repeated. */
function notInserted(records: readonly DbRecord[], counts: Counts): number {
  return records.length - counts.rejected.length - counts.inserted;
}

/** Batches in a row that skip the fast path after it met a conflict: doubles up to this. */
const MAX_DIRECT_BACKOFF = 64;

/**
 * Writes batches into one table idempotently, each in one transaction with its
 * progress row:
 * - fast path (first loads): COPY straight into the table; any conflict aborts it;
 * - staging path: COPY into a temporary table, then one INSERT … SELECT … ON CONFLICT;
 * - isolating path, when the database refuses some row: the staging path per part of
 *   the batch under savepoints, halving the parts that fail, so the refused rows are
 *   found in O(n log n) and the rest of the batch commits.
 * A replayed batch inserts nothing twice and keeps its first progress counts.
 */
export class TableWriter {
  private info?: Promise<TableInfo>;
  private directBackoff = 0;
  private batchesSinceConflict = 0;

  constructor(
    private readonly pool: Pool,
    readonly options: TableWriterOptions,
  ) {}

  /** Table metadata, read once. */
  describe(): Promise<TableInfo> {
    if (!this.info) {
      this.info = describeTable(this.pool, this.options.table);
      this.info.catch(() => (this.info = undefined));
    }
    return this.info;
  }

  /** Writes one batch; `defaults` fill the columns its records have no field for (lineage). */
  async write(
    records: readonly DbRecord[],
    progress?: ProgressKey,
    defaults?: ColumnDefaults,
  ): Promise<WriteResult> {
    const started = process.hrtime.bigint();
    const result = (out: Committed, path: WriteResult['path'], plan?: WritePlan): WriteResult => ({
      table: displayName(this.options.table),
      rows: records.length,
      inserted: out.counts.inserted,
      updated: out.counts.updated,
      conflicted: notInserted(records, out.counts),
      rejected: out.counts.rejected,
      progress: out.row,
      path,
      durationMs: Number(process.hrtime.bigint() - started) / 1e6,
      ignoredFields: plan?.ignoredFields ?? [],
    });

    if (!records.length) {
      const none: Counts = { inserted: 0, updated: 0, rejected: [] };
      const out = progress ? await this.commit(records, progress, async () => none) : { counts: none };
      return result(out, 'none');
    }
    const plan = planWrite(await this.describe(), fieldsOf(records), this.options, defaults);

    // a value the table refuses fails every path: after the first such error, go straight to isolating
    let refused = false;
    if (this.fastPathDue()) {
      try {
        const out = await this.commit(records, progress, (c) => this.copyDirect(c, plan, records, progress));
        if (out) {
          this.directBackoff = 0;
          return result(out, 'direct', plan);
        }
      } catch (err) {
        if (!isRowError(err)) throw err;
        if ((err as { code?: string }).code === '23505') {
          this.directBackoff = Math.min(MAX_DIRECT_BACKOFF, Math.max(1, this.directBackoff * 2));
          this.batchesSinceConflict = 0;
        } else {
          refused = true;
        }
      }
    }
    if (!refused) {
      try {
        return result(
          await this.commit(records, progress, (c) => this.staged(c, plan, records)),
          'staging',
          plan,
        );
      } catch (err) {
        if (!isRowError(err)) throw err;
      }
    }
    return result(
      await this.commit(records, progress, (c) => this.isolate(c, plan, records)),
      'isolating',
      plan,
    );
  }

  /** The fast path is tried unless disabled or resting after a conflict. */
  private fastPathDue(): boolean {
    return this.options.fastPath !== false && this.batchesSinceConflict++ >= this.directBackoff;
  }

  /**
   * One transaction: the rows by `write`, then the batch's progress row. Resolves to
   * undefined, committing nothing, when `write` declines (the fast path on a replay).
   */
  private commit(
    records: readonly DbRecord[],
    progress: ProgressKey | undefined,
    write: (client: PoolClient) => Promise<Counts>,
  ): Promise<Committed>;
  private commit(
    records: readonly DbRecord[],
    progress: ProgressKey | undefined,
    write: (client: PoolClient) => Promise<Counts | undefined>,
  ): Promise<Committed | undefined>;
  private async commit(
    records: readonly DbRecord[],
    progress: ProgressKey | undefined,
    write: (client: PoolClient) => Promise<Counts | undefined>,
  ): Promise<Committed | undefined> {
    return inTransaction(this.pool, async (client) => {
      const counts = await write(client);
      if (!counts) return undefined;
      if (!progress) return { counts };
      const row = await recordProgress(client, this.options.progressTable, progress, {
        rowsIn: records.length,
        inserted: counts.inserted,
        duplicate: notInserted(records, counts),
        quarantined: counts.rejected.length,
      });
      return { counts, row };
    });
  }

  /** COPY straight into the table; declines when the ledger shows the batch was committed before. */
  private async copyDirect(
    client: PoolClient,
    plan: WritePlan,
    records: readonly DbRecord[],
    progress: ProgressKey | undefined,
  ): Promise<Counts | undefined> {
    if (progress && (await hasProgress(client, this.options.progressTable, progress))) return undefined;
    const copy = client.query(copyFrom(plan.copyDirect));
    await pipeline(
      Readable.from(copyChunks(records, plan.columns, { position: false, defaults: plan.defaults })),
      copy,
    );
    return { inserted: copy.rowCount, updated: 0, rejected: [] };
  }

  private async staged(
    client: PoolClient,
    plan: WritePlan,
    records: readonly DbRecord[],
    indices?: readonly number[],
  ): Promise<Counts> {
    await client.query(plan.createStage);
    await pipeline(
      Readable.from(copyChunks(records, plan.columns, { indices, defaults: plan.defaults })),
      client.query(copyFrom(plan.copy)),
    );
    const { rows } = await client.query<{ inserted: number; updated: number }>(plan.insert);
    return { inserted: rows[0].inserted, updated: rows[0].updated, rejected: [] };
  }

  private async isolate(client: PoolClient, plan: WritePlan, records: readonly DbRecord[]): Promise<Counts> {
    const total: Counts = { inserted: 0, updated: 0, rejected: [] };
    const parts: number[][] = [records.map((_, i) => i)];
    while (parts.length) {
      const part = parts.shift()!;
      await client.query('SAVEPOINT medallion_part');
      try {
        const counts = await this.staged(client, plan, records, part);
        // a failed part's staged rows go with its savepoint; a stored part's must go before the next
        await client.query(plan.truncateStage);
        await client.query('RELEASE SAVEPOINT medallion_part');
        total.inserted += counts.inserted;
        total.updated += counts.updated;
      } catch (err) {
        await client.query('ROLLBACK TO SAVEPOINT medallion_part');
        if (!isRowError(err)) throw err;
        if (part.length === 1) {
          const e = err as { code?: string };
          total.rejected.push({
            index: part[0],
            record: records[part[0]],
            code: e.code,
            column: errorColumn(err),
            message: describeError(err),
          });
        } else {
          const half = Math.ceil(part.length / 2);
          parts.unshift(part.slice(0, half), part.slice(half));
        }
      }
    }
    return total;
  }
}
