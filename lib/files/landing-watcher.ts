/**
 * The landing folder, end to end: notice a complete file, claim it (rename into
 * `processing/` plus a ledger row keyed by its content), stream it in batches no
 * further ahead of the commit layer than `readAhead`, and archive it to `processed/`
 * only when every batch is committed. Whole-file failures go to `quarantine/` with an
 * error file. Redeploys and restarts resume a file from its committed batches.
 */
import { randomUUID } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { isConnectionError, isTransientError } from '../pg/errors';
import { retry } from '../retry';
import { CsvFileReader, type CsvReadOptions, type FileRecord } from './csv-reader';
import {
  ensureFolders,
  landingFolders,
  moveInto,
  sha256File,
  StabilityTracker,
  writeAtomically,
  type LandingFolders,
} from './folders';
import { globMatcher } from './glob';
import type { Ledger } from './ledger';
import { WholeFileError } from './sniff';

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
  /** The layer whose progress rows mean "committed"; empty: a file is done once read. */
  commitLayer: string;
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

/** Content being handled in this process (several nodes may share a folder or a file). */
const held = new Set<string>();

/** A file with nothing in it is left for this long first: its writer may not have started. */
const EMPTY_FILE_GRACE_MS = 5000;
/** While waiting for commits, the ledger is asked this often (commits by another process or config node). */
const LEDGER_POLL_MS = 1000;
/** Waiting this long for one commit gets a warning: is anything writing the layer? */
const COMMIT_WARN_MS = 60_000;

class Aborted extends Error {
  constructor(readonly why: 'closed' | 'lost') {
    super(why === 'closed' ? 'stopped' : 'the claim was taken over by another instance');
  }
}

interface Job {
  kind: 'landing' | 'processing' | 'input';
  path: string;
  resolve?: (o: FileOutcome) => void;
  reject?: (e: Error) => void;
}

interface Current {
  sha256: string;
  /** Batches committed in the commit layer (known so far). */
  committed: Set<number>;
  /** Batches sent and not yet known to be committed. */
  inFlight: Set<number>;
  wake?: () => void;
}

export class LandingWatcher {
  readonly folders?: LandingFolders;
  private readonly matches: (name: string) => boolean;
  private readonly stability: StabilityTracker;
  private readonly abort = new AbortController();
  private readonly queue: Job[] = [];
  private readonly queued = new Set<string>();
  private readonly shaCache = new Map<string, { size: number; mtimeMs: number; sha256: string }>();
  private fsWatcher?: FSWatcher;
  private pollTimer?: NodeJS.Timeout;
  private processingTimer?: NodeJS.Timeout;
  private working?: Promise<void>;
  private current?: Current;
  private loaded = 0;
  private quarantined = 0;

  constructor(
    readonly options: WatcherOptions,
    private readonly ledger: Ledger,
    private readonly hooks: WatcherHooks,
  ) {
    this.matches = globMatcher(options.glob);
    this.stability = new StabilityTracker(options.stablePolls);
    if (options.folder) this.folders = landingFolders(options.folder);
  }

  async start(): Promise<void> {
    if (!this.folders) return;
    await ensureFolders(this.folders);
    if (!this.options.usePolling) {
      try {
        this.fsWatcher = watch(this.folders.landing, () => this.schedulePoll(0));
        this.fsWatcher.on('error', () => this.fsWatcher?.close());
      } catch {
        // no file-system events here (some network shares): polling alone finds the files
      }
    }
    this.scanProcessing();
    this.schedulePoll(0);
    this.hooks.activity({ state: 'idle', loaded: 0, quarantined: 0 });
  }

  /** Stops watching, stops reading (a file under way keeps its place in `processing/`), lets its lease go. */
  async close(): Promise<void> {
    this.abort.abort();
    this.fsWatcher?.close();
    clearTimeout(this.pollTimer);
    clearTimeout(this.processingTimer);
    this.current?.wake?.();
    for (const job of this.queue) job.reject?.(new Error('watch-folder stopped before the file was read'));
    this.queue.length = 0;
    await this.working;
  }

  /** A pg-write committed a batch (told in-process, so the wait ends at once). */
  noteCommitted(sourceKey: string, layer: string, batch: number): void {
    const c = this.current;
    if (!c || c.sha256 !== sourceKey || layer !== this.options.commitLayer) return;
    c.committed.add(batch);
    c.inFlight.delete(batch);
    c.wake?.();
  }

