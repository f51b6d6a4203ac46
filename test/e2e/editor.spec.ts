/**
 * The pack in the real editor, in Chromium: the palette, every node's edit dialog (a bad
 * value marked, a good one saved), its help, Import ▸ Examples, and the medallion example
 * imported and deployed against a real database and broker, with a screenshot of it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Dialog } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { openEditor, trayOpen, type Editor } from '../support/editor';
import { clearSession, SHARED_MQTT_URL } from '../support/mqtt';
import { nodeRedDir } from '../support/node-red';

const repo = resolve(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  name: string;
  'node-red': { nodes: Record<string, string> };
};
const NODES = Object.keys(pkg['node-red'].nodes).filter((n) => n !== 'pg-config');
const EXAMPLES = readdirSync(join(repo, 'examples'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.replace(/\.json$/, ''))
  .sort();

/** Per node: a field of its form, a value its validation refuses, and one it takes. */
const FORM_CASES: Record<string, { field: string; bad?: string; good: string }> = {
  'pg-write': { field: 'table', bad: 'silver.readings; drop table x', good: 'silver.readings' },
  'watch-folder': { field: 'batchSize', bad: '0', good: '2000' },
  // its rule table's checks are rule-editor.spec.ts's
  validate: { field: 'name', good: 'campus rules' },
  quarantine: { field: 'replayLimit', bad: '-1', good: '500' },
  aggregate: { field: 'windows', bad: '5 parsecs', good: '15m, 1h' },
  anomaly: { field: 'window', bad: '1', good: '120' },
  'mqtt-batch': { field: 'size', bad: '0', good: '500' },
  simulator: { field: 'rate', bad: '-3', good: '12' },
  'mqtt-ingest': { field: 'receiveMaximum', bad: '70000', good: '1000' },
  report: { field: 'limit', bad: '0', good: '200' },
};

/** The first paragraph of a node's help file, as text. */
function helpSummary(node: string): string {
  const html = readFileSync(join(repo, 'nodes', node, 'locales', 'en-US', `${node}.html`), 'utf8');
  const p = /<p>([\s\S]*?)<\/p>/.exec(html)![1];
  return p
    .replace(/<[^>]+>/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 40);
}

type Red = {
  nodes: {
    node(id: string): (Record<string, unknown> & { valid?: boolean; validationErrors?: string[] }) | null;
    filterNodes(f: { type: string; z?: string }): Array<{ id: string }>;
    eachWorkspace(cb: (w: { id: string; label: string }) => void): void;
    eachConfig(cb: (n: { id: string; type: string }) => void): void;
  };
  actions: { invoke(name: string): void };
  sidebar: { help: { show(type: string): void } };
  menu: { setSelected(id: string, on: boolean): void };
  view: { select(id: string): void };
};

