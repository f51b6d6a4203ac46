import type { Pool, PoolClient } from 'pg';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { copyField } from './copy-text';
import { displayName, qualified, quoteIdent, type TableRef } from './identifiers';
import { describeTable, type ColumnInfo, type TableInfo } from './table-info';

export type ConflictAction = 'nothing' | 'update';

export interface WriteOptions {
  table: TableRef;
  /** `nothing`: keep the stored row; `update`: the batch's row wins (the last one of the batch per key). */
  onConflict: ConflictAction;
  /** The unique key to arbitrate on; default: the first unique key all of whose columns are written. */
  keyColumns?: string[];
  /** Columns to write; default: every writable table column that some record of the batch has. */
  columns?: string[];
}

export interface WriteResult {
  table: string;
  /** Records in the batch. */
  rows: number;
  /** Rows that are new in the table. */
  inserted: number;
  /** Rows that replaced a stored row with different values (`update` only). */
  updated: number;
  /** Rows not inserted: their key was already stored or repeated inside the batch. */
  conflicted: number;
  durationMs: number;
  /** Record fields that match no writable column and were not written. */
  ignoredFields: string[];
}

export type DbRecord = Record<string, unknown>;

export class WriteConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WriteConfigError';
  }
}

export class RecordShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordShapeError';
  }
}

export interface WritePlan {
  columns: ColumnInfo[];
  key: string[];
  ignoredFields: string[];
  createStage: string;
  copy: string;
  insert: string;
}

const STAGE = 'medallion_stage';
const ORD = 'medallion_ord';

/** Accepts a batch (array) or a single record, as every node of the pack does. */
export function asRecords(payload: unknown): DbRecord[] {
  const list = Array.isArray(payload) ? payload : [payload];
  list.forEach((r, i) => {
    if (r === null || typeof r !== 'object' || Array.isArray(r) || Buffer.isBuffer(r)) {
      const got = r === null ? 'null' : Array.isArray(r) ? 'an array' : typeof r;
      throw new RecordShapeError(
        Array.isArray(payload)
          ? `record ${i} of the batch is ${got}, not an object with one property per column`
          : `msg.payload is ${got}: send an object (one record) or an array of objects (a batch)`,
      );
    }
  });
  return list as DbRecord[];
}

function fieldsOf(records: readonly DbRecord[]): Set<string> {
  const fields = new Set<string>();
  for (const r of records) for (const k in r) fields.add(k);
  return fields;
}

function chooseKey(info: TableInfo, columns: ColumnInfo[], keyColumns: string[] | undefined): string[] {
  const written = new Set(columns.map((c) => c.name));
  const name = displayName(info.ref);
  if (keyColumns && keyColumns.length) {
    const match = info.uniqueKeys.find(
      (k) => k.columns.length === keyColumns.length && k.columns.every((c) => keyColumns.includes(c)),
    );
    if (!match) {
      throw new WriteConfigError(
        `key columns (${keyColumns.join(', ')}) are not a unique key of ${name}; its unique keys: ${
          info.uniqueKeys.map((k) => `(${k.columns.join(', ')})`).join(', ') || 'none'
        }`,
      );
    }
    const missing = keyColumns.filter((c) => !written.has(c));
    if (missing.length) {
      throw new WriteConfigError(`the batch has no value for key column(s) ${missing.join(', ')} of ${name}`);
    }
    return match.columns;
  }
  const usable = info.uniqueKeys.find((k) => k.columns.every((c) => written.has(c)));
  if (!usable) {
    throw new WriteConfigError(
      info.uniqueKeys.length
        ? `the batch covers none of the unique keys of ${name} (${info.uniqueKeys
            .map((k) => `(${k.columns.join(', ')})`)
            .join(', ')}): a replay could not be recognised, so nothing was written`
        : `${name} has no unique key: pg-write needs one so that a replayed batch is not stored twice`,
    );
  }
  return usable.columns;
}

