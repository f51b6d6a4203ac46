#!/usr/bin/env node
/**
 * `medallion ingest <file|dir>` and `medallion status`: the file branch of the bundled
 * flow run headless — Node-RED in this process (`ingest` first starts itself again under a
 * heap limit, lib/cli/heap.ts), in a temporary user directory, with this pack's nodes —
 * never a second implementation. The CLI only sets the flow up,
 * watches the messages reaching the flow's own debug nodes (runtime hooks) for
 * progress and outcomes, and prints the summary.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { constants, hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Client, Pool } from 'pg';
import { parseCommand, UsageError, type IngestCommand, type StatusCommand } from '../lib/cli/args';
import { headlessFlow, profileOption, type FlowNode, type HeadlessFlow } from '../lib/cli/headless-flow';
import { heapRelaunch, RELAUNCHED_ENV } from '../lib/cli/heap';
import { readStatus, statusText } from '../lib/cli/status';
import { IngestReporter, type LogEntry } from '../lib/cli/reporter';
import { exitCode, summarize, summaryText } from '../lib/cli/summary';
import { globMatcher } from '../lib/files/glob';
import type { FileOutcome, FileSource } from '../lib/files/watch-types';
import { describeError } from '../lib/pg/errors';
import { DEFAULT_SCHEMAS } from '../lib/pg/identifiers';
import { redactUrl } from '../lib/pg/connection';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres';
import { linkPack, packageRoot } from './user-dir';

/** A failure with its exit code: 2 usage or configuration, 3 database unreachable. */
class Exit extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const DRAINED_POLLS = 3;
const POLL_MS = 250;

/** Node-RED's `node-red` module: MEDALLION_NODE_RED (a package directory), else from the working directory or beside this package. */
function findNodeRed(): string {
  try {
    const dir = process.env.MEDALLION_NODE_RED;
    return dir
      ? require.resolve(resolve(dir))
      : require.resolve('node-red', { paths: [process.cwd(), packageRoot] });
  } catch {
    throw new Exit(
      2,
      'Node-RED is needed to run the flow and was not found: run medallion from the repository (npm install) or the Docker image, or npm install node-red beside it',
    );
  }
}

interface Database {
  url: string;
  embedded?: EmbeddedPostgres;
}

/** `--database-url`, else DATABASE_URL, else the embedded PostgreSQL of `npm start` (started if needed). */
async function database(flag: string | undefined, say: (line: string) => void): Promise<Database> {
  const url = flag || process.env.DATABASE_URL;
  if (url) return { url };
  const home = resolve(process.env.MEDALLION_HOME || join(packageRoot, '.medallion'));
  try {
    mkdirSync(home, { recursive: true }); // as npm start does: the data directory below it is private

    const embedded = await startEmbeddedPostgres(join(home, 'postgres'));
    say(
      `PostgreSQL: embedded ${embedded.version} on 127.0.0.1:${embedded.port}${embedded.reused ? ' (already running)' : ''}`,
    );
    return { url: embedded.url, embedded };
  } catch (err) {
    throw new Exit(3, `the embedded PostgreSQL did not start: ${(err as Error).message}`);
  }
}

async function assertReachable(url: string): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new Exit(3, `cannot reach PostgreSQL at ${redactUrl(url)}: ${describeError(err)}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function status(cmd: StatusCommand, url: string): Promise<number> {
  const pool = new Pool({ connectionString: url, max: 1 });
  try {
    const report = await readStatus(pool, { ...DEFAULT_SCHEMAS }, cmd.limit).catch((err) => {
      if ((err as { code?: string }).code === '42P01') {
        throw new Exit(2, `${redactUrl(url)} has no medallion tables yet: ingest a file first`);
      }
      throw err;
    });
    console.log(cmd.json ? JSON.stringify(report) : statusText(report));
    return 0;
  } finally {
    await pool.end();
  }
}

interface Input {
  path: string;
  directory: boolean;
}

function inputOf(cmd: IngestCommand): Input {
  const path = resolve(cmd.input);
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new Exit(
      2,
      `cannot read ${cmd.input}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  if (!st.isFile() && !st.isDirectory()) throw new Exit(2, `${cmd.input} is neither a file nor a directory`);
  return { path, directory: st.isDirectory() };
}

