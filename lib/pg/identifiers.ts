/**
 * SQL identifiers that come from node configuration (schema, table and column names).
 * They are validated against a conservative pattern and always double-quoted, so a
 * name from the editor can never change the shape of a statement. Values never go
 * through here: they travel as parameters or COPY data.
 */

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_IDENTIFIER_BYTES = 63;

export class IdentifierError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IdentifierError';
  }
}

/** Throws unless `name` is a plain SQL identifier PostgreSQL keeps as written (≤ 63 bytes). */
export function assertIdentifier(name: string, what = 'identifier'): string {
  if (typeof name !== 'string' || !IDENTIFIER.test(name)) {
    throw new IdentifierError(
      `invalid ${what} ${JSON.stringify(name)}: use letters, digits and underscores, starting with a letter or underscore`,
    );
  }
  if (Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES) {
    throw new IdentifierError(`invalid ${what} "${name}": longer than ${MAX_IDENTIFIER_BYTES} bytes`);
  }
  return name;
}

/** Validated and double-quoted identifier. */
export function quoteIdent(name: string, what?: string): string {
  return `"${assertIdentifier(name, what)}"`;
}

/** The four schemas of the database contract, by their role. */
export interface SchemaNames {
  medallion: string;
  bronze: string;
  silver: string;
  gold: string;
}

export type Layer = keyof SchemaNames;

export const DEFAULT_SCHEMAS: Readonly<SchemaNames> = Object.freeze({
  medallion: 'medallion',
  bronze: 'bronze',
  silver: 'silver',
  gold: 'gold',
});

export const LAYERS: readonly Layer[] = ['medallion', 'bronze', 'silver', 'gold'];

export function assertSchemaNames(names: SchemaNames): SchemaNames {
  for (const layer of LAYERS) assertIdentifier(names[layer], `${layer} schema name`);
  const distinct = new Set(LAYERS.map((l) => names[l]));
  if (distinct.size !== LAYERS.length) {
    throw new IdentifierError('the medallion, bronze, silver and gold schema names must all differ');
  }
  return names;
}

export interface TableRef {
  schema: string;
  table: string;
}

/**
 * Parses `schema.table` (or `table`, which means `public.table`). A schema part that
 * names a layer (`medallion`, `bronze`, `silver`, `gold`) resolves through the
 * configured schema names, so a flow written against the defaults keeps working when
 * an operator renames the schemas in the config node.
 */
export function resolveTable(ref: string, schemas: SchemaNames = DEFAULT_SCHEMAS): TableRef {
  const text = typeof ref === 'string' ? ref.trim() : '';
  const parts = text.split('.');
  if (text === '' || parts.length > 2) {
    throw new IdentifierError(
      `invalid table ${JSON.stringify(ref)}: write it as schema.table, e.g. bronze.records`,
    );
  }
  const [schemaPart, tablePart] = parts.length === 2 ? parts : ['public', parts[0]];
  const schema = (LAYERS as readonly string[]).includes(schemaPart)
    ? schemas[schemaPart as Layer]
    : schemaPart;
  return {
    schema: assertIdentifier(schema, 'schema name'),
    table: assertIdentifier(tablePart, 'table name'),
  };
}

export function qualified(ref: TableRef): string {
  return `${quoteIdent(ref.schema)}.${quoteIdent(ref.table)}`;
}

export function displayName(ref: TableRef): string {
  return `${ref.schema}.${ref.table}`;
}

/** Parses a comma/space separated column list from a form field; empty means "not set". */
export function parseColumnList(text: string | undefined, what = 'column name'): string[] {
  if (!text || !text.trim()) return [];
  return text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((c) => assertIdentifier(c, what));
}
