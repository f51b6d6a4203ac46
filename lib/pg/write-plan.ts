import { copyField } from './copy-text';
import { displayName, qualified, quoteIdent, type TableRef } from './identifiers';
import type { ColumnInfo, TableInfo } from './table-info';

export type ConflictAction = 'nothing' | 'update';

export interface WriteOptions {
  table: TableRef;
  /** `nothing`: keep the stored row; `update`: the batch's row wins (the last one of the batch per key). */
  onConflict: ConflictAction;
  /** The unique key to arbitrate on; default: the first unique key all of whose columns are written. */
  keyColumns?: string[];
  /** Columns to write; default: every writable table column that some record of the batch has. */
  columns?: string[];
  /**
   * With `update`: a column whose value only grows as a row gets more complete (gold's `count`).
   * A stored row is replaced only by one whose value there is at least as large, so writers
   * racing on a key keep the most complete row whatever order they commit in.
   */
  versionColumn?: string;
}

/** Values for columns a record has no field for (the batch's lineage: source, run). */
export type ColumnDefaults = Readonly<Record<string, unknown>>;

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
  /** Creates this plan's staging table once per connection (temporary, emptied at each commit). */
  createStage: string;
  /** Empties the staging table between the parts of one transaction. */
  truncateStage: string;
  copy: string;
  insert: string;
  /**
   * The insert that also returns the distinct `line_no` of the rows it inserted, when
   * `line_no` is written: a long-format table stores one row per metric of a record,
   * and progress counts records.
   */
  insertLines?: string;
  /** The record of a row is `source_key|line_no` (else `|line_no`), as `insertLines` returns it. */
  lineSource: boolean;
  /** COPY straight into the table: the first-load fast path (fails on any conflict). */
  copyDirect: string;
  defaults: ColumnDefaults;
}

const ORD = 'medallion_ord';

/** FNV-1a, 32 bits, as 8 hex digits: a short stable name for a staging table. */
function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

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

export function fieldsOf(records: readonly DbRecord[]): Set<string> {
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

/** The condition (with `AND`) that lets a row replace a stored one only when its version is not smaller. */
function versionGuard(
  version: string | undefined,
  columns: ColumnInfo[],
  key: string[],
  name: string,
): string {
  if (!version) return '';
  if (!columns.some((c) => c.name === version)) {
    throw new WriteConfigError(`the version column ${version} is not written to ${name}`);
  }
  if (key.includes(version)) {
    throw new WriteConfigError(`the version column ${version} is part of the key of ${name}`);
  }
  const v = quoteIdent(version);
  return `(t.${v} IS NULL OR t.${v} <= EXCLUDED.${v}) AND `;
}

/**
 * Decides columns and conflict key for a batch and builds the three statements. Pure.
 * A column with a default (and no field) is written from the default.
 */
export function planWrite(
  info: TableInfo,
  fields: Set<string>,
  options: WriteOptions,
  defaults: ColumnDefaults = {},
): WritePlan {
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
    columns = info.columns.filter(
      (c) => c.writable && (fields.has(c.name) || defaults[c.name] !== undefined),
    );
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
  // one staging table per target and column set (and types, so a changed table gets a new one)
  const STAGE = `medallion_stage_${shortHash(`${target}|${columns.map((c) => `${c.name}:${c.type}`).join(',')}`)}`;
  const createStage =
    `CREATE TEMP TABLE IF NOT EXISTS ${STAGE} ON COMMIT DELETE ROWS AS ` +
    `SELECT ${colList}, 0::bigint AS ${ORD} FROM ${target} WITH NO DATA`;
  const truncateStage = `TRUNCATE ${STAGE}`;
  const copy = `COPY ${STAGE} (${colList}, ${ORD}) FROM STDIN`;
  const copyDirect = `COPY ${target} (${colList}) FROM STDIN`;

  const updatable = columns.filter((c) => !key.includes(c.name)).map((c) => quoteIdent(c.name));
  const update = options.onConflict === 'update' && updatable.length > 0;
  const newer = update ? versionGuard(options.versionColumn, columns, key, name) : '';
  const head = update
    ? `WITH w AS (INSERT INTO ${target} AS t (${colList}) ` +
      `SELECT DISTINCT ON (${keyList}) ${colList} FROM ${STAGE} ORDER BY ${keyList}, ${ORD} DESC ` +
      `ON CONFLICT (${keyList}) DO UPDATE SET ${updatable.map((c) => `${c} = EXCLUDED.${c}`).join(', ')} ` +
      `WHERE ${newer}ROW(${updatable.map((c) => `t.${c}::text`).join(', ')}) IS DISTINCT FROM ` +
      `ROW(${updatable.map((c) => `EXCLUDED.${c}::text`).join(', ')}) `
    : `WITH w AS (INSERT INTO ${target} (${colList}) ` +
      `SELECT ${colList} FROM ${STAGE} ORDER BY ${ORD} ON CONFLICT (${keyList}) DO NOTHING `;
  const returning = update ? '(xmax = 0) AS fresh' : '1';
  const fresh = update ? 'fresh' : 'true';
  const counts =
    `count(*) FILTER (WHERE ${fresh})::int AS inserted, ` +
    `${update ? 'count(*) FILTER (WHERE NOT fresh)::int' : '0'} AS updated`;
  const insert = `${head}RETURNING ${returning}) SELECT ${counts} FROM w`;
  // with line_no written, the insert can also say which records (lines) it inserted rows of;
  // a record is its source key and line when the batch mixes sources (MQTT readings)
  const lineSource = chosen.has('source_key');
  const lineKey = lineSource ? `"source_key" || '|' || "line_no"` : `'|' || "line_no"`;
  const insertLines = chosen.has('line_no')
    ? `${head}RETURNING ${returning}, ${lineKey} AS line_key) SELECT ${counts}, ` +
      `array_agg(DISTINCT line_key) FILTER (WHERE ${fresh}) AS lines FROM w`
    : undefined;
  return {
    columns,
    key,
    ignoredFields,
    createStage,
    truncateStage,
    copy,
    insert,
    insertLines,
    lineSource,
    copyDirect,
    defaults,
  };
}

/**
 * COPY text lines for the batch (or the records at `indices`), in chunks of roughly
 * `chunkBytes`; with `position`, each line ends with the record's index in the batch
 * (the staging table's order column). A field a record lacks comes from `defaults`.
 */
export function* copyChunks(
  records: readonly DbRecord[],
  columns: readonly ColumnInfo[],
  {
    position = true,
    chunkBytes = 256 * 1024,
    indices,
    defaults = {},
  }: { position?: boolean; chunkBytes?: number; indices?: readonly number[]; defaults?: ColumnDefaults } = {},
): Generator<string> {
  // a default is the same for every record: encode it once
  const fallback = columns.map((c) => copyField(defaults[c.name], c.kind));
  let chunk = '';
  const n = indices ? indices.length : records.length;
  for (let k = 0; k < n; k++) {
    const i = indices ? indices[k] : k;
    const r = records[i];
    let line = '';
    for (let j = 0; j < columns.length; j++) {
      const c = columns[j];
      const v = r[c.name];
      line += (v === undefined ? fallback[j] : copyField(v, c.kind)) + '\t';
    }
    chunk += position ? `${line}${i}\n` : `${line.slice(0, -1)}\n`;
    if (chunk.length >= chunkBytes) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}