function flowFor(cmd: IngestCommand, input: Input): HeadlessFlow {
  let profile: { profile: string; rules: string } | undefined;
  if (cmd.profile) {
    try {
      profile = profileOption(cmd.profile, (p) => readFileSync(resolve(p), 'utf8'));
    } catch (err) {
      throw new Exit(2, `--profile ${cmd.profile}: ${(err as Error).message}`);
    }
  }
  const bundled = JSON.parse(
    readFileSync(join(packageRoot, 'flows', 'medallion.json'), 'utf8'),
  ) as FlowNode[];
  return headlessFlow(bundled, {
    watch: input.directory,
    ...profile,
    batchSize: cmd.batchSize,
  });
}

/** What `ingest` needs, checked before any database is started (usage and configuration errors). */
interface Prepared {
  input: Input;
  hf: HeadlessFlow;
  nodeRedPath: string;
}

function prepare(cmd: IngestCommand): Prepared {
  const input = inputOf(cmd);
  return { input, hf: flowFor(cmd, input), nodeRedPath: findNodeRed() };
}

async function ingest(
  cmd: IngestCommand,
  { input, hf, nodeRedPath }: Prepared,
  url: string,
): Promise<number> {
  const userDir = mkdtempSync(join(tmpdir(), 'medallion-cli-'));
  linkPack(userDir);
  writeFileSync(join(userDir, 'flows.json'), JSON.stringify(hf.flow));
  Object.assign(process.env, {
    DATABASE_URL: url,
    MEDALLION_LANDING: input.directory ? input.path : dirname(input.path),
    MEDALLION_QUARANTINE: resolve(cmd.quarantineDir ?? join(dirname(input.path), 'quarantine')),
    MEDALLION_INSTANCE: process.env.MEDALLION_INSTANCE || `medallion-cli@${hostname()}:${input.path}`,
  });

  const mode = cmd.json ? 'quiet' : process.stderr.isTTY ? 'bar' : 'lines';
  const report = new IngestReporter(mode, (text) => process.stderr.write(text));

  /* eslint-disable @typescript-eslint/no-require-imports -- Node-RED is found at run time */
  const RED = require(nodeRedPath) as {
    init(settings: object): void;
    start(): Promise<void>;
    stop(): Promise<void>;
    hooks: {
      add(name: string, fn: (e: { msg: Record<string, unknown>; destination: { id: string } }) => void): void;
    };
    nodes: { getNode(id: string): { receive(msg: object): void } | null };
    events: NodeJS.EventEmitter;
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
  RED.init({
    userDir,
    flowFile: 'flows.json',
    credentialSecret: false,
    httpAdminRoot: false,
    httpNodeRoot: false,
    editorTheme: { projects: { enabled: false } },
    logging: {
      console: { level: process.env.MEDALLION_CLI_DEBUG ? 'debug' : 'off' },
      medallion: {
        level: 'warn',
        metrics: false,
        audit: false,
        handler: () => (entry: LogEntry) => report.log(entry),
      },
    },
  });
  RED.hooks.add('onReceive.medallionCli', (e) => {
    const id = e.destination.id;
    if (id === hf.bronze) report.batch(e.msg.source as FileSource, (e.msg.payload as unknown[]).length);
    else if (id === hf.outcomes) report.outcome(e.msg.payload as FileOutcome);
  });

  const started = Date.now();
  const { outcomes, fileErrors, errors } = report;
  const done = () => outcomes.some((o) => o.path === input.path);
  let timer: NodeJS.Timeout | undefined;
  let interrupted = false;
  let stopWaiting: () => void = () => undefined;
  const interrupt = () => {
    interrupted = true;
    stopWaiting();
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    const flowsStarted = new Promise((started) => RED.events.once('flows:started', started));
    await RED.start();
    await flowsStarted;
    await new Promise<void>((finished) => {
      stopWaiting = finished;
      if (!input.directory) {
        // watch-folder answers with the file's outcome, or only logs an error (the file vanished):
        // an error is given one more poll for the outcome that may follow it
        RED.nodes.getNode(hf.watchFolder)!.receive({ payload: input.path });
        let errorPolls = 0;
        timer = setInterval(() => {
          if (fileErrors.length) errorPolls++;
          if (done() || errorPolls > 1) finished();
        }, POLL_MS);
      } else if (cmd.once) {
        let quiet = 0;
        const matches = globMatcher(String(hf.flow.find((n) => n.id === hf.watchFolder)!.pattern || '*.csv'));
        timer = setInterval(() => {
          drained(input.path, matches).then(
            (empty) => {
              quiet = empty && report.pending.size === 0 ? quiet + 1 : 0;
              if (quiet >= DRAINED_POLLS) finished();
            },
            () => undefined,
          );
        }, POLL_MS);
      }
    });
  } finally {
    clearInterval(timer);
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    await RED.stop();
    rmSync(userDir, { recursive: true, force: true });
  }
  if (!input.directory && !done()) errors.push(...fileErrors);
  if (interrupted && (cmd.once || !input.directory)) errors.push('interrupted before the input was drained');
  const summary = summarize(outcomes, (Date.now() - started) / 1000, errors);
  console.log(cmd.json ? JSON.stringify(summary) : summaryText(summary));
  return exitCode(summary);
}

/** True when no file waits in the folder (matching its pattern) or in its processing/ subfolder. */
async function drained(folder: string, matches: (name: string) => boolean): Promise<boolean> {
  const waiting = (await readdir(folder, { withFileTypes: true })).some((e) => e.isFile() && matches(e.name));
  if (waiting) return false;
  const processing = await readdir(join(folder, 'processing')).catch(() => []);
  return processing.length === 0;
}

/**
 * Runs the CLI again with these node arguments (lib/cli/heap.ts) and answers with its exit
 * code. The child has a process group of its own, so a signal reaches it once (forwarded from
 * here), and ends itself at once when this process dies (a kill -9 ends both).
 */
function relaunch(args: string[]): Promise<number> {
  const child = spawn(process.execPath, args, {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, [RELAUNCHED_ENV]: '1' },
    detached: true,
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, forward);
  return new Promise((resolve) => {
    child.on('error', (err) => {
      process.stderr.write(`medallion: cannot start node: ${err.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      for (const s of signals) process.off(s, forward);
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}

/** In a relaunched CLI: its parent gone (killed), it ends at once, as the parent did. */
function endWithParent(): void {
  if (!process.env[RELAUNCHED_ENV] || !process.send) return;
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
  process.channel?.unref();
}

async function main(argv: string[]): Promise<number> {
  const say = (line: string) => process.stderr.write(`${line}\n`);
  let embedded: EmbeddedPostgres | undefined;
  try {
    const cmd = parseCommand(argv);
    if (cmd.kind === 'help') {
      console.log(cmd.text);
      return 0;
    }
    if (cmd.kind === 'ingest') {
      const args = heapRelaunch(__filename, argv, process.execArgv, process.env, cmd.batchSize);
      if (args) return await relaunch(args);
    }
    const prepared = cmd.kind === 'ingest' ? prepare(cmd) : undefined;
    const db = await database(cmd.databaseUrl, say);
    embedded = db.embedded;
    await assertReachable(db.url);
    return cmd.kind === 'status' ? await status(cmd, db.url) : await ingest(cmd, prepared!, db.url);
  } catch (err) {
    if (err instanceof UsageError) {
      say(`medallion: ${err.message} (medallion --help)`);
      return 2;
    }
    if (err instanceof Exit) {
      say(`medallion: ${err.message}`);
      return err.code;
    }
    say(`medallion: ${(err as Error).stack ?? err}`);
    return 1;
  } finally {
    if (embedded && !embedded.reused) {
      await embedded
        .stop()
        .catch((err: Error) => say(`stopping the embedded PostgreSQL failed: ${err.message}`));
    }
  }
}

endWithParent();
main(process.argv.slice(2)).then((code) => process.exit(code));
