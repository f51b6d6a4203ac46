import type { Pool, PoolClient } from 'pg';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { inTransaction } from './client';
import { describeError, errorColumn, isRowError } from './errors';
import { displayName, type TableRef } from './identifiers';
import {
  hasProgress,
  recordProgress,
  type ProgressCounts,
  type ProgressKey,
  type ProgressRow,
} from './progress';
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
  /** The records (`source_key|line_no`) some row of which was inserted, when the batch is counted by record. */
  lines?: Set<string>;
}

/** A batch counted by record: its records, and the record of a row. */
interface LineCount {
  keys: Set<string>;
  key: (r: DbRecord) => string | undefined;
}

interface Committed {
  counts: Counts;
  row?: ProgressRow;
}

/** Rows of the batch that were neither inserted nor refused: their key was stored or repeated. */
function notInserted(records: readonly DbRecord[], counts: Counts): number {
  return records.length - counts.rejected.length - counts.inserted;
}

/** The record a row belongs to, as the plan's `insertLines` names it; undefined without a usable line. */
function recordKey(plan: WritePlan): (r: DbRecord) => string | undefined {
  const fallback = String(plan.defaults.source_key ?? '');
  return (r) => {
    const line = r.line_no === null || r.line_no === '' ? NaN : Number(r.line_no);
    if (!Number.isSafeInteger(line)) return undefined;
    return plan.lineSource ? `${r.source_key ?? fallback}|${line}` : `|${line}`;
  };
}

/**
 * The batch's distinct records (source key and line) when its rows are in long format
 * (one row per `metric` of a record) and some record has several; undefined when rows
 * are records (a reading delivered twice is two rows read, one a duplicate).
 */
function linesOf(
  records: readonly DbRecord[],
  key: (r: DbRecord) => string | undefined,
): Set<string> | undefined {
  if (!records.length || !('metric' in records[0])) return undefined;
  const lines = new Set<string>();
  for (const r of records) {
    const k = key(r);
    if (k === undefined) return undefined; // no usable line numbers: count rows
    lines.add(k);
  }
  return lines.size < records.length ? lines : undefined;
}

/**
 * The batch's progress counts, in records: a record (line) with a refused row is
 * quarantined, one with an inserted row is inserted, the rest are duplicates.
 */
function progressCounts(records: readonly DbRecord[], counts: Counts, lines?: LineCount): ProgressCounts {
  if (!lines) {
    return {
      rowsIn: records.length,
      inserted: counts.inserted,
      duplicate: notInserted(records, counts),
      quarantined: counts.rejected.length,
    };
  }
  const refused = new Set(counts.rejected.map((r) => lines.key(r.record)));
  let inserted = 0;
  for (const line of counts.lines ?? lines.keys) if (!refused.has(line)) inserted++;
  return {
    rowsIn: lines.keys.size,
    inserted,
    duplicate: lines.keys.size - inserted - refused.size,
    quarantined: refused.size,
  };
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
    const key = recordKey(plan);
    const keys = plan.insertLines && progress ? linesOf(records, key) : undefined;
    const lines = keys && { keys, key };

    // a value the table refuses fails every path: after the first such error, go straight to isolating
    let refused = false;
    if (this.fastPathDue()) {
      try {
        const out = await this.commit(
          records,
          progress,
          (c) => this.copyDirect(c, plan, records, progress),
          lines,
        );
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
          await this.commit(records, progress, (c) => this.staged(c, plan, records, lines), lines),
          'staging',
          plan,
        );
      } catch (err) {
        if (!isRowError(err)) throw err;
      }
    }
    return result(
      await this.commit(records, progress, (c) => this.isolate(c, plan, records, lines), lines),
      'isolating',
      plan,
    );
  }

  /** The fast path is tried unless disabled or resting after a conflict. */
  private fastPathDue(): boolean {
    return this.options.fastPath !== false && this.batchesSinceConflict++ >= this.directBackoff;
  }

  /**
   * One transaction: the rows by `write`, then the batch's progress row (counted by
   * line when `lines` is given). Resolves to undefined, committing nothing, when
   * `write` declines (the fast path on a replay).
   */
  private commit(
    records: readonly DbRecord[],
    progress: ProgressKey | undefined,
    write: (client: PoolClient) => Promise<Counts>,
    lines?: LineCount,
  ): Promise<Committed>;
  private commit(
    records: readonly DbRecord[],
    progress: ProgressKey | undefined,
    write: (client: PoolClient) => Promise<Counts | undefined>,
    lines?: LineCount,
  ): Promise<Committed | undefined>;
  private async commit(
    records: readonly DbRecord[],
    progress: ProgressKey | undefined,
    write: (client: PoolClient) => Promise<Counts | undefined>,
    lines?: LineCount,
  ): Promise<Committed | undefined> {
    return inTransaction(this.pool, async (client) => {
      const counts = await write(client);
      if (!counts) return undefined;
      if (!progress) return { counts };
      const row = await recordProgress(
        client,
        this.options.progressTable,
        progress,
        progressCounts(records, counts, lines),
      );
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
    lines: LineCount | undefined,
    indices?: readonly number[],
  ): Promise<Counts> {
    await client.query(plan.createStage);
    await pipeline(
      Readable.from(copyChunks(records, plan.columns, { indices, defaults: plan.defaults })),
      client.query(copyFrom(plan.copy)),
    );
    const { rows } = await client.query<{ inserted: number; updated: number; lines?: string[] | null }>(
      lines && plan.insertLines ? plan.insertLines : plan.insert,
    );
    const [r] = rows;
    const counts: Counts = { inserted: r.inserted, updated: r.updated, rejected: [] };
    if (lines) counts.lines = new Set(r.lines ?? []);
    return counts;
  }

  private async isolate(
    client: PoolClient,
    plan: WritePlan,
    records: readonly DbRecord[],
    lines: LineCount | undefined,
  ): Promise<Counts> {
    const total: Counts = { inserted: 0, updated: 0, rejected: [], lines: lines && new Set() };
    const parts: number[][] = [records.map((_, i) => i)];
    while (parts.length) {
      const part = parts.shift()!;
      await client.query('SAVEPOINT medallion_part');
      try {
        const counts = await this.staged(client, plan, records, lines, part);
        // a failed part's staged rows go with its savepoint; a stored part's must go before the next
        await client.query(plan.truncateStage);
        await client.query('RELEASE SAVEPOINT medallion_part');
        total.inserted += counts.inserted;
        total.updated += counts.updated;
        for (const line of counts.lines ?? []) total.lines!.add(line);
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
