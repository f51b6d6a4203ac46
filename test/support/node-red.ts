/**
 * The Node-RED the tests run on: the repository's own (4.1), or the one named by
 * MEDALLION_NODE_RED (a package directory) — the compatibility leg's Node-RED 5.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { linkFlowModules } from '../../bin/user-dir';
import { freePort, spawnCollecting, type Spawned } from './processes';

export function nodeRedDir(): string {
  return process.env.MEDALLION_NODE_RED || dirname(require.resolve('node-red/package.json'));
}

/** Node-RED's command line script (`red.js`), to spawn it. */
export function redJs(): string {
  return join(nodeRedDir(), 'red.js');
}

/** A Node-RED process on a fresh userDir with this pack installed (a symlink to the built repo). */
export interface RunningNodeRed {
  base: string;
  userDir: string;
  process: Spawned;
  stop(): Promise<void>;
}

/**
 * Starts Node-RED as a child process the way a user runs it: the pack in
 * `userDir/node_modules` (a symlink to this repository, so `npm run build` must have
 * made dist/), the launcher's settings (bin/settings.ts), `flows` (or the userDir's own
 * flows.json) as the flow file. Resolves once the flows are started; `stop` removes a userDir it made.
 */
export async function startNodeRed(
  opts: {
    flows?: object[];
    env?: Record<string, string>;
    cwd?: string;
    userDir?: string;
    /** A command Node-RED runs under, e.g. `setpriv --reuid=nobody …` (another user). */
    wrap?: string[];
  } = {},
): Promise<RunningNodeRed> {
  const repo = resolve(__dirname, '..', '..');
  if (!existsSync(join(repo, 'dist', 'nodes'))) throw new Error('dist/ is missing: run npm run build');
  const userDir = opts.userDir ?? mkdtempSync(join(tmpdir(), 'medallion-red-'));
  mkdirSync(join(userDir, 'node_modules'), { recursive: true });
  const link = join(userDir, 'node_modules', 'node-red-iot-medallion');
  if (!existsSync(link)) symlinkSync(repo, link, 'dir');
  linkFlowModules(userDir, nodeRedDir(), repo);
  if (opts.flows) writeFileSync(join(userDir, 'flows.json'), JSON.stringify(opts.flows));
  const port = await freePort(0);
  const command = [
    ...(opts.wrap ?? []),
    process.execPath,
    redJs(),
    '--userDir',
    userDir,
    '--settings',
    join(repo, 'dist', 'bin', 'settings.js'),
  ];
  const proc = spawnCollecting(command[0], command.slice(1), {
    cwd: opts.cwd ?? userDir,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      NODE_RED_CREDENTIAL_SECRET: 'test-secret',
      ...opts.env,
    },
  });
  await proc.waitFor(/Server now running at/, 60_000);
  if (existsSync(join(userDir, 'flows.json'))) await proc.waitFor(/Started flows/, 60_000);
  return {
    base: `http://127.0.0.1:${port}`,
    userDir,
    process: proc,
    async stop() {
      if (proc.child.exitCode === null) {
        proc.child.kill('SIGTERM');
        await proc.exited(30_000);
      }
      if (!opts.userDir) rmSync(userDir, { recursive: true, force: true });
    },
  };
}
