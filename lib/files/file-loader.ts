/**
 * One file, from claim to archive: hash it, claim its content in the ledger, stream
 * it in batches no further ahead of the commit layer than `readAhead`, and when every
 * batch is committed mark it loaded and move it to `processed/`; a whole-file failure
 * goes to `quarantine/` with an error file. A claim taken over resumes from the
 * batches committed before.
 */
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { isConnectionError, isTransientError } from '../pg/errors';
import { retry } from '../retry';
import { CsvFileReader } from './csv-reader';
import { moveInto, sha256File, writeAtomically, type LandingFolders } from './folders';
import type { Ledger } from './ledger';
import { WholeFileError } from './sniff';
import type { FileOutcome, WatcherHooks, WatcherOptions } from './watch-types';

/** Where a file comes from: the landing folder, `processing/` (left there), or an input path (read in place). */
export type JobKind = 'landing' | 'processing' | 'input';

/** Content being handled in this process (several nodes may share a folder or a file). */
const held = new Set<string>();

/** While waiting for commits, the ledger is asked this often (commits by another process or config node). */
const LEDGER_POLL_MS = 1000;
/** Waiting this long for one commit gets a warning: is anything writing the layer? */
const COMMIT_WARN_MS = 60_000;

class Aborted extends Error {
  constructor(readonly why: 'closed' | 'lost') {
    super(why === 'closed' ? 'stopped' : 'the claim was taken over by another instance');
  }
}

interface Current {
  sha256: string;
  /** The commit layers each sent batch has reached so far. */
  reached: Map<number, Set<string>>;
  /** Batches committed in the commit layer (known so far). */
  committed: Set<number>;
  /** Batches sent and not yet known to be committed. */
  inFlight: Set<number>;
  wake?: () => void;
}

export class FileLoader {
  /** Files loaded and quarantined (or failed) so far. */
  loaded = 0;
  quarantined = 0;
  private readonly shaCache = new Map<string, { size: number; mtimeMs: number; sha256: string }>();
  private current?: Current;

  constructor(
    private readonly options: WatcherOptions,
    private readonly ledger: Ledger,
    private readonly hooks: WatcherHooks,
    private readonly signal: AbortSignal,
    private readonly folders?: LandingFolders,
  ) {}

  /** A pg-write committed a batch (told in-process, so the wait ends at once). */
  noteCommitted(sourceKey: string, layer: string, batch: number): void {
    const c = this.current;
    const layers = this.options.commitLayers;
    if (!c || c.sha256 !== sourceKey || !layers.includes(layer)) return;
    let reached = c.reached.get(batch);
    if (!reached) c.reached.set(batch, (reached = new Set()));
    reached.add(layer);
    if (reached.size < layers.length) return;
    c.reached.delete(batch);
    c.committed.add(batch);
    c.inFlight.delete(batch);
    c.wake?.();
  }

  /** Wakes a wait for commits (on close). */
  wake(): void {
    this.current?.wake?.();
  }

  /**
   * Handles one file: its outcome, or undefined when there is nothing to tell (the
   * file went to another instance, the node is stopping, the claim was lost).
   */
  async handle(kind: JobKind, jobPath: string): Promise<FileOutcome | undefined> {
    let path = jobPath;
    const name = basename(path);
    if (kind === 'landing') {
      try {
        path = await moveInto(path, this.folders!.processing);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // taken by another instance
        throw new Error(`cannot move it into ${this.folders!.processing}: ${(err as Error).message}`);
      }
    }
    const st = await stat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' && kind === 'processing') return undefined; // finished meanwhile
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
      const move = kind !== 'input';
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
    const { commitLayers, leaseMs, instance } = this.options;
    const current: Current = { sha256, reached: new Map(), committed: new Set(), inFlight: new Set() };
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
      if (this.signal.aborted) throw new Aborted('closed');
      if (lost) throw new Aborted('lost');
    };
    try {
      if (resumed && commitLayers.length) {
        const before = await this.db(name, () => this.ledger.committedBatches(sha256, commitLayers));
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
        if (commitLayers.length) current.inFlight.add(batch.batch);
        const percent = reader.size ? Math.min(100, Math.floor((100 * reader.bytesRead) / reader.size)) : 100;
        this.hooks.activity({ state: 'reading', file: name, percent, batch: batch.batch });
      }
      const total = reader.batches;
      await this.waitForCommits(current, name, 0, check);
      const counts = { rowsRead: reader.rowsRead, rowsSkipped: reader.rowsSkipped, batches: total };
      // the run first: a failure here leaves the file claimed (then failed), never loaded without its run
      const totals = await this.db(name, () =>
        this.ledger.completeRun(runId, sha256, commitLayers.length ? commitLayers : ['bronze'], counts),
      );
      const ours = await this.db(name, () => this.ledger.markLoaded(sha256, instance, counts));
      if (!ours) throw new Aborted('lost');
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
    const layerList = this.options.commitLayers.map((l) => `"${l}"`).join(' and ');
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
        .committedBatches(current.sha256, this.options.commitLayers, [...current.inFlight])
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
          `${name}: no batch committed in ${layerList} for ${COMMIT_WARN_MS / 1000} s — is watch-folder wired to a pg-write for each of them (Progress as)?`,
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
        signal: this.signal,
        onRetry: (info) =>
          this.hooks.activity({ state: 'retrying', file: name, reason: (info.error as Error).message }),
      },
    ).catch((err) => {
      if (this.signal.aborted) throw new Aborted('closed');
      throw err;
    });
  }
}
