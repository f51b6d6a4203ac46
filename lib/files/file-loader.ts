/**
 * One file, from claim to archive: hash it, claim its content in the ledger, stream
 * it in batches no further ahead of the layers waited for than `readAhead`; when every
 * batch is in the commit layer (bronze) mark it loaded and move it to `processed/`,
 * then wait for the run's completion layers and finalize the run. A whole-file
 * failure goes to `quarantine/` with an error file. A claim taken over resumes from
 * the batches committed before; a run left incomplete after its file was archived is
 * completed by replaying its missing batches from bronze.
 */
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { untilReachable } from '../pg/retry-db';
import type { RunTotals } from '../pg/runs';
import { CsvFileReader, recordFromRaw, type FileRecord, type FileStamp } from './csv-reader';
import { moveInto, sha256File, writeAtomically, type LandingFolders } from './folders';
import type { FileRow, IncompleteRun, Ledger } from './ledger';
import { WholeFileError } from './sniff';
import type { FileOutcome, FileSource, WatcherHooks, WatcherOptions } from './watch-types';

/** Where a file comes from: the landing folder, `processing/` (left there), or an input path (read in place). */
export type JobKind = 'landing' | 'processing' | 'input';

/** Content being handled in this process (several nodes may share a folder or a file). */
const held = new Set<string>();

const WHAT_TO_DO =
  'fix the file and drop it into the landing folder again (quarantined content may be retried)';

/** While waiting for commits, the ledger is asked this often (commits by another process or config node). */
const LEDGER_POLL_MS = 1000;
/** Waiting this long for one commit gets a warning: is anything writing the layer? */
const COMMIT_WARN_MS = 60_000;

class Aborted extends Error {
  constructor(readonly why: 'closed' | 'lost') {
    super(why === 'closed' ? 'stopped' : 'the claim was taken over by another instance');
  }
}

/** A file-system error with what to do about the usual ones. */
function fileErrorText(err: Error): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return `${err.message} — let the user running Node-RED (uid ${process.getuid?.() ?? '?'}) write the landing folder and its subfolders`;
    case 'ENOSPC':
    case 'EDQUOT':
      return `${err.message} — free space on that disk`;
    default:
      return err.message;
  }
}

/** The layers waited for, in order: the commit layer, then the completion layers. */
function layersOf(commitLayer: string, completeLayers: string[]): string[] {
  return [...new Set([commitLayer, ...completeLayers].filter(Boolean))];
}

/** One file (or run replay) under way. */
interface Current {
  sha256: string;
  /** The layers every batch must reach. */
  layers: string[];
  /** The layers each sent batch has reached so far. */
  reached: Map<number, Set<string>>;
  /** Batches through every layer (known so far). */
  committed: Set<number>;
  /** Batches sent and not yet known to be through every layer. */
  inFlight: Set<number>;
  wake?: () => void;
}

function current(sha256: string, layers: string[]): Current {
  return { sha256, layers, reached: new Map(), committed: new Set(), inFlight: new Set() };
}

/** Notes that `batch` reached `layer`; true when that completes it. */
function reach(c: Current, batch: number, layer: string): boolean {
  if (!c.inFlight.has(batch) || !c.layers.includes(layer)) return false;
  let reached = c.reached.get(batch);
  if (!reached) c.reached.set(batch, (reached = new Set()));
  reached.add(layer);
  if (reached.size < c.layers.length) return false;
  c.reached.delete(batch);
  c.committed.add(batch);
  c.inFlight.delete(batch);
  return true;
}

/** True when every batch sent has reached `layer`. */
function allReached(c: Current, layer: string): boolean {
  for (const b of c.inFlight) if (!c.reached.get(b)?.has(layer)) return false;
  return true;
}

