/**
 * The order of work behind pg-write: batches are written one at a time in arrival
 * order; single records are gathered into micro-batches (N records or T ms,
 * whichever comes first); a write that fails for a transient reason is retried with
 * backoff until it succeeds or the queue closes. Nothing here knows Node-RED: the
 * caller gets a callback per finished job with the inputs (messages) it covered.
 */
import { retry, type RetryInfo, type RetryOptions } from './retry';

export interface QueueJob<R, O> {
  records: R[];
  /** The inputs this job answers (one message for a batch, many for a micro-batch). */
  origins: O[];
  /** True when gathered from single records. */
  micro: boolean;
}

export interface WriteQueueOptions {
  /** Micro-batch size: flush when this many single records are held. */
  batchSize: number;
  /** Micro-batch age: flush this long after the first held record. */
  batchTimeoutMs: number;
  retry: RetryOptions;
  /** On close, how long held and queued work may still take before it is given up. */
  closeTimeoutMs: number;
}

export interface WriteQueueHandlers<R, O, T> {
  write(job: QueueJob<R, O>): Promise<T>;
  transient(err: unknown): boolean;
  done(job: QueueJob<R, O>, result: T): void;
  failed(job: QueueJob<R, O>, err: unknown): void;
  retrying?(job: QueueJob<R, O>, info: RetryInfo): void;
}

export class WriteQueue<R, O, T> {
  private held: R[] = [];
  private heldOrigins: O[] = [];
  private timer?: NodeJS.Timeout;
  private readonly jobs: QueueJob<R, O>[] = [];
  private running = false;
  private idle: Array<() => void> = [];
  private readonly abort = new AbortController();

  constructor(
    private readonly options: WriteQueueOptions,
    private readonly handlers: WriteQueueHandlers<R, O, T>,
  ) {}

  /** A batch: written as one job, in order after everything before it. */
  pushBatch(records: R[], origin: O): void {
    this.flush();
    this.enqueue({ records, origins: [origin], micro: false });
  }

  /** One record: held until the micro-batch is full or old enough. */
  pushRecord(record: R, origin: O): void {
    this.held.push(record);
    this.heldOrigins.push(origin);
    if (this.held.length >= this.options.batchSize) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.options.batchTimeoutMs);
  }

  /** Turns the held records into a job now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.held.length) return;
    const job = { records: this.held, origins: this.heldOrigins, micro: true };
    this.held = [];
    this.heldOrigins = [];
    this.enqueue(job);
  }

  /**
   * Flushes what is held and waits for every job; retries stop after
   * `closeTimeoutMs`, failing what is left (the caller reports it).
   */
  async close(): Promise<void> {
    this.flush();
    const timer = setTimeout(() => this.abort.abort(), this.options.closeTimeoutMs);
    await this.drained();
    clearTimeout(timer);
  }

  private drained(): Promise<void> {
    if (!this.running && !this.jobs.length) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private enqueue(job: QueueJob<R, O>): void {
    this.jobs.push(job);
    if (!this.running) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    while (this.jobs.length) {
      const job = this.jobs.shift()!;
      try {
        const result = await retry(
          () => this.handlers.write(job),
          (err) => this.handlers.transient(err),
          this.options.retry,
          { signal: this.abort.signal, onRetry: (info) => this.handlers.retrying?.(job, info) },
        );
        this.handlers.done(job, result);
      } catch (err) {
        // a write that failed, retries given up (RetryAbortedError carries the last error),
        // or a `done` handler that threw: the job's inputs are answered with the error
        this.handlers.failed(job, err);
      }
    }
    this.running = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