  /** Processes the file at `path` now, read in place (not moved). */
  processPath(path: string): Promise<FileOutcome> {
    return new Promise((resolve, reject) => {
      if (this.abort.signal.aborted) return reject(new Error('watch-folder is stopping'));
      this.enqueue({ kind: 'input', path, resolve, reject });
    });
  }

  private closed(): boolean {
    return this.abort.signal.aborted;
  }

  private enqueue(job: Job): void {
    if (job.kind !== 'input') {
      if (this.queued.has(job.path)) return;
      this.queued.add(job.path);
    }
    this.queue.push(job);
    if (!this.working) this.working = this.work();
  }

  private async work(): Promise<void> {
    while (this.queue.length && !this.closed()) {
      const job = this.queue.shift()!;
      try {
        const outcome = await this.handle(job);
        if (outcome) {
          if (outcome.state !== 'busy' && job.kind !== 'input') this.hooks.finished(outcome);
          job.resolve?.(outcome);
        } else job.reject?.(new Error('watch-folder stopped before the file was done'));
      } catch (err) {
        if (job.reject) job.reject(err as Error);
        else if (!this.closed()) this.hooks.warn(`${basename(job.path)}: ${(err as Error).message}`);
      } finally {
        this.queued.delete(job.path);
      }
      this.hooks.activity({ state: 'idle', loaded: this.loaded, quarantined: this.quarantined });
    }
    this.working = undefined;
  }

  // ---- finding files ------------------------------------------------------------------------

  private schedulePoll(delayMs: number): void {
    if (this.closed() || !this.folders) return;
    clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(() => {
      this.poll().then(
        (candidates) => {
          const busy = this.options.usePolling || candidates > 0;
          this.schedulePoll(busy ? this.options.pollMs : Math.max(this.options.pollMs, 2000));
        },
        (err: Error) => {
          this.hooks.warn(`cannot read the landing folder ${this.folders!.landing}: ${err.message}`);
          this.schedulePoll(Math.max(this.options.pollMs, 5000));
        },
      );
    }, delayMs);
  }

  /** One poll of the landing folder; returns how many files are still being watched for completeness. */
  private async poll(): Promise<number> {
    const dir = this.folders!.landing;
    const entries = await readdir(dir, { withFileTypes: true });
    const present = new Set<string>();
    for (const e of entries) {
      if (!e.isFile() || !this.matches(e.name)) continue;
      const path = join(dir, e.name);
      if (this.queued.has(path)) continue;
      present.add(e.name);
      const st = await stat(path).catch(() => undefined);
      if (!st) continue;
      const stable = this.stability.observe(e.name, st.size, st.mtimeMs);
      if (stable && (st.size > 0 || Date.now() - st.mtimeMs >= EMPTY_FILE_GRACE_MS)) {
        this.stability.forget(e.name);
        present.delete(e.name);
        this.enqueue({ kind: 'landing', path });
      }
    }
    this.stability.retain(present);
    return this.stability.watching;
  }

  /** Files left in `processing/` (a restart, a redeploy, a dead instance): offered again until handled. */
  private scanProcessing(): void {
    if (this.closed() || !this.folders) return;
    readdir(this.folders.processing, { withFileTypes: true })
      .then((entries) => {
        for (const e of entries) {
          if (e.isFile() && !e.name.endsWith('.tmp')) {
            this.enqueue({ kind: 'processing', path: join(this.folders!.processing, e.name) });
          }
        }
      })
      .catch((err: Error) => this.hooks.warn(`cannot read ${this.folders!.processing}: ${err.message}`))
      .finally(() => {
        if (this.closed()) return;
        this.processingTimer = setTimeout(
          () => this.scanProcessing(),
          Math.max(1000, this.options.leaseMs / 2),
        );
        this.processingTimer.unref?.();
      });
  }

  // ---- one file -----------------------------------------------------------------------------

