import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { FLOW_MODULES, linkFlowModules } from '../../bin/user-dir';

describe('userDir: the modules the bundled flow uses', () => {
  const repo = resolve(__dirname, '..', '..');
  let userDir: string;
  beforeEach(() => {
    userDir = mkdtempSync(join(tmpdir(), 'medallion-userdir-'));
  });
  afterEach(() => rmSync(userDir, { recursive: true, force: true }));

  it("links Dashboard 2.0 for a Node-RED installed elsewhere, not for the repository's own", () => {
    const [dashboard] = FLOW_MODULES;
    const installed = dirname(require.resolve(`${dashboard}/package.json`, { paths: [repo] }));
    linkFlowModules(userDir, join(repo, 'node_modules', 'node-red'), repo);
    assert.equal(existsSync(join(userDir, 'node_modules', dashboard)), false, 'its own Node-RED finds it');
    linkFlowModules(userDir, join(tmpdir(), 'compat', 'node_modules', 'node-red'), repo);
    assert.equal(readlinkSync(join(userDir, 'node_modules', dashboard)), installed);
    // again (a restart): the link is replaced, not an error
    linkFlowModules(userDir, join(tmpdir(), 'compat', 'node_modules', 'node-red'), repo);
    assert.equal(readlinkSync(join(userDir, 'node_modules', dashboard)), installed);
  });

  it('links nothing where the modules are not installed (the pack without its dev dependencies)', () => {
    linkFlowModules(userDir, '/elsewhere/node_modules/node-red', tmpdir());
    assert.equal(existsSync(join(userDir, 'node_modules')), false);
  });
});
