/**
 * The flow most file tests need: a pg-config, a watch-folder on `landing` and the
 * pg-write that stores its batches in bronze (layer "bronze"). Output 2 of watch-folder
 * and output 1 of pg-write go to `filesTo` and `storedTo` when given.
 */
import type { FlowNode } from '../../lib/cli/headless-flow';

export type { FlowNode };
export const BRONZE_COLUMNS = 'source_kind, source_key, source_name, line_no, raw, run_id, batch';

export interface LandingFlowOptions {
  url: string;
  landing: string;
  watch?: Record<string, unknown>;
  /** Extra properties for every node but the config (e.g. `{ z: 'tab' }`). */
  common?: Record<string, unknown>;
  filesTo?: string;
  storedTo?: string;
}

export function landingFlow(o: LandingFlowOptions): FlowNode[] {
  return [
    { id: 'cfg', type: 'medallion-pg-config', name: 'db', connection: 'url', url: o.url, poolSize: 4 },
    {
      id: 'wf',
      type: 'medallion-watch-folder',
      pgConfig: 'cfg',
      folder: o.landing,
      watch: true,
      pattern: '*.csv',
      pollInterval: 50,
      stablePolls: 2,
      delimiter: 'auto',
      quote: '"',
      columns: '',
      batchSize: 5000,
      readAhead: 4,
      commitLayer: 'bronze',
      leaseSeconds: 30,
      wires: [['pgw'], o.filesTo ? [o.filesTo] : []],
      ...o.common,
      ...o.watch,
    },
    { ...pgWrite('pgw', 'bronze.records', 'bronze', o.storedTo), columns: BRONZE_COLUMNS, ...o.common },
  ];
}

/** A pg-write on the flow's `cfg` into `table` with progress as `layer`; `stored` gets output 1. */
export function pgWrite(id: string, table: string, layer: string, stored?: string): FlowNode {
  return {
    id,
    type: 'medallion-pg-write',
    pgConfig: 'cfg',
    table,
    onConflict: 'nothing',
    layer,
    wires: [stored ? [stored] : [], []],
  };
}