  private async handle(job: Job): Promise<FileOutcome | undefined> {
    let path = job.path;
    const name = basename(path);
    if (job.kind === 'landing') {
      try {
        path = await moveInto(path, this.folders!.processing);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // taken by another instance
        throw new Error(`cannot move it into ${this.folders!.processing}: ${(err as Error).message}`);
      }
    }
    const st = await stat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' && job.kind === 'processing') return undefined; // finished meanwhile
      throw err;
    });
    if (!st) return undefined;
    const sha256 = await this.hash(path, st.size, st.mtimeMs);
    const base: FileOutcome = { file: name, path, sha256, state: 'busy' };
    if (held.has(sha256)) return base;
    held.add(sha256);
    try {
      const runId = randomUUID();
      const claim = await this.db(name, () =>
        this.ledger.claim({
          sha256,
          name,
          size: st.size,
          instance: this.options.instance,
          leaseMs: this.options.leaseMs,
          runId,
          batchSize: this.options.batchSize,
        }),
      );
      const move = job.kind !== 'input';
      if (claim.kind === 'busy') {
        return {
          ...base,
          error: `held by ${claim.row.claimed_by} until ${claim.row.lease_until?.toISOString()}`,
        };
      }
      if (claim.kind === 'loaded') {
        const detail = `already loaded as ${claim.row.name}`;
        await this.db(name, () =>
          this.ledger.event(sha256, name, 'duplicate', this.options.instance, detail),
        );
        const movedTo = move ? await moveInto(path, this.folders!.processed) : undefined;
        return { ...base, state: 'duplicate', error: detail, movedTo };
      }
      const resumed = claim.kind === 'resumed';
      await this.db(name, async () => {
        await this.ledger.event(sha256, name, claim.kind, this.options.instance);
        await this.ledger.startRun(claim.runId, name, sha256);
      });
      return await this.load(path, name, sha256, claim.runId, claim.batchSize, resumed, move);
    } finally {
      held.delete(sha256);
    }
  }

  private async hash(path: string, size: number, mtimeMs: number): Promise<string> {
    const cached = this.shaCache.get(path);
    if (cached && cached.size === size && cached.mtimeMs === mtimeMs) return cached.sha256;
    const sha256 = await sha256File(path);
    this.shaCache.set(path, { size, mtimeMs, sha256 });
    if (this.shaCache.size > 1000) this.shaCache.delete(this.shaCache.keys().next().value!);
    return sha256;
  }

  private async load(
    path: string,
    name: string,
    sha256: string,
    runId: string,
    batchSize: number,
    resumed: boolean,
    move: boolean,
  ): Promise<FileOutcome | undefined> {
    const { commitLayer, leaseMs, instance } = this.options;
    const current: Current = { sha256, committed: new Set(), inFlight: new Set() };
    this.current = current;
    let lost = false;
    const lease = setInterval(() => {
      this.ledger.renew(sha256, instance, leaseMs).then(
        (ours) => {
          if (!ours) {
            lost = true;
            current.wake?.();
          }
        },
        () => undefined, // the database is away: the lease runs on; the next renewal tries again
      );
    }, leaseMs / 3);
    const reader = new CsvFileReader(path, { ...this.options.csv, batchSize });
    const startedAt = new Date().toISOString();
    const check = () => {
      if (this.closed()) throw new Aborted('closed');
      if (lost) throw new Aborted('lost');
    };
    try {
      if (resumed && commitLayer) {
        const before = await this.db(name, () => this.ledger.committedBatches(sha256, commitLayer));
        for (const b of before) {
          current.committed.add(b);
        }
      }
      const layout = await reader.open();
      await this.db(name, () => this.ledger.setLayout(sha256, layout));
      for await (const batch of reader.read((b) => current.committed.has(b))) {
        check();
        await this.waitForCommits(current, name, this.options.readAhead - 1, check);
        this.hooks.send({
          topic: name,
          payload: batch.records,
          source: {
            kind: 'file',
            name,
            key: sha256,
            sha256,
            path,
            batch: batch.batch,
            last: batch.last,
            lineStart: batch.lineStart,
            lineEnd: batch.lineEnd,
          },
          run: { id: runId, startedAt },
        });
        if (commitLayer) current.inFlight.add(batch.batch);
        const percent = reader.size ? Math.min(100, Math.floor((100 * reader.bytesRead) / reader.size)) : 100;
        this.hooks.activity({ state: 'reading', file: name, percent, batch: batch.batch });
      }
      const total = reader.batches;
      await this.waitForCommits(current, name, 0, check);
      const counts = { rowsRead: reader.rowsRead, rowsSkipped: reader.rowsSkipped, batches: total };
      const ours = await this.db(name, () => this.ledger.markLoaded(sha256, instance, counts));
      if (!ours) throw new Aborted('lost');
      const totals = await this.db(name, () =>
        this.ledger.completeRun(runId, sha256, commitLayer || 'bronze', counts),
      );
      await this.db(name, () =>
        this.ledger.event(sha256, name, 'loaded', instance, `${counts.rowsRead} rows`),
      );
      const movedTo = move ? await moveInto(path, this.folders!.processed, name) : undefined;
      this.loaded++;
      return { file: name, path, sha256, state: 'loaded', runId, resumed, ...counts, ...totals, movedTo };
    } catch (err) {
      if (err instanceof Aborted) {
        if (err.why === 'closed') await this.ledger.release(sha256, instance).catch(() => undefined);
        else this.hooks.warn(`${name}: ${err.message}; left to it`);
        return undefined;
      }
      return await this.reject(path, name, sha256, runId, err as Error, move);
    } finally {
      clearInterval(lease);
      if (this.current === current) this.current = undefined;
    }
  }

  /**
   * Waits until at most `most` sent batches are uncommitted: woken by in-process
   * commits, and asking the ledger every second (a pg-write on another config node or
   * in another process).
   */
  private async waitForCommits(current: Current, name: string, most: number, check: () => void) {
    let waitedSince = Date.now();
    let warned = false;
    let seen = current.committed.size;
    while (current.inFlight.size > most) {
      check();
      this.hooks.activity({ state: 'waiting', file: name, pending: current.inFlight.size });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, LEDGER_POLL_MS);
        current.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      current.wake = undefined;
      check();
      if (current.inFlight.size <= most) break;
      const fromLedger = await this.ledger
        .committedBatches(current.sha256, this.options.commitLayer, [...current.inFlight])
        .catch(() => []);
      for (const b of fromLedger) {
        current.committed.add(b);
        current.inFlight.delete(b);
      }
      if (current.committed.size > seen) {
        seen = current.committed.size;
        waitedSince = Date.now();
      } else if (!warned && Date.now() - waitedSince > COMMIT_WARN_MS) {
        warned = true;
        this.hooks.warn(
          `${name}: no batch committed in layer "${this.options.commitLayer}" for ${COMMIT_WARN_MS / 1000} s — is watch-folder wired to a pg-write whose layer is "${this.options.commitLayer}"?`,
        );
      }
    }
  }

  /** A whole-file failure (quarantined) or an I/O failure (failed): ledger, run, file and error file. */
  private async reject(
    path: string,
    name: string,
    sha256: string,
    runId: string,
    err: Error,
    move: boolean,
  ): Promise<FileOutcome> {
    const whole = err instanceof WholeFileError;
    const state = whole ? 'quarantined' : 'failed';
    const rule = whole ? err.rule : ((err as NodeJS.ErrnoException).code ?? 'error');
    const message = `${name}: ${err.message}`;
    const { instance } = this.options;
    await this.db(name, async () => {
      await this.ledger.markRejected(sha256, instance, state, message);
      await this.ledger.failRun(runId, message);
      await this.ledger.event(sha256, name, state, instance, message);
    });
    let movedTo: string | undefined;
    if (move) {
      movedTo = await moveInto(path, this.folders!.quarantine, name);
      const detail = {
        file: name,
        sha256,
        state,
        rule,
        line: whole ? err.line : undefined,
        error: message,
        run_id: runId,
        instance,
        at: new Date().toISOString(),
        what_to_do:
          'fix the file and drop it into the landing folder again (quarantined content may be retried)',
      };
      await writeAtomically(`${movedTo}.error.json`, `${JSON.stringify(detail, null, 2)}\n`);
    }
    this.quarantined++;
    return { file: name, path, sha256, state, runId, rule, error: message, movedTo };
  }

  /** Runs a ledger step, retrying while the database is unreachable, until it works or the node closes. */
  private db<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return retry(
      fn,
      (err) => isConnectionError(err) || isTransientError(err),
      { initialMs: 500, maxMs: 15_000, maxAttempts: Infinity },
      {
        signal: this.abort.signal,
        onRetry: (info) =>
          this.hooks.activity({ state: 'retrying', file: name, reason: (info.error as Error).message }),
      },
    ).catch((err) => {
      if (this.closed()) throw new Aborted('closed');
      throw err;
    });
  }
}
