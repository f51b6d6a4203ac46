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
  /** Batches sent but not yet committed, at most. */
  readAhead: number;
  /**
   * The layers whose progress rows, all of them, mean a batch is committed; empty: a
   * file is done once read. The first holds the stored rows; the others (a quarantine)
   * count as quarantined in the run.
   */
  commitLayers: string[];
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
  rule?: string;
  error?: string;
  /** Where the file is now. */
  movedTo?: string;
}

export type WatcherActivity =
  | { state: 'idle'; loaded: number; quarantined: number }
  | { state: 'reading'; file: string; percent: number; batch: number }
  | { state: 'waiting'; file: string; pending: number }
  | { state: 'retrying'; file: string; reason: string };

export interface WatcherHooks {
  send(msg: BatchMessage): void;
  finished(outcome: FileOutcome): void;
  activity(a: WatcherActivity): void;
  warn(text: string): void;
}
