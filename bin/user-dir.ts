/**
 * A Node-RED user directory that loads this pack as a user's Node-RED loads an
 * installed one: the repository (or the installed package) linked into its
 * `node_modules`. Shared by `npm start` and `medallion ingest`.
 */
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';

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
