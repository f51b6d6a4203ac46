/** TableInfo fixtures for the pure write-plan tests: what describeTable would read from the database. */
import type { ColumnInfo, TableInfo } from '../../lib/pg/table-info';

export function col(name: string, kind: ColumnInfo['kind'] = 'other', writable = true): ColumnInfo {
  return { name, type: 'text', kind, notNull: false, hasDefault: false, writable };
}

export function table(columns: ColumnInfo[], uniqueKeys: TableInfo['uniqueKeys']): TableInfo {
  return {
    ref: { schema: 'bronze', table: 'records' },
    columns,
    byName: new Map(columns.map((c) => [c.name, c])),
    uniqueKeys,
  };
}

/** bronze.records as migration 1 creates it. */
export const bronzeRecords = table(
  [col('id', 'other', false), col('source_key'), col('line_no'), col('raw', 'bytea'), col('run_id')],
  [
    { name: 'records_pkey', primary: true, columns: ['id'] },
    { name: 'records_source_line_key', primary: false, columns: ['source_key', 'line_no'] },
  ],
);