export class FileLoader {
  /** Files loaded and quarantined (or failed) so far. */
  loaded = 0;
  quarantined = 0;
  private readonly shaCache = new Map<string, { size: number; mtimeMs: number; sha256: string }>();
  private readonly lost = new Set<Current>();
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
    if (c && c.sha256 === sourceKey && c.layers.includes(layer)) {
      reach(c, batch, layer);
      c.wake?.();
    }
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
        throw new Error(`cannot move it into ${this.folders!.processing}: ${fileErrorText(err as Error)}`);
      }
    }
    // a file in processing/ may be finished and archived meanwhile (by us or another instance)
    const gone = (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' && kind === 'processing') return undefined;
      throw err;
    };
    const st = await stat(path).catch(gone);
    if (!st) return undefined;
    const sha256 = await this.hash(path, st.size, st.mtimeMs).catch(gone);
    if (!sha256) return undefined;
    const base: FileOutcome = { file: name, path, sha256, state: 'busy' };
    if (held.has(sha256)) return base;
    held.add(sha256);
    try {
      if (kind === 'processing') {
        const row = await this.db(name, () => this.ledger.get(sha256));
        if (row && (row.state === 'quarantined' || row.state === 'failed')) {
          await this.finishRejected(path, name, row);
          return undefined;
        }
      }
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
        const movedTo = move ? await this.archive(path, this.folders!.processed, name) : undefined;
        return { ...base, state: 'duplicate', error: detail, movedTo };
      }
      const resumed = claim.kind === 'resumed';
      await this.db(name, async () => {
        await this.ledger.event(sha256, name, claim.kind, this.options.instance);
        await this.ledger.runs.start(claim.runId, `file:${name}`, sha256, this.runLayers, this.countLayers);
      });
      const stamp = { size: st.size, mtimeMs: st.mtimeMs };
      return await this.load(path, name, sha256, claim.runId, claim.batchSize, resumed, move, stamp);
    } finally {
      held.delete(sha256);
    }
  }

  /**
   * Completes a run left incomplete after its file was loaded (its holder died or was
   * stopped after the commit point): the batches missing in a completion layer are
   * read back from bronze, parsed as the file was, and sent again. Undefined when
   * there is nothing to do here (held elsewhere, complete meanwhile, stopping).
   */
  async replay(run: IncompleteRun): Promise<FileOutcome | undefined> {
    const { sha256, name, runId } = run;
    if (held.has(sha256)) return undefined;
    held.add(sha256);
    try {
      const { instance, leaseMs, bronzeTable } = this.options;
      if (!(await this.db(name, () => this.ledger.claimReplay(run, instance, leaseMs)))) return undefined;
      const c = current(sha256, run.completeLayers);
      this.current = c;
      const stopLease = this.holdLease(c);
      const check = this.checker(c);
      try {
        const done = new Set(await this.db(name, () => this.ledger.committedBatches(sha256, c.layers)));
        const missing = [...Array(run.batches).keys()].filter((b) => !done.has(b));
        const detail = `${missing.length} of ${run.batches} batches from ${bronzeTable}`;
        await this.db(name, () => this.ledger.event(sha256, name, 'replay', instance, detail));
        const startedAt = new Date().toISOString();
        for (const batch of missing) {
          check();
          await this.waitUntil(c, name, () => c.inFlight.size < this.options.readAhead, check);
          const records = await this.bronzeBatch(run, batch);
          this.hooks.send({
            topic: name,
            payload: records,
            source: {
              ...this.sourceOf(name, sha256, '', batch, batch === run.batches - 1, records),
              replay: true,
            },
            run: { id: runId, startedAt },
          });
          c.inFlight.add(batch);
          this.hooks.activity({ state: 'replaying', file: name, batch, of: run.batches });
        }
        const totals = await this.complete(c, name, runId, check);
        await this.ledger.release(sha256, instance).catch(() => undefined);
        this.loaded++;
        return {
          file: name,
          path: name,
          sha256,
          state: 'loaded',
          runId,
          resumed: true,
          replayed: missing.length,
          batches: run.batches,
          ...totals,
        };
      } catch (err) {
        if (err instanceof Aborted) {
          if (err.why === 'closed') await this.ledger.release(sha256, instance).catch(() => undefined);
          return undefined;
        }
        const message = `${name}: the run cannot be completed from ${bronzeTable}: ${(err as Error).message}`;
        await this.db(name, () => this.ledger.runs.fail(runId, message)).catch(() => undefined);
        await this.ledger.release(sha256, instance).catch(() => undefined);
        this.quarantined++;
        return { file: name, path: name, sha256, state: 'failed', runId, error: message };
      } finally {
        stopLease();
        if (this.current === c) this.current = undefined;
      }
    } finally {
      held.delete(sha256);
    }
  }

  /** The layers a run's records are counted in (the first holds the stored ones). */
  private get countLayers(): string[] {
    const { commitLayer, completeLayers } = this.options;
    return completeLayers.length ? completeLayers : commitLayer ? [commitLayer] : [];
  }

  /** The layers every batch of a run must reach for it to be complete. */
  private get runLayers(): string[] {
    return [...new Set([...this.countLayers, ...this.options.finalLayers])];
  }

  private sourceOf(
    name: string,
    sha256: string,
    path: string,
    batch: number,
    last: boolean,
    records: FileRecord[],
  ): FileSource {
    return {
      kind: 'file',
      name,
      key: sha256,
      sha256,
      path,
      batch,
      last,
      lineStart: records[0]?.line_no ?? 0,
      lineEnd: records[records.length - 1]?.line_no ?? 0,
    };
  }

  /** One batch's records again, from bronze's raw lines. */
  private async bronzeBatch(run: IncompleteRun, batch: number): Promise<FileRecord[]> {
    const { layout } = run;
    if (!layout) throw new Error('the ledger does not know how the file was parsed');
    const table = this.options.bronzeTable;
    const rows = await this.db(run.name, () => this.ledger.rawLines(table, run.sha256, batch));
    if (!rows.length) {
      throw new Error(`batch ${batch} has no rows there (does the bronze pg-write write the batch column?)`);
    }
    return rows.map((r) => recordFromRaw(layout, r.line_no, r.raw));
  }

  private async hash(path: string, size: number, mtimeMs: number): Promise<string> {
    const cached = this.shaCache.get(path);
    if (cached && cached.size === size && cached.mtimeMs === mtimeMs) return cached.sha256;
    const sha256 = await sha256File(path);
    this.shaCache.set(path, { size, mtimeMs, sha256 });
    if (this.shaCache.size > 1000) this.shaCache.delete(this.shaCache.keys().next().value!);
    return sha256;
  }

  /** Renews the lease every third of its length; returns the stop. A lost lease aborts the work. */
  private holdLease(c: Current): () => void {
    const { leaseMs, instance } = this.options;
    const timer = setInterval(() => {
      this.ledger.renew(c.sha256, instance, leaseMs).then(
        (ours) => {
          if (!ours) {
            this.lost.add(c);
            c.wake?.();
          }
        },
        () => undefined, // the database is away: the lease runs on; the next renewal tries again
      );
    }, leaseMs / 3);
    return () => {
      clearInterval(timer);
      this.lost.delete(c);
    };
  }

  private checker(c: Current): () => void {
    return () => {
      if (this.signal.aborted) throw new Aborted('closed');
      if (this.lost.has(c)) throw new Aborted('lost');
    };
  }

  private async load(
    path: string,
    name: string,
    sha256: string,
    runId: string,
    batchSize: number,
    resumed: boolean,
    move: boolean,
    stamp: FileStamp,
  ): Promise<FileOutcome | undefined> {
    const { commitLayer, instance } = this.options;
    const c = current(sha256, layersOf(commitLayer, this.runLayers));
    this.current = c;
    const stopLease = this.holdLease(c);
    const check = this.checker(c);
    const reader = new CsvFileReader(path, { ...this.options.csv, batchSize, expect: stamp });
    const startedAt = new Date().toISOString();
    let archived = false;
    try {
      if (resumed && c.layers.length) {
        for (const b of await this.db(name, () => this.ledger.committedBatches(sha256, c.layers))) {
          c.committed.add(b);
        }
      }
      const layout = await reader.open();
      await this.db(name, () => this.ledger.setLayout(sha256, layout));
      for await (const batch of reader.read((b) => c.committed.has(b))) {
        check();
        await this.waitUntil(c, name, () => c.inFlight.size < this.options.readAhead, check);
        this.hooks.send({
          topic: name,
          payload: batch.records,
          source: {
            ...this.sourceOf(name, sha256, path, batch.batch, batch.last, batch.records),
            bytes: reader.bytesRead,
            size: reader.size,
          },
          run: { id: runId, startedAt },
        });
        if (c.layers.length) c.inFlight.add(batch.batch);
        const percent = reader.size ? Math.min(100, Math.floor((100 * reader.bytesRead) / reader.size)) : 100;
        this.hooks.activity({ state: 'reading', file: name, percent, batch: batch.batch });
      }
      // the commit point: every batch in the commit layer, then the file is loaded and archived
      if (commitLayer) await this.waitUntil(c, name, () => allReached(c, commitLayer), check);
      const counts = { rowsRead: reader.rowsRead, rowsSkipped: reader.rowsSkipped, batches: reader.batches };
      // the run first: a failure here leaves the file claimed (then failed), never loaded without its count
      await this.db(name, () => this.ledger.runs.endRead(runId, counts));
      const ours = await this.db(name, () => this.ledger.markLoaded(sha256, instance, counts));
      if (!ours) throw new Aborted('lost');
      await this.db(name, () =>
        this.ledger.event(sha256, name, 'loaded', instance, `${counts.rowsRead} rows`),
      );
      // loaded is loaded: a file that cannot be archived (moved away meanwhile, no permission) is only told
      const movedTo = move ? await this.archive(path, this.folders!.processed, name) : undefined;
      archived = true;
      const totals = await this.complete(c, name, runId, check);
      await this.ledger.release(sha256, instance).catch(() => undefined);
      this.loaded++;
      return { file: name, path, sha256, state: 'loaded', runId, resumed, ...counts, ...totals, movedTo };
    } catch (err) {
      if (err instanceof Aborted) {
        // after the commit point, a run left incomplete is replayed from bronze (by whoever starts next)
        if (err.why === 'closed') await this.ledger.release(sha256, instance).catch(() => undefined);
        else this.hooks.warn(`${name}: ${err.message}; left to it`);
        return undefined;
      }
      if (archived) throw err;
      return await this.reject(path, name, sha256, runId, err as Error, move);
    } finally {
      stopLease();
      if (this.current === c) this.current = undefined;
    }
  }

  /** Waits until every batch is through every layer, then finalizes the run (or reads it, finalized by a pg-write). */
  private async complete(c: Current, name: string, runId: string, check: () => void): Promise<RunTotals> {
    await this.waitUntil(c, name, () => c.inFlight.size === 0, check);
    const totals = await this.db(
      name,
      async () => (await this.ledger.runs.finalize(runId)) ?? (await this.ledger.runs.totals(runId)),
    );
    if (!totals) {
      throw new Error(
        `run ${runId} is not complete although every batch reached ${c.layers.join(' and ')} (was it started with other layers?)`,
      );
    }
    return totals;
  }

  /**
   * Waits until `ready()`: woken by in-process commits, and asking the ledger every
   * second (a pg-write on another config node or in another process).
   */
  private async waitUntil(c: Current, name: string, ready: () => boolean, check: () => void) {
    let waitedSince = Date.now();
    let warned = false;
    let seen = c.committed.size;
    while (!ready()) {
      check();
      this.hooks.activity({ state: 'waiting', file: name, pending: c.inFlight.size, layers: c.layers });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, LEDGER_POLL_MS);
        c.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      c.wake = undefined;
      check();
      if (ready()) break;
      const fromLedger = await this.ledger.progressOf(c.sha256, c.layers, [...c.inFlight]).catch(() => []);
      for (const p of fromLedger) reach(c, p.batch, p.layer);
      if (c.committed.size > seen) {
        seen = c.committed.size;
        waitedSince = Date.now();
      } else if (!warned && Date.now() - waitedSince > COMMIT_WARN_MS) {
        warned = true;
        const layerList = c.layers.map((l) => `"${l}"`).join(' and ');
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
      await this.ledger.runs.fail(runId, message);
      await this.ledger.event(sha256, name, state, instance, message);
    });
    let movedTo: string | undefined;
    let kept = '';
    if (move) {
      movedTo = await this.archive(path, this.folders!.quarantine, name);
      if (!movedTo)
        kept = ` (it stays in ${this.folders!.processing}: it could not be moved into ${this.folders!.quarantine})`;
    }
    if (movedTo) {
      const detail = {
        file: name,
        sha256,
        state,
        rule,
        line: whole ? err.line : undefined,
        error: message,
        run_id: runId,
      };
      await this.writeErrorFile(movedTo, detail).catch((e: Error) => {
        kept = ` (${name}.error.json could not be written beside it: ${e.message})`;
      });
    }
    this.quarantined++;
    return { file: name, path, sha256, state, runId, rule, error: `${message}${kept}`, movedTo };
  }

  /**
   * A file rejected before that could not leave `processing/` then (a quarantine folder it
   * could not write): only the move is tried again — its content is not read again — and
   * quietly, as the rejection was told.
   */
  private async finishRejected(path: string, name: string, row: FileRow): Promise<void> {
    const movedTo = await moveInto(path, this.folders!.quarantine, name).catch(() => undefined);
    if (!movedTo) return;
    const detail = { file: name, sha256: row.sha256, state: row.state, error: row.error, run_id: row.run_id };
    await this.writeErrorFile(movedTo, detail).catch(() => undefined);
  }

  /** `<file>.error.json` beside a quarantined file: why, with this instance, the time and what to do. */
  private writeErrorFile(movedTo: string, detail: Record<string, unknown>): Promise<void> {
    const all = {
      ...detail,
      instance: this.options.instance,
      at: new Date().toISOString(),
      what_to_do: WHAT_TO_DO,
    };
    return writeAtomically(`${movedTo}.error.json`, `${JSON.stringify(all, null, 2)}\n`);
  }

  /** Moves a file into `dir`; a failure is warned about (the file stays where it is) and gives undefined. */
  private async archive(path: string, dir: string, name: string): Promise<string | undefined> {
    try {
      return await moveInto(path, dir, name);
    } catch (err) {
      this.hooks.warn(`${name}: cannot move it into ${dir}: ${fileErrorText(err as Error)}`);
      return undefined;
    }
  }

  /** Runs a ledger step, retrying while the database is unreachable, until it works or the node closes. */
  private db<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return untilReachable(fn, {
      signal: this.signal,
      maxMs: 15_000,
      onRetry: (info) =>
        this.hooks.activity({ state: 'retrying', file: name, reason: (info.error as Error).message }),
    }).catch((err) => {
      if (this.signal.aborted) throw new Aborted('closed');
      throw err;
    });
  }
}
