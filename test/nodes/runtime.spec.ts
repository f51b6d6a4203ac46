import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { helper } from '../support/flow';
import { nodeRedDir } from '../support/node-red';

/** The Node-RED module node-red-node-test-helper runs the nodes in (it first loads the repository's own). */
const runtime = () => (helper as unknown as { _RED: { version(): string } })._RED;
/** Its version, without the `-git` Node-RED adds when its package has no build stamp. */
const version = () => runtime().version().replace(/-git$/, '');

describe('the Node-RED the node tests run on', () => {
  it('is the one given: the repository’s own, or MEDALLION_NODE_RED (the compatibility leg)', () => {
    const given = JSON.parse(readFileSync(join(nodeRedDir(), 'package.json'), 'utf8')) as { version: string };
    assert.equal(version(), given.version);
    // the compatibility leg says which version it installed: a leg that fell back to 4.1 fails here
    if (process.env.MEDALLION_NODE_RED_VERSION) {
      assert.equal(version(), process.env.MEDALLION_NODE_RED_VERSION);
      assert.match(version(), /^5\./);
    } else assert.match(version(), /^4\.1\./);
  });
});