describe('the editor in Chromium', function () {
  this.timeout(180_000);
  let db: TestDatabase;
  let editor: Editor;
  const clientId = `medallion-e2e-${randomBytes(3).toString('hex')}`;

  before(async () => {
    db = await createTestDatabase('editor');
    editor = await openEditor({
      flows: [{ id: 'e2e0000000000001', type: 'tab', label: 'editor test' }],
      env: {
        DATABASE_URL: db.url,
        MQTT_URL: SHARED_MQTT_URL,
        MQTT_CLIENT_ID: clientId,
      },
    });
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && editor) {
      await editor.screenshot(`failed-${this.currentTest.title.replace(/\W+/g, '-').slice(0, 60)}`);
      // what the page said, then a fresh page, so one test's open dialog does not fail the next
      console.log(`    browser errors: ${JSON.stringify(editor.errors)}`);
      console.log(`    browser console, last 20: ${JSON.stringify(editor.console.slice(-20))}`);
      // which dialogs were open and where, and what the editor notified
      const trays = await editor.page.evaluate(() => ({
        trays: Array.from(document.querySelectorAll('.red-ui-tray')).map(
          (t) => `${t.querySelector('form')?.id ?? '?'} right ${getComputedStyle(t).right}`,
        ),
        notifications: Array.from(document.querySelectorAll('.red-ui-notification')).map((n) =>
          n.textContent?.trim(),
        ),
      }));
      console.log(`    editor: ${JSON.stringify(trays)}`);
      editor.errors.length = 0;
      editor.console.length = 0;
      // the editor asks before leaving unsaved changes: leave them
      const leave = (d: Dialog) => void d.accept();
      editor.page.on('dialog', leave);
      await editor.page.reload();
      editor.page.off('dialog', leave);
      await editor.page.waitForSelector('#red-ui-palette .red-ui-palette-node', { timeout: 60_000 });
    }
  });

  after(async () => {
    await editor?.close();
    await clearSession(SHARED_MQTT_URL, clientId);
    await db?.drop();
  });

  it('shows every node of the pack in the palette under "medallion", with its icon', async () => {
    const palette = await editor.page.evaluate(() => {
      const box = document.getElementById('red-ui-palette-container-medallion');
      return {
        header: document.querySelector('#red-ui-palette-header-medallion')?.textContent?.trim(),
        nodes: Array.from(box?.querySelectorAll('.red-ui-palette-node') ?? []).map((n) => ({
          type: n.getAttribute('data-palette-type'),
          // as shown: HTML collapses the spaces the palette puts around words
          label: n.querySelector('.red-ui-palette-label')?.textContent?.replace(/\s+/g, ' ').trim(),
          icon: (n.querySelector('.red-ui-palette-icon') as HTMLElement | null)?.style.backgroundImage ?? '',
        })),
      };
    });
    assert.equal(palette.header, 'medallion');
    const version = await editor.page.evaluate(
      () => (window as unknown as { RED: { settings: { version: string } } }).RED.settings.version,
    );
    // the compatibility leg names the Node-RED it installed: the editor must be that one
    const installed = JSON.parse(readFileSync(join(nodeRedDir(), 'package.json'), 'utf8')) as {
      version: string;
    };
    // "-git": Node-RED's runtime says so when it finds a .git three folders up (this repository's)
    assert.equal(version.replace(/-git$/, ''), process.env.MEDALLION_NODE_RED_VERSION ?? installed.version);
    assert.deepEqual(palette.nodes.map((n) => n.type).sort(), NODES.map((n) => `medallion-${n}`).sort());
    for (const n of palette.nodes) {
      const node = n.type!.replace(/^medallion-/, '');
      const form = readFileSync(join(repo, 'nodes', node, `${node}.html`), 'utf8');
      const label = JSON.parse(`"${/paletteLabel: '([^']+)'/.exec(form)![1]}"`) as string;
      assert.equal(n.label, label, `${n.type}'s palette label, as written`);
      assert.match(
        n.icon,
        new RegExp(`icons/${pkg.name}/medallion-[a-z-]+\\.svg`),
        `${n.type} has the pack's icon`,
      );
    }
    assert.deepEqual(editor.errors, []);
  });

  it("opens each node's edit dialog: a bad value is marked, a good one is saved; its help renders", async () => {
    const page = editor.page;
    let x = 160;
    for (const node of NODES) {
      const type = `medallion-${node}`;
      const { field, bad, good } = FORM_CASES[node];
      await page.dragAndDrop(`.red-ui-palette-node[data-palette-type="${type}"]`, '#red-ui-workspace-chart', {
        targetPosition: { x, y: 120 + (x % 3) * 60 },
      });
      x += 110;
      const id = await page.evaluate(
        (t) => (window as unknown as { RED: Red }).RED.nodes.filterNodes({ type: t }).at(-1)?.id,
        type,
      );
      assert.ok(id, `${type} was dropped on the workspace`);
      await page.dblclick(`[id="${id}"] .red-ui-flow-node`);
      await trayOpen(page, '#dialog-form');
      const input = page.locator(`#node-input-${field}`);
      if (node === 'pg-write') {
        // the first node that needs a database: make the pg-config through its + button
        await page.click('#node-input-btn-pgConfig-add');
        // the pg-write tray slides out, the config tray in; its oneditprepare made the URL a typed input
        await trayOpen(page, '#node-config-dialog-edit-form');
        await page.locator('.medallion-pg-url .red-ui-typedInput-container').waitFor();
        await page.locator('#node-config-input-poolSize').fill('0');
        await page.locator('#node-config-input-poolSize').dispatchEvent('change');
        assert.ok(
          await page.locator('#node-config-input-poolSize.input-error').count(),
          'pool size 0 is marked',
        );
        await page.locator('#node-config-input-poolSize').fill('4');
        await page.locator('#node-config-input-poolSize').dispatchEvent('change');
        assert.equal(
          await page.locator('#node-config-input-poolSize.input-error').count(),
          0,
          'pool size 4 is fine',
        );
        await page.click('#node-config-dialog-ok');
        await page.locator('#node-config-dialog-ok').waitFor({ state: 'detached' });
      }
      const database = page.locator('#node-input-pgConfig');
      if (node !== 'pg-write' && (await database.count())) {
        // the pg-config made with the first node, as a user picks it
        const made = await page.evaluate(() => {
          const ids: string[] = [];
          (window as unknown as { RED: Red }).RED.nodes.eachConfig((c) => {
            if (c.type === 'medallion-pg-config') ids.push(c.id);
          });
          return ids;
        });
        assert.equal(made.length, 1);
        await database.selectOption(made[0]);
      }
      if (bad !== undefined) {
        await input.fill(bad);
        await input.dispatchEvent('change');
        assert.equal(
          await input.evaluate((e) => e.classList.contains('input-error')),
          true,
          `${type}: ${field} = ${JSON.stringify(bad)} is marked`,
        );
      }
      await input.fill(good);
      await input.dispatchEvent('change');
      assert.equal(
        await input.evaluate((e) => e.classList.contains('input-error')),
        false,
        `${type}: ${field} = ${JSON.stringify(good)}`,
      );
      await page.click('#node-dialog-ok');
      await page.locator('#node-dialog-ok').waitFor({ state: 'detached' });
      const saved = await page.evaluate(
        ([nid, f]) => {
          const n = (window as unknown as { RED: Red }).RED.nodes.node(nid)!;
          return { value: String(n[f]), valid: n.valid, errors: n.validationErrors ?? [] };
        },
        [id, field],
      );
      assert.deepEqual(saved, { value: good, valid: true, errors: [] }, type);

      await page.evaluate(
        ([nid, t]) => {
          const red = (window as unknown as { RED: Red }).RED;
          red.view.select(nid);
          red.sidebar.help.show(t);
        },
        [id, type],
      );
      const help = page.locator('.red-ui-help');
      await help.getByText(helpSummary(node), { exact: false }).first().waitFor({ timeout: 5_000 });
      const headings = await help.locator('h3').allTextContents();
      assert.ok(headings.includes('Details'), `${type} help: ${headings.join(', ')}`);
    }
    await editor.screenshot('editor-nodes');
    assert.deepEqual(editor.errors, []);
    // clear the tab (an mqtt ingest with the example's client id would take its session over)
    await page.click('#red-ui-workspace-chart');
    await page.keyboard.press('Control+a');
    await page.keyboard.press('Delete');
    assert.deepEqual(
      await page.evaluate(() =>
        (window as unknown as { RED: Red }).RED.nodes.filterNodes({ type: 'medallion-pg-write' }),
      ),
      [],
    );
  });

  it('lists the examples under Import ▸ Examples, and the medallion example imports, deploys and connects', async () => {
    const page = editor.page;
    await page.click('#red-ui-header-button-sidemenu');
    await page.click('#menu-item-import');
    await page.click('#red-ui-tab-red-ui-clipboard-dialog-import-tab-examples');
    const tab = page.locator('#red-ui-clipboard-dialog-import-tab-examples');
    await tab.locator('.red-ui-treeList-label', { hasText: pkg.name }).click();
    const labels = tab.locator('.red-ui-treeList-label');
    await labels.filter({ hasText: /^medallion$/ }).waitFor();
    const listed = (await labels.allTextContents()).map((t) => t.trim());
    const mine = listed.slice(listed.indexOf(pkg.name) + 1, listed.indexOf(pkg.name) + 1 + EXAMPLES.length);
    assert.deepEqual([...mine].sort(), EXAMPLES);
    await labels.filter({ hasText: /^medallion$/ }).click();
    await page.click('#red-ui-clipboard-dialog-ok');
    await page.locator('#red-ui-clipboard-dialog-ok').waitFor({ state: 'hidden' });
    await page.locator('.red-ui-tab', { hasText: 'Medallion' }).first().click();
    await page.click('#red-ui-header-button-deploy');
    const deployed = page.locator('.red-ui-notification', { hasText: /Successfully deployed/ });
    await deployed.waitFor();
    // the pg-config the dialogs made is left unused: Node-RED says so, with a Close button
    const close = deployed.getByRole('button', { name: 'Close' });
    if (await close.count()) await close.click();

    // every pack node of the example that talks to PostgreSQL or the broker shows it is connected
    const example = JSON.parse(readFileSync(join(repo, 'examples', 'medallion.json'), 'utf8')) as Array<{
      id: string;
      type: string;
      pgConfig?: string;
      d?: boolean;
    }>;
    const connected = example
      .filter((n) => n.type === 'medallion-mqtt-ingest' || (n.pgConfig && !n.d))
      .map((n) => n.type);
    assert.ok(connected.length >= 8, connected.join());
    await page.waitForFunction(
      (types) => {
        const red = (window as unknown as { RED: Red }).RED;
        let tab = '';
        red.nodes.eachWorkspace((w) => {
          if (w.label === 'Medallion') tab = w.id;
        });
        const nodes = [...new Set(types)].flatMap((t) => red.nodes.filterNodes({ type: t, z: tab }));
        const statuses = nodes.map(
          (n) => (red.nodes.node(n.id) as { status?: { fill?: string; text?: string } }).status ?? {},
        );
        // green, or yellow for quarantine's kept records: not red, not connecting or retrying
        return (
          nodes.length === types.length &&
          statuses.every(
            (s) => (s.fill === 'green' || s.fill === 'yellow') && !/connect|retry/.test(s.text ?? ''),
          )
        );
      },
      connected,
      { timeout: 60_000 },
    );
    await page.mouse.move(1900, 1060); // no group lit by the pointer
    await page.evaluate(() => {
      const red = (window as unknown as { RED: Red }).RED;
      red.menu.setSelected('menu-item-sidebar', false);
      red.menu.setSelected('menu-item-palette', false);
      red.actions.invoke('core:zoom-out');
      red.actions.invoke('core:zoom-out');
      red.actions.invoke('core:zoom-out');
    });
    await page.locator('.red-ui-notification').first().waitFor({ state: 'hidden', timeout: 15_000 });
    await page.waitForTimeout(500);
    // the flow's rows, as docs/editor.png shows them
    await editor.screenshot('medallion-flow', { x: 0, y: 0, width: 1920, height: 560 });
    assert.deepEqual(editor.errors, []);
  });
});