/** Decides columns and conflict key for a batch and builds the three statements. Pure. */
export function planWrite(info: TableInfo, fields: Set<string>, options: WriteOptions): WritePlan {
  const name = displayName(info.ref);
  let columns: ColumnInfo[];
  if (options.columns && options.columns.length) {
    columns = options.columns.map((c) => {
      const col = info.byName.get(c);
      if (!col) throw new WriteConfigError(`column ${c} does not exist in ${name}`);
      if (!col.writable)
        throw new WriteConfigError(`column ${c} of ${name} is generated and cannot be written`);
      return col;
    });
  } else {
    columns = info.columns.filter((c) => c.writable && fields.has(c.name));
  }
  if (!columns.length) {
    throw new WriteConfigError(
      `no field of the records matches a column of ${name} (record fields: ${[...fields].slice(0, 10).join(', ') || 'none'})`,
    );
  }
  const chosen = new Set(columns.map((c) => c.name));
  const ignoredFields = [...fields].filter((f) => !chosen.has(f)).sort();
  const key = chooseKey(info, columns, options.keyColumns);

  const target = qualified(info.ref);
  const cols = columns.map((c) => quoteIdent(c.name));
  const colList = cols.join(', ');
  const keyList = key.map((k) => quoteIdent(k)).join(', ');
  const createStage =
    `CREATE TEMP TABLE ${STAGE} ON COMMIT DROP AS ` +
    `SELECT ${colList}, 0::bigint AS ${ORD} FROM ${target} WITH NO DATA`;
  const copy = `COPY ${STAGE} (${colList}, ${ORD}) FROM STDIN`;

  const updatable = columns.filter((c) => !key.includes(c.name)).map((c) => quoteIdent(c.name));
  let insert: string;
  if (options.onConflict === 'update' && updatable.length) {
    const set = updatable.map((c) => `${c} = EXCLUDED.${c}`).join(', ');
    const changed =
      `ROW(${updatable.map((c) => `t.${c}::text`).join(', ')}) IS DISTINCT FROM ` +
      `ROW(${updatable.map((c) => `EXCLUDED.${c}::text`).join(', ')})`;
    insert =
      `WITH w AS (INSERT INTO ${target} AS t (${colList}) ` +
      `SELECT DISTINCT ON (${keyList}) ${colList} FROM ${STAGE} ORDER BY ${keyList}, ${ORD} DESC ` +
      `ON CONFLICT (${keyList}) DO UPDATE SET ${set} WHERE ${changed} ` +
      `RETURNING (xmax = 0) AS fresh) ` +
      `SELECT count(*) FILTER (WHERE fresh)::int AS inserted, count(*) FILTER (WHERE NOT fresh)::int AS updated FROM w`;
  } else {
    insert =
      `WITH w AS (INSERT INTO ${target} (${colList}) ` +
      `SELECT ${colList} FROM ${STAGE} ORDER BY ${ORD} ` +
      `ON CONFLICT (${keyList}) DO NOTHING RETURNING 1) ` +
      `SELECT count(*)::int AS inserted, 0 AS updated FROM w`;
  }
  return { columns, key, ignoredFields, createStage, copy, insert };
}

/** COPY text lines for the batch, in chunks of roughly `chunkBytes`. */
export function* copyChunks(
  records: readonly DbRecord[],
  columns: readonly ColumnInfo[],
  chunkBytes = 256 * 1024,
): Generator<string> {
  let chunk = '';
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    let line = '';
    for (const c of columns) line += copyField(r[c.name], c.kind) + '\t';
    chunk += `${line}${i}\n`;
    if (chunk.length >= chunkBytes) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/**
 * Writes batches into one table idempotently: COPY into a temporary staging table,
 * then one INSERT … SELECT … ON CONFLICT in the same transaction. A replayed batch
 * inserts nothing twice; with `update`, in-batch duplicates collapse to the last one.
 */
export class TableWriter {
  private info?: Promise<TableInfo>;

  constructor(
    private readonly pool: Pool,
    readonly options: WriteOptions,
  ) {}

  /** Table metadata, read once; forget it after a schema change with `refresh()`. */
  describe(): Promise<TableInfo> {
    if (!this.info) {
      this.info = describeTable(this.pool, this.options.table);
      this.info.catch(() => (this.info = undefined));
    }
    return this.info;
  }

  refresh(): void {
    this.info = undefined;
  }

  async write(records: readonly DbRecord[]): Promise<WriteResult> {
    const started = process.hrtime.bigint();
    const table = displayName(this.options.table);
    if (!records.length) {
      return { table, rows: 0, inserted: 0, updated: 0, conflicted: 0, durationMs: 0, ignoredFields: [] };
    }
    const plan = planWrite(await this.describe(), fieldsOf(records), this.options);
    const client = await this.pool.connect();
    let failure: Error | undefined;
    try {
      await client.query('BEGIN');
      const counts = await this.writeInTransaction(client, plan, records);
      await client.query('COMMIT');
      return {
        table,
        rows: records.length,
        inserted: counts.inserted,
        updated: counts.updated,
        conflicted: records.length - counts.inserted,
        durationMs: Number(process.hrtime.bigint() - started) / 1e6,
        ignoredFields: plan.ignoredFields,
      };
    } catch (err) {
      failure = err as Error;
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release(failure);
    }
  }

  private async writeInTransaction(
    client: PoolClient,
    plan: WritePlan,
    records: readonly DbRecord[],
  ): Promise<{ inserted: number; updated: number }> {
    await client.query(plan.createStage);
    await pipeline(Readable.from(copyChunks(records, plan.columns)), client.query(copyFrom(plan.copy)));
    const { rows } = await client.query<{ inserted: number; updated: number }>(plan.insert);
    return rows[0];
  }
}
