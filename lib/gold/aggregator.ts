/**
 * The aggregate node without Node-RED: for each batch of silver rows (after silver
 * committed them), the windows it touched, recomputed from silver: the ranges of silver
 * holding them read back in one statement, the statistics computed from those rows.
 * Batches are handled one at a time, in arrival order, so a window's later
 * recomputation (which has seen more of silver) is never overtaken by an earlier one.
 */
import type { Pool } from 'pg';
import type { SchemaNames } from '../pg/identifiers';
import { untilReachable } from '../pg/retry-db';
import type { RetryInfo } from '../retry';
import { Serial } from '../serial';
import type { WindowStats } from './window-stats';
import {
  metricSource,
  rangeParams,
  readSql,
  WindowBins,
  WindowConfigError,
  type WindowKey,
  type WindowSize,
} from './windows';

export interface AggregateOptions {
  sizes: WindowSize[];
  /** Only these metrics (field names); empty: every metric of the table. */
  metrics: string[];
  /** Also the median and 95th percentile of each window. */
  percentiles: boolean;
}

export type WindowRow = WindowKey & WindowStats;

export class Aggregator {
  private readonly serial = new Serial();

  constructor(
    private readonly pool: Pool,
    private readonly schemas: SchemaNames,
    readonly options: AggregateOptions,
    private readonly onRetry: (info: RetryInfo) => void = () => undefined,
  ) {}

  /** The touched windows of a batch of `table`'s rows, as silver has them now (in arrival order). */
  windows(table: string | null | undefined, rows: readonly Record<string, unknown>[], signal?: AbortSignal) {
    return this.serial.run(() => this.compute(table, rows, signal));
  }

  private async compute(
    table: string | null | undefined,
    rows: readonly Record<string, unknown>[],
    signal?: AbortSignal,
  ): Promise<WindowRow[]> {
    if (!rows.length) return [];
    const source = metricSource(table);
    if (!source) {
      throw new WindowConfigError(
        `no gold metrics for ${table ? `table ${table}` : 'rows without msg.silver.table'}: aggregate reads silver.environment_readings, silver.temperature_readings or silver.readings`,
      );
    }
    const bins = new WindowBins(source, this.options.sizes, this.options.metrics).touch(rows);
    const ranges = bins.ranges();
    if (!ranges.length) return [];
    const sql = readSql(source, this.schemas);
    const result = await untilReachable(() => this.pool.query(sql, rangeParams(ranges)), {
      signal,
      onRetry: this.onRetry,
    });
    return bins.fill(result.rows).windows(this.options.percentiles);
  }
}
