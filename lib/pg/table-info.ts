import type { Pool } from 'pg';
import { kindOfType, type ColumnKind } from './copy-text';
import { displayName, qualified, type TableRef } from './identifiers';

export interface ColumnInfo {
  name: string;
  /** `format_type()` text, e.g. `timestamp with time zone`, `numeric(10,2)`. */
  type: string;
  kind: ColumnKind;
  notNull: boolean;
  hasDefault: boolean;
  /** Identity GENERATED ALWAYS or a generated column: never written. */
  writable: boolean;
}

export interface UniqueKey {
  name: string;
  primary: boolean;
  columns: string[];
}

export interface TableInfo {
  ref: TableRef;
  columns: ColumnInfo[];
  byName: Map<string, ColumnInfo>;
  /** Unique indexes usable as an ON CONFLICT arbiter (not partial, not expressions, not deferrable). */
  uniqueKeys: UniqueKey[];
}

export class TableNotFoundError extends Error {
  constructor(ref: TableRef) {
    super(`table ${displayName(ref)} does not exist (check the table name and that migrations ran)`);
    this.name = 'TableNotFoundError';
  }
}

export async function describeTable(pool: Pool, ref: TableRef): Promise<TableInfo> {
  const { rows: rel } = await pool.query<{ oid: number | null }>('SELECT to_regclass($1)::oid AS oid', [
    qualified(ref),
  ]);
  const oid = rel[0]?.oid;
  if (!oid) throw new TableNotFoundError(ref);

  const { rows: cols } = await pool.query<{
    name: string;
    type: string;
    typname: string;
    typcategory: string;
    notnull: boolean;
    hasdef: boolean;
    identity: string;
    generated: string;
  }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            t.typname, t.typcategory, a.attnotnull AS notnull, a.atthasdef AS hasdef,
            a.attidentity AS identity, a.attgenerated AS generated
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [oid],
  );
  const { rows: keys } = await pool.query<{ name: string; primary: boolean; columns: string[] }>(
    `SELECT c.relname AS name, i.indisprimary AS primary,
            array_agg(a.attname::text ORDER BY k.ord) AS columns
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indexrelid
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND i.indisunique AND i.indimmediate
        AND i.indpred IS NULL AND i.indexprs IS NULL
      GROUP BY c.relname, i.indisprimary
      ORDER BY i.indisprimary DESC, c.relname`,
    [oid],
  );
  const columns: ColumnInfo[] = cols.map((c) => ({
    name: c.name,
    type: c.type,
    kind: kindOfType(c.typname, c.typcategory),
    notNull: c.notnull,
    hasDefault: c.hasdef || c.identity !== '',
    writable: c.identity !== 'a' && c.generated === '',
  }));
  return {
    ref,
    columns,
    byName: new Map(columns.map((c) => [c.name, c])),
    uniqueKeys: keys.map((k) => ({ name: k.name, primary: k.primary, columns: k.columns })),
  };
}
