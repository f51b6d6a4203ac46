/**
 * What pg-write sends after a commit, built from the write result: the stored
 * records with `msg.pg` on output 1, the refused ones with their errors on output 2.
 * The error shape is the one the validate node uses, so one quarantine path takes both.
 */
import type { RejectedRow, WriteResult } from './bulk-write';
import type { ProgressCounts } from './progress';
import type { DbRecord } from './write-plan';

/** One reason a record was not stored: where (line, field), which rule, and the message. */
export interface RowError {
  /** Position of the record in its batch. */
  index: number;
  /** The record's source line, when it carries one (`line_no`). */
  line?: number;
  field?: string;
  /** `db:<SQLSTATE>` for a database refusal. */
  rule: string;
  value?: unknown;
  message: string;
}

export interface PgAck {
  table: string;
  rows: number;
  inserted: number;
  updated: number;
  conflicted: number;
  rejected: number;
  durationMs: number;
  path: WriteResult['path'];
  /** Present when the batch had a progress key: the counts of its first commit. */
  progress?: ProgressCounts & { replay: boolean };
}

export function pgAck(result: WriteResult): PgAck {
  const ack: PgAck = {
    table: result.table,
    rows: result.rows,
    inserted: result.inserted,
    updated: result.updated,
    conflicted: result.conflicted,
    rejected: result.rejected.length,
    durationMs: Math.round(result.durationMs * 10) / 10,
    path: result.path,
  };
  if (result.progress) {
    const { stored, ...counts } = result.progress;
    ack.progress = { replay: !stored, ...counts };
  }
  return ack;
}

/** The records that were stored (the same array when none was refused). */
export function storedRecords<T extends DbRecord>(records: T[], result: WriteResult): T[] {
  if (!result.rejected.length) return records;
  const refused = new Set(result.rejected.map((r) => r.index));
  return records.filter((_, i) => !refused.has(i));
}

function lineOf(record: DbRecord): number | undefined {
  const n = Number(record.line_no);
  return record.line_no !== undefined && record.line_no !== null && Number.isFinite(n) ? n : undefined;
}

export function rowErrors(rejected: RejectedRow[]): RowError[] {
  return rejected.map((r) => ({
    index: r.index,
    line: lineOf(r.record),
    field: r.column,
    rule: `db:${r.code ?? 'error'}`,
    value: r.column ? r.record[r.column] : undefined,
    message: r.message,
  }));
}

/**
 * The messages to send for a committed batch: `msg` (a shallow copy for a
 * micro-batch, which answers many messages) with the stored records and `pg`, and
 * when rows were refused a second message with those records and their `errors`.
 */
export function answerMessages<M extends { payload?: unknown }>(
  msg: M,
  copy: boolean,
  records: DbRecord[],
  result: WriteResult,
): [M & { pg: PgAck }, (M & { pg: PgAck; errors: RowError[] }) | null] {
  const ack = Object.assign(copy ? { ...msg } : msg, {
    payload: storedRecords(records, result),
    pg: pgAck(result),
  });
  const refused = result.rejected.length
    ? { ...ack, payload: result.rejected.map((r) => r.record), errors: rowErrors(result.rejected) }
    : null;
  return [ack, refused];
}
