/**
 * A Node-RED user directory that loads this pack as a user's Node-RED loads an
 * installed one: the repository (or the installed package) linked into its
 * `node_modules`. Shared by `npm start` and `medallion ingest`.
 */
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';

/** The package root (this file is dist/bin/user-dir.js). */
export const packageRoot = resolve(__dirname, '..', '..');
const PACKAGE = 'node-red-iot-medallion';

export function linkPack(userDir: string): void {
  const modules = join(userDir, 'node_modules');
  mkdirSync(modules, { recursive: true });
  const link = join(modules, PACKAGE);
  rmSync(link, { force: true });
  symlinkSync(packageRoot, link, 'dir');
}

/** Node-RED modules the bundled flow uses that are the launcher's (dev) dependencies, not the pack's. */
export const FLOW_MODULES = ['@flowfuse/node-red-dashboard'];

/**
 * Links FLOW_MODULES, where they are installed beside the pack (`from`), into
 * `<userDir>/node_modules` when the Node-RED in `nodeRedDir` would not find them itself.
 * Node-RED loads modules from its userDir and from every `node_modules` folder its own
 * install sits in: the pack's Node-RED finds them (a link would load them twice), another
 * one (MEDALLION_NODE_RED, e.g. Node-RED 5) does not.
 */
export function linkFlowModules(userDir: string, nodeRedDir: string, from: string = packageRoot): void {
  for (const name of FLOW_MODULES) {
    let dir: string;
    try {
      dir = dirname(require.resolve(`${name}/package.json`, { paths: [from] }));
    } catch {
      continue;
    }
    const nodeModules = resolve(dir, ...name.split('/').map(() => '..'));
    if (resolve(nodeRedDir).startsWith(dirname(nodeModules) + sep)) continue;
    const link = join(userDir, 'node_modules', name);
    mkdirSync(dirname(link), { recursive: true });
    rmSync(link, { force: true });
    symlinkSync(dir, link, 'dir');
  }
}
