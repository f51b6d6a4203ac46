/**
 * The Node-RED the tests run on: the repository's own (4.1), or the one named by
 * MEDALLION_NODE_RED (a package directory) — the compatibility leg's Node-RED 5.
 */
import { dirname, join } from 'node:path';

export function nodeRedDir(): string {
  return process.env.MEDALLION_NODE_RED || dirname(require.resolve('node-red/package.json'));
}

/** Node-RED's command line script (`red.js`), to spawn it. */
export function redJs(): string {
  return join(nodeRedDir(), 'red.js');
}
