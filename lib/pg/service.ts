import { EventEmitter } from 'node:events';
import { Pool, type PoolConfig } from 'pg';
import { describeTarget, toPoolConfig, type ConnectionSettings } from './connection';
import { describeError, describeFailure, isConnectionError } from './errors';
import { assertSchemaNames, type SchemaNames } from './identifiers';
import { migrate, type MigrationResult } from './migrations';
import type { ProgressKey } from './progress';
import type { RetryInfo } from '../retry';
import { untilReachable } from './retry-db';
import { Runs } from './runs';

export type PgStateName = 'connecting' | 'ready' | 'error' | 'closed';

export interface PgState {
  state: PgStateName;
  message: string;
  /** When the state was entered (ms since epoch). */
  since: number;
}

export interface PgServiceOptions {
  connection: ConnectionSettings;
  schemas: SchemaNames;
  /** First and largest wait between reconnect attempts while the database is unreachable. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Told about problems that have no message to attach to (idle connection lost, …). */
  onWarning?: (message: string) => void;
}

/**
 * Migrations run once per database and schema set per process (several config nodes
 * may point at one database); across processes the advisory lock in `migrate` serialises.
 */
const migrated = new Map<string, Promise<MigrationResult>>();

function migrateOnce(key: string, pool: Pool, schemas: SchemaNames): Promise<MigrationResult> {
  let p = migrated.get(key);
  if (!p) {
    p = migrate(pool, schemas);
    migrated.set(key, p);
    p.catch(() => migrated.delete(key));
  }
  return p;
}

/**
 * One PostgreSQL pool plus its lifecycle: connect and migrate (retrying with backoff
 * while the server is unreachable), a shared state that every node using it shows,
 * a pool `error` listener so a dropped idle connection never crashes Node-RED, and
 * `close()` ending the pool on redeploy.
 */
export class PgService extends EventEmitter {
  readonly pool: Pool;
  readonly target: string;
  readonly schemas: SchemaNames;
  /** The runs (`medallion.runs`), completed through `committed`. */
  readonly runs: Runs;
  private readonly migrationKey: string;
  private current: PgState = { state: 'connecting', message: 'connecting', since: Date.now() };
  private pending?: Promise<void>;
  private isReady = false;
  private retryTimer?: NodeJS.Timeout;
  private retryDelay: number;
  private closed = false;
  private users = 0;
  private usersGone?: () => void;

  constructor(private readonly options: PgServiceOptions) {
    super();
    const config: PoolConfig = toPoolConfig(options.connection);
    this.schemas = assertSchemaNames({ ...options.schemas });
    this.target = describeTarget(config);
    this.migrationKey = `${this.target}|${Object.values(this.schemas).join(',')}`;
    this.retryDelay = options.retryInitialMs ?? 1000;
    this.setMaxListeners(0);
    this.pool = new Pool(config);
    this.runs = new Runs(this.pool, this.schemas);
    this.pool.on('error', (err) => {
      this.options.onWarning?.(`PostgreSQL connection lost (${this.target}): ${describeError(err)}`);
      this.noteFailure(err);
    });
  }

  /**
   * A node committed a batch with this progress key. When the batch has a run, the run
   * is completed if this was its last batch missing in its final layers (else the
   * watch-folder or a replay completes it; a failure here is left to them). Then nodes
   * waiting for the batch (watch-folder) hear of it at once instead of polling.
   */
  async committed(key: ProgressKey): Promise<void> {
    if (key.runId) await this.runs.finalize(key.runId, key.layer).catch(() => undefined);
    this.emit('committed', key);
  }

  get state(): PgState {
    return this.current;
  }

  /** Connects and migrates in the background, retrying until it works or the service closes. */
  start(): void {
    this.ready().catch(() => undefined);
  }

  /** Resolves once the database is reachable and migrated; rejects with the current reason otherwise. */
  ready(): Promise<void> {
    if (this.closed && this.users === 0)
      return Promise.reject(new Error('the PostgreSQL connection is closed'));
    if (this.isReady) return Promise.resolve();
    if (!this.pending) {
      this.setState('connecting', `connecting to ${this.target}`);
      this.pending = this.pool
        .query('SELECT 1')
        .then(() => migrateOnce(this.migrationKey, this.pool, this.schemas))
        .then(
          () => {
            this.pending = undefined;
            this.isReady = true;
            this.retryDelay = this.options.retryInitialMs ?? 1000;
            this.setState('ready', `connected to ${this.target}`);
          },
          (err: Error) => {
            this.pending = undefined;
            this.setState('error', describeError(err));
            this.scheduleRetry();
            throw err;
          },
        );
    }
    return this.pending;
  }

  /**
   * `ready()`, waiting through an outage: asks again with backoff (0.5 s doubling to 5 s)
   * while the server is unreachable. Rejects when the service closes, `signal` aborts or
   * the migrations fail. For nodes whose messages must not be lost to a short outage.
   */
  whenReady(signal?: AbortSignal, onRetry?: (info: RetryInfo) => void): Promise<void> {
    return untilReachable(() => this.ready(), { signal, onRetry, maxMs: 5_000 });
  }

  /** Nodes report a failed statement here; connection failures turn the shared state red and start reconnecting. */
  noteFailure(err: unknown): void {
    if (this.closed || !isConnectionError(err)) return;
    this.isReady = false;
    this.setState('error', describeFailure(err));
    this.scheduleRetry();
  }

  /** Nodes report a statement that worked, which proves the connection is back. */
  noteSuccess(): void {
    if (this.closed || this.current.state === 'ready') return;
    this.isReady = true;
    this.setState('ready', `connected to ${this.target}`);
  }

  /**
   * A node that writes through this service holds it until its own work is done;
   * `close()` waits for every holder to let go (Node-RED closes config nodes in the
   * same breath as the nodes using them), so a write under way is not cut off.
   * Returns the function that lets go.
   */
  retain(): () => void {
    this.users++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.users === 0) this.usersGone?.();
    };
  }

  /** Ends the pool once every holder has let go, or after `waitMs` at the latest. */
  async close(waitMs = 10_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    if (this.users > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.usersGone = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.setState('closed', 'closed');
    this.removeAllListeners('state');
    this.removeAllListeners('committed');
    await this.pool.end();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    const max = this.options.retryMaxMs ?? 30_000;
    const delay = Math.min(this.retryDelay, max);
    this.retryDelay = Math.min(this.retryDelay * 2, max);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.isReady = false;
      this.start();
    }, delay);
    this.retryTimer.unref();
  }

  private setState(state: PgStateName, message: string): void {
    if (this.current.state === state && this.current.message === message) return;
    this.current = { state, message, since: Date.now() };
    this.emit('state', this.current);
  }
}
