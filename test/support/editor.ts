/**
 * The editor and the dashboard in a real browser: Node-RED with this pack (startNodeRed)
 * and Debian's Chromium driven by playwright-core (never a downloaded browser). Console
 * errors and page errors are collected; screenshots go to test-artifacts/ (gitignored).
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startNodeRed, type RunningNodeRed } from './node-red';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const ARTIFACTS = resolve(__dirname, '..', '..', 'test-artifacts');

export interface Editor {
  base: string;
  page: Page;
  nodeRed: RunningNodeRed;
  /** Console errors and uncaught page errors since the page opened. */
  errors: string[];
  /**
   * Every console message since the page opened, `type: text`: the editor logs what goes wrong
   * in a node's oneditprepare with console.log.
   */
  console: string[];
  /**
   * Saves test-artifacts/<name>.png (node-red-<version>-<name>.png on the compatibility leg), the
   * page (`fullPage`: all of it) or the `clip` rectangle of it; returns its path.
   */
  screenshot(
    name: string,
    clip?: { x: number; y: number; width: number; height: number },
    fullPage?: boolean,
  ): Promise<string>;
  close(): Promise<void>;
}

type Options = { flows?: object[]; env?: Record<string, string>; cwd?: string };

/**
 * Node-RED (child process, fresh userDir, the built pack, `flows`) + Chromium on `path` of it,
 * resolved once `ready` has run on the page.
 */
async function openPage(
  opts: Options,
  path: string,
  viewport: { width: number; height: number },
  ready: (page: Page) => Promise<void>,
): Promise<Editor> {
  const nodeRed = await startNodeRed(opts);
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const page = await browser.newPage({ viewport, acceptDownloads: true });
    const errors: string[] = [];
    const messages: string[] = [];
    page.on('console', (m) => {
      messages.push(`${m.type()}: ${m.text()}`);
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
    page.on('requestfailed', (r) => errors.push(`request: ${r.url()} ${r.failure()?.errorText}`));
    // the palette manager fetches the public node catalogue; this machine is offline
    await page.route('https://catalogue.nodered.org/**', (route) =>
      route.fulfill({ json: { name: 'offline', updated_at: new Date().toISOString(), modules: [] } }),
    );
    await page.goto(nodeRed.base + path);
    await ready(page);
    const b = browser;
    return {
      base: nodeRed.base,
      page,
      nodeRed,
      errors,
      console: messages,
      async screenshot(name, clip, fullPage) {
        mkdirSync(ARTIFACTS, { recursive: true });
        // the compatibility leg's pictures beside 4.1's, not over them
        const leg = process.env.MEDALLION_NODE_RED_VERSION;
        const file = join(ARTIFACTS, `${leg ? `node-red-${leg}-` : ''}${name}.png`);
        await page.screenshot({ path: file, clip, fullPage });
        return file;
      },
      async close() {
        await b.close();
        await nodeRed.stop();
      },
    };
  } catch (err) {
    await browser?.close();
    await nodeRed.stop();
    throw err;
  }
}

/** The editor, once its palette shows the pack's nodes and the workspace is drawn. */
export function openEditor(opts: Options = {}): Promise<Editor> {
  return openPage(opts, '/', { width: 1920, height: 1080 }, async (page) => {
    await page.waitForSelector('#red-ui-palette .red-ui-palette-node', { timeout: 60_000 });
    await page.waitForFunction(() => {
      const red = (window as unknown as { RED?: { nodes?: { getType?: (t: string) => unknown } } }).RED;
      return !!red?.nodes?.getType?.('medallion-validate');
    });
    await page.waitForSelector('#red-ui-workspace-chart svg', { timeout: 30_000 });
  });
}

/** The Dashboard 2.0 page at `path` (e.g. /dashboard), once a widget of it is drawn. */
export function openDashboard(opts: Options, path: string): Promise<Editor> {
  return openPage(opts, path, { width: 1600, height: 1200 }, async (page) => {
    await page.waitForSelector('.nrdb-ui-widget', { timeout: 60_000 });
  });
}

/**
 * Resolves once the edit tray holding `form` (`#dialog-form` for a node,
 * `#node-config-dialog-edit-form` for a config node) is built and has slid in. Until its build
 * has finished the editor ignores a click that opens another dialog (a config node's + button):
 * the tray only starts to slide after it.
 */
export async function trayOpen(page: Page, form: string): Promise<void> {
  await page.waitForFunction((selector) => {
    const tray = document.querySelector(selector)?.closest('.red-ui-tray');
    return !!tray && getComputedStyle(tray).right === '0px';
  }, form);
}
