/** The shapes watch-folder's parts share: options, messages, outcomes, activity. */
import type { CsvReadOptions, FileRecord } from './csv-reader';

export interface WatcherOptions {
  /** The landing folder; empty: no folder is watched (files come only as input paths). */
  folder: string;
  glob: string;
  pollMs: number;
  stablePolls: number;
  /** Poll only (network shares), no file-system events. */
  usePolling: boolean;
  csv: Omit<CsvReadOptions, 'batchSize'>;
  batchSize: number;
  /** Batches sent but not yet through every layer waited for, at most. */
  readAhead: number;
  /**
   * The commit point: a file is loaded and archived once every batch has its progress
   * row in this layer (bronze); empty: once read.
   */
  commitLayer: string;
  /**
   * The layers every batch must reach for the run to be complete (default: the commit
   * layer). The first holds the stored rows; every row of the others (a quarantine)
   * counts as quarantined. Reading is paced on these and the commit layer.
   */
  completeLayers: string[];
  /** Layers of derived rows (gold) every batch must also reach before the run is complete; not counted. */
  finalLayers: string[];
  /** Where a run left incomplete is replayed from: the table holding the raw lines and their batch numbers. */
  bronzeTable: string;
  leaseMs: number;
  instance: string;
}

export interface FileSource {
  kind: 'file';
  name: string;
  key: string;
  sha256: string;
  path: string;
  batch: number;
  last: boolean;
  lineStart: number;
  lineEnd: number;
  /** The batch is replayed from bronze (the file's run was left incomplete). */
  replay?: boolean;
  /** Bytes of the file read so far, and its size (progress). */
  bytes?: number;
  size?: number;
}

export interface BatchMessage {
  topic: string;
  payload: FileRecord[];
  source: FileSource;
  run: { id: string; startedAt: string };
}

export type OutcomeState = 'loaded' | 'duplicate' | 'quarantined' | 'failed' | 'busy';

/** What became of one file (the node's second output). */
export interface FileOutcome {
  file: string;
  path: string;
  sha256?: string;
  state: OutcomeState;
  runId?: string;
  rowsRead?: number;
  rowsSkipped?: number;
  rowsInserted?: number;
  rowsDuplicate?: number;
  rowsQuarantined?: number;
  batches?: number;
  durationMs?: number;
  resumed?: boolean;
  /** Batches replayed from bronze to complete the run. */
  replayed?: number;
  rule?: string;
  error?: string;
  /** Where the file is now. */
  movedTo?: string;
}

export type WatcherActivity =
  | { state: 'idle'; loaded: number; quarantined: number }
  | { state: 'reading'; file: string; percent: number; batch: number }
  | { state: 'waiting'; file: string; pending: number; layers: string[] }
  | { state: 'replaying'; file: string; batch: number; of: number }
  | { state: 'retrying'; file: string; reason: string };

export interface WatcherHooks {
  send(msg: BatchMessage): void;
  finished(outcome: FileOutcome): void;
  activity(a: WatcherActivity): void;
  warn(text: string): void;
}
