/**
 * The editor in a real browser: Node-RED with this pack (startNodeRed) and Debian's
 * Chromium driven by playwright-core (never a downloaded browser). Console errors and
 * page errors are collected; screenshots go to test-artifacts/ (gitignored).
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
  /** Console errors and uncaught page errors since the editor opened. */
  errors: string[];
  /**
   * Saves test-artifacts/<name>.png (node-red-<version>-<name>.png on the compatibility leg), the
   * page or the `clip` rectangle of it; returns its path.
   */
  screenshot(name: string, clip?: { x: number; y: number; width: number; height: number }): Promise<string>;
  close(): Promise<void>;
}

/** Node-RED (child process, fresh userDir, the built pack, `flows`) + Chromium on its editor. */
export async function openEditor(
  opts: { flows?: object[]; env?: Record<string, string>; cwd?: string } = {},
): Promise<Editor> {
  const nodeRed = await startNodeRed(opts);
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
    page.on('requestfailed', (r) => errors.push(`request: ${r.url()} ${r.failure()?.errorText}`));
    // the palette manager fetches the public node catalogue; this machine is offline
    await page.route('https://catalogue.nodered.org/**', (route) =>
      route.fulfill({ json: { name: 'offline', updated_at: new Date().toISOString(), modules: [] } }),
    );
    await page.goto(nodeRed.base + '/');
    await page.waitForSelector('#red-ui-palette .red-ui-palette-node', { timeout: 60_000 });
    await page.waitForFunction(() => {
      const red = (window as unknown as { RED?: { nodes?: { getType?: (t: string) => unknown } } }).RED;
      return !!red?.nodes?.getType?.('medallion-validate');
    });
    await page.waitForSelector('#red-ui-workspace-chart svg', { timeout: 30_000 });
    const b = browser;
    return {
      base: nodeRed.base,
      page,
      nodeRed,
      errors,
      async screenshot(name, clip) {
        mkdirSync(ARTIFACTS, { recursive: true });
        // the compatibility leg's pictures beside 4.1's, not over them
        const leg = process.env.MEDALLION_NODE_RED_VERSION;
        const path = join(ARTIFACTS, `${leg ? `node-red-${leg}-` : ''}${name}.png`);
        await page.screenshot({ path, clip });
        return path;
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
