/**
 * Build step after `tsc`: Node-RED 4.1 looks for `<name>.html`, `locales/` and
 * `icons/` beside each node's `.js` file, so copy them into `dist/nodes/<node>/`; and
 * the `medallion` command must be executable (`npx medallion` runs it directly).
 */
import { chmodSync, cpSync, existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..');
const nodesDir = join(root, 'nodes');
const iconsDir = join(root, 'icons');

for (const node of readdirSync(nodesDir)) {
  const src = join(nodesDir, node);
  const out = join(root, 'dist', 'nodes', node);
  if (!existsSync(join(out, `${node}.js`))) {
    throw new Error(`dist/nodes/${node}/${node}.js is missing: run tsc first`);
  }
  cpSync(join(src, `${node}.html`), join(out, `${node}.html`));
  cpSync(join(src, 'locales'), join(out, 'locales'), { recursive: true });
  cpSync(iconsDir, join(out, 'icons'), { recursive: true });
}

chmodSync(join(root, 'dist', 'bin', 'medallion.js'), 0o755);
