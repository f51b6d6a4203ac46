/**
 * `npm start`: Node-RED 4.1 with this pack and the bundled flow, on the PostgreSQL
 * from DATABASE_URL or, when unset, an embedded one under MEDALLION_HOME, watching the
 * landing folder MEDALLION_LANDING (default <MEDALLION_HOME>/landing), with the MQTT
 * broker at MQTT_URL or, when unset, an embedded one (aedes) in this process.
 *
 * Node-RED runs as a child process with the pack linked into its userDir, exactly as
 * a user's Node-RED would load an installed pack. On Ctrl-C / SIGTERM, Node-RED stops
 * first (its nodes flush and close), then the embedded broker and PostgreSQL, so
 * nothing is left running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { get } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { redactUrl } from '../lib/pg/connection';
import { startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres';
import { linkFlowModules, linkPack, packageRoot as repoRoot } from './user-dir';
const STOP_TIMEOUT_MS = 30_000;

function say(line: string): void {
  console.log(`[medallion] ${line}`);
}

/**
 * Links this repository (and the modules its flow uses, where Node-RED would not find them) into
 * `<userDir>/node_modules` and seeds flows.json from flows/medallion.json.
 */
function prepareUserDir(userDir: string): void {
  linkPack(userDir);
  linkFlowModules(userDir, dirname(nodeRedScript()));
  const flows = join(userDir, 'flows.json');
  if (!existsSync(flows)) {
    copyFileSync(join(repoRoot, 'flows', 'medallion.json'), flows);
    say(`flows: ${flows} (copied from flows/medallion.json)`);
  } else {
    say(`flows: ${flows} (your edited copy; delete it to get flows/medallion.json back)`);
  }
}

/** Node-RED's `red.js`: of the install MEDALLION_NODE_RED names (a package directory), else the one beside the pack. */
function nodeRedScript(): string {
  const dir = process.env.MEDALLION_NODE_RED;
  return dir ? join(resolve(dir), 'red.js') : require.resolve('node-red/red.js');
}

/** Resolves when the editor answers HTTP, or rejects when Node-RED exits first. */
function editorUp(url: string, child: ChildProcess): Promise<void> {
  return new Promise((resolveUp, reject) => {
    let done = false;
    child.once('exit', (code) => {
      if (!done) reject(new Error(`Node-RED exited (code ${code}) before the editor was up`));
      done = true;
    });
    const attempt = () => {
      if (done) return;
      get(url, (res) => {
        res.resume();
        if (!done && res.statusCode && res.statusCode < 500) {
          done = true;
          resolveUp();
        } else setTimeout(attempt, 250);
      }).on('error', () => setTimeout(attempt, 250));
    };
    attempt();
  });
}

async function main(): Promise<number> {
  const home = resolve(process.env.MEDALLION_HOME || join(repoRoot, '.medallion'));
  mkdirSync(home, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env };

  let pg: EmbeddedPostgres | undefined;
  if (env.DATABASE_URL) {
    say(`PostgreSQL: ${redactUrl(env.DATABASE_URL)} (from DATABASE_URL; no embedded server started)`);
  } else {
    pg = await startEmbeddedPostgres(join(home, 'postgres'));
    env.DATABASE_URL = pg.url;
    say(
      `PostgreSQL: embedded PostgreSQL ${pg.version} on 127.0.0.1:${pg.port}, data in ${pg.dataDir}` +
        (pg.reused ? ' (already running from an earlier start; taken over)' : ''),
    );
  }

  let broker: EmbeddedBroker | undefined;
  try {
    if (env.MQTT_URL) {
      say(`MQTT: ${redactUrl(env.MQTT_URL)} (from MQTT_URL; no embedded broker started)`);
    } else {
      broker = await startEmbeddedBroker();
      env.MQTT_URL = broker.url;
      say(
        `MQTT: embedded broker (aedes) on ${broker.url}` +
          (broker.movedFrom1883 ? ' (1883 is taken, so another port)' : '') +
          '; sensors and tools can publish to sensors/<device>/readings there',
      );
    }
    return await runNodeRed(home, env, Boolean(pg || broker));
  } finally {
    await broker?.stop().then(() => say('embedded MQTT broker stopped'));
    await pg?.stop().then(
      () => say('embedded PostgreSQL stopped'),
      (err: Error) => say(`stopping the embedded PostgreSQL failed: ${err.message}`),
    );
  }
}

/** Runs Node-RED until it exits; resolves with the launcher's exit code. */
async function runNodeRed(home: string, env: NodeJS.ProcessEnv, embedded: boolean): Promise<number> {
  const userDir = join(home, 'node-red');
  prepareUserDir(userDir);
  env.MEDALLION_USER_DIR = userDir;
  env.MEDALLION_LANDING = resolve(env.MEDALLION_LANDING || join(home, 'landing'));
  mkdirSync(env.MEDALLION_LANDING, { recursive: true });
  say(`landing folder: ${env.MEDALLION_LANDING} (drop CSV files here; MEDALLION_LANDING to change it)`);
  env.MEDALLION_QUARANTINE = resolve(env.MEDALLION_QUARANTINE || join(home, 'quarantine'));
  say(`quarantine folder: ${env.MEDALLION_QUARANTINE} (rejected records; MEDALLION_QUARANTINE to change it)`);
  const host = env.HOST || '127.0.0.1';
  const port = Number(env.PORT || 1880);
  const child = spawn(
    process.execPath,
    [nodeRedScript(), '--userDir', userDir, '--settings', join(__dirname, 'settings.js')],
    { stdio: 'inherit', env },
  );

  let stopping = false;
  const exited = new Promise<number>((resolveExit) =>
    child.once('exit', (code, signal) => resolveExit(code ?? (signal ? 1 : 0))),
  );
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping Node-RED${embedded ? ', then the embedded services' : ''}…`);
    child.kill(signal === 'SIGINT' ? 'SIGINT' : 'SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS).unref();
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop(signal));

  const browseHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  const editorUrl = `http://${browseHost.includes(':') ? `[${browseHost}]` : browseHost}:${port}/`;
  editorUp(editorUrl, child).then(
    () => {
      say(`editor: ${editorUrl}`);
      say(`dashboard: ${editorUrl}dashboard (the operator page of the bundled flow)`);
    },
    (err: Error) => say(err.message),
  );

  const code = await exited;
  return stopping ? 0 : code;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`[medallion] cannot start: ${err.message}`);
    process.exit(1);
  },
);
