/**
 * The landing folder: notice complete files (size and mtime unchanged over N polls,
 * woken by folder events unless polling only), offer files left in `processing/`
 * and runs left incomplete after their file was loaded again until they are handled,
 * and hand them one at a time to the FileLoader, which claims, streams and archives
 * each, or replays a run from bronze (see file-loader.ts). Input paths join the queue.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { FileLoader, type JobKind } from './file-loader';
import { ensureFolders, landingFolders, StabilityTracker, type LandingFolders } from './folders';
import { globMatcher } from './glob';
import type { IncompleteRun, Ledger } from './ledger';
import type { FileOutcome, WatcherHooks, WatcherOptions } from './watch-types';

export type * from './watch-types';

/** A file with nothing in it is left for this long first: its writer may not have started. */
const EMPTY_FILE_GRACE_MS = 5000;

interface Job {
  kind: JobKind | 'replay';
  /** The file, or `replay:<run id>`. */
  path: string;
  run?: IncompleteRun;
  resolve?: (o: FileOutcome) => void;
  reject?: (e: Error) => void;
}

export class LandingWatcher {
  readonly folders?: LandingFolders;
  private readonly matches: (name: string) => boolean;
  private readonly stability: StabilityTracker;
  private readonly abort = new AbortController();
  private readonly queue: Job[] = [];
  private readonly queued = new Set<string>();
  /** The last failure told for a path: a file that keeps failing the same way is told once. */
  private readonly told = new Map<string, string>();
  private readonly loader: FileLoader;
  private fsWatcher?: FSWatcher;
  private pollTimer?: NodeJS.Timeout;
  private processingTimer?: NodeJS.Timeout;
  private runsTimer?: NodeJS.Timeout;
  private working?: Promise<void>;

  constructor(
    readonly options: WatcherOptions,
    private readonly ledger: Ledger,
    private readonly hooks: WatcherHooks,
  ) {
    this.matches = globMatcher(options.glob);
    this.stability = new StabilityTracker(options.stablePolls);
    if (options.folder) this.folders = landingFolders(options.folder);
    this.loader = new FileLoader(options, ledger, hooks, this.abort.signal, this.folders);
  }

  async start(): Promise<void> {
    this.scanRuns();
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
    clearTimeout(this.runsTimer);
    this.loader.wake();
    for (const job of this.queue) job.reject?.(new Error('watch-folder stopped before the file was read'));
    this.queue.length = 0;
    await this.working;
  }

  /** A pg-write committed a batch (told in-process, so the wait ends at once). */
  noteCommitted(sourceKey: string, layer: string, batch: number): void {
    this.loader.noteCommitted(sourceKey, layer, batch);
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
        const outcome =
          job.kind === 'replay'
            ? await this.loader.replay(job.run!)
            : await this.loader.handle(job.kind, job.path);
        this.told.delete(job.path);
        if (outcome) {
          if (outcome.state !== 'busy' && job.kind !== 'input') this.hooks.finished(outcome);
          job.resolve?.(outcome);
        } else job.reject?.(new Error('watch-folder stopped before the file was done'));
      } catch (err) {
        if (job.reject) job.reject(err as Error);
        else if (!this.closed()) {
          this.tellOnce(
            job.path,
            `${basename(job.path)}: ${(err as Error).message} (tried again while it is there)`,
          );
        }
      } finally {
        this.queued.delete(job.path);
      }
      const { loaded, quarantined } = this.loader;
      this.hooks.activity({ state: 'idle', loaded, quarantined });
    }
    this.working = undefined;
  }

  /** Warns about `path`, unless this was the last thing told about it. */
  private tellOnce(path: string, text: string): void {
    if (this.told.get(path) === text) return;
    if (this.told.size >= 1000) this.told.clear();
    this.told.set(path, text);
    this.hooks.warn(text);
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
      if (!st) {
        // the name as listed is not the name on disk: its bytes are not UTF-8, so no path reaches it
        if (e.name.includes('\ufffd')) {
          this.tellOnce(
            path,
            `${e.name}: the file's name is not valid UTF-8, so it cannot be opened: rename it (e.g. convmv -f latin1 -t utf8 --notest)`,
          );
        }
        continue;
      }
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

  /** Runs left incomplete after their file was loaded (see Ledger.incompleteRuns): replayed from bronze. */
  private scanRuns(): void {
    if (this.closed()) return;
    this.ledger
      .incompleteRuns(this.options.instance)
      .then((runs) => {
        for (const run of runs) this.enqueue({ kind: 'replay', path: `replay:${run.runId}`, run });
      })
      .catch(() => undefined) // the database is away: the next scan asks again
      .finally(() => {
        if (this.closed()) return;
        this.runsTimer = setTimeout(() => this.scanRuns(), Math.max(1000, this.options.leaseMs / 2));
        this.runsTimer.unref?.();
      });
  }
}
