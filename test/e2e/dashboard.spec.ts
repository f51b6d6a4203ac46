/**
 * The operator page (/dashboard, the bundled flow's Dashboard group) in Chromium against a real
 * database: a dataset dropped into the landing folder turns its counters and charts from zero
 * to what PostgreSQL holds, the threshold slider changes the anomaly list, the table chosen is
 * exported as the CSV of exactly the rows shown, and a metric chosen redraws the gold chart.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { Locator } from 'playwright-core';
import { BUNDLED, groupMembers } from '../support/bundled';
import { DATASETS } from '../support/datasets';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { openDashboard, type Editor } from '../support/editor';
import { clearSession, SHARED_MQTT_URL } from '../support/mqtt';
import { poll } from '../support/processes';

/** The id of the bundled flow's node of `type` whose label (or name) matches. */
function widget(type: string, label: RegExp): string {
  const found = BUNDLED.filter((n) => n.type === type && label.test(String(n.label ?? n.name ?? '')));
  assert.equal(found.length, 1, `${type} ${label}`);
  return found[0].id;
}

const OVERVIEW = widget('ui-template', /^overview$/);
const RATE = widget('ui-chart', /^rows per minute/);
const RUNS = widget('ui-table', /^runs$/);
const RULES = widget('ui-table', /per field and rule/);
const TABLE_CHOICE = widget('ui-dropdown', /^Table$/);
const EXPORT = widget('ui-template', /^CSV export$/);
const ROWS = BUNDLED.find((n) => n.wires?.[0]?.includes(EXPORT))!.wires![0].find((id) => id !== EXPORT)!;
const METRIC = widget('ui-dropdown', /^Metric/);
const GOLD = widget('ui-chart', /^average per window/);
const SLIDER = widget('ui-slider', /^threshold/);
const ANOMALIES = widget('ui-table', /^anomalies, newest first$/);
const ANOMALY_CHART = widget('ui-chart', /^anomalies/);

type Frame = { payload?: unknown };

describe('the operator page (/dashboard) in Chromium', function () {
  this.timeout(180_000);
  let db: TestDatabase;
  let work: string;
  let page: Editor;
  /** What each widget has been sent over the dashboard's socket, by widget id. */
  const sent = new Map<string, Frame[]>();
  const prefix = `dashboard-${randomBytes(3).toString('hex')}`;

  const el = (id: string) => page.page.locator(`#nrdb-ui-widget-${id}`);
  const figure = (key: string) => el(OVERVIEW).locator(`[data-figure="${key}"] .medallion-value`);
  /** "1-8 of 27" under a table: the rows it holds. */
  const total = async (table: Locator) => {
    const info = (await table.locator('.v-data-table-footer__info').textContent()) ?? '';
    return /of (\d+)/.exec(info) ? Number(/of (\d+)/.exec(info)![1]) : 0;
  };
  const waitFor = <T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000) => poll(fn, ms, what, 250);
  const pick = async (dropdown: string, option: string) => {
    await el(dropdown).locator('.v-field').click();
    await page.page
      .locator('.v-overlay--active .v-list-item', { hasText: new RegExp(`^${option}$`) })
      .click();
  };
  /** The rows a table shows on its page, as text, with its column names. */
  const shown = async (table: Locator) => ({
    columns: (await table.locator('thead th').allTextContents()).map((t) => t.trim()),
    rows: await table
      .locator('tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent!.trim())),
      ),
  });
  const exported = async () => {
    const [download] = await Promise.all([
      page.page.waitForEvent('download'),
      el(EXPORT).getByRole('button', { name: 'Export CSV' }).click(),
    ]);
    const text = readFileSync(await download.path(), 'utf8');
    return {
      name: download.suggestedFilename(),
      rows: parse(text, { relax_column_count: false }) as string[][],
    };
  };

  before(async () => {
    db = await createTestDatabase('dashboard');
    work = mkdtempSync(join(tmpdir(), 'medallion-dashboard-'));
    mkdirSync(join(work, 'landing'));
    // the data comes only from the file the test drops: the simulators stay off
    const simulators = new Set(groupMembers('Simulated sensors'));
    const flows = BUNDLED.map((n) =>
      simulators.has(n.id) && n.type === 'medallion-simulator' ? { ...n, d: true } : n,
    );
    page = await openDashboard(
      {
        flows,
        env: {
          DATABASE_URL: db.url,
          MEDALLION_LANDING: join(work, 'landing'),
          MEDALLION_QUARANTINE: join(work, 'quarantine'),
          MQTT_URL: SHARED_MQTT_URL,
          MQTT_CLIENT_ID: prefix,
          MQTT_TOPIC: `${prefix}/sensors/+/readings`,
        },
      },
      '/dashboard',
    );
    // the socket that feeds the widgets: listen, then load the page again
    page.page.on('websocket', (ws) =>
      ws.on('framereceived', ({ payload }) => {
        const m = /^42\["msg-input:([0-9a-f]+)",(.*)\]$/s.exec(String(payload));
        if (m) sent.set(m[1], [...(sent.get(m[1]) ?? []), JSON.parse(m[2]) as Frame]);
      }),
    );
    await page.page.reload();
    await page.page.waitForSelector(`#nrdb-ui-widget-${OVERVIEW}`);
    // what the first load was doing when it was left (its favicon, say) is not the page's fault
    page.errors.length = 0;
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) {
      await page.screenshot(
        `failed-dashboard-${this.currentTest.title.replace(/\W+/g, '-').slice(0, 50)}`,
        undefined,
        true,
      );
      console.log(`    browser errors: ${JSON.stringify(page.errors)}`);
    }
  });

  after(async () => {
    await page?.close();
    await clearSession(SHARED_MQTT_URL, prefix);
    await db?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('turns its counters and charts from zero to what PostgreSQL holds when a dataset lands', async () => {
    await waitFor('the overview of an empty database', async () =>
      (await figure('files').textContent()) === '0' ? true : undefined,
    );
    assert.equal(await figure('rows').textContent(), '0');
    assert.equal(await figure('run').textContent(), '–');
    assert.deepEqual(page.errors, []);

    copyFileSync(
      join(DATASETS, 'university_mental_health_iot_dataset.csv'),
      join(work, 'landing', 'campus.csv'),
    );
    await waitFor(
      'the run complete and gold written',
      async () => {
        const [r] = await query<{ status: string; gold: number }>(
          db.url,
          `SELECT (SELECT status FROM medallion.runs LIMIT 1) AS status,
                  (SELECT count(*)::int FROM gold.metric_windows) AS gold`,
        );
        return r.status === 'complete' && r.gold > 0 ? true : undefined;
      },
      90_000,
    );
    const [expected] = await query<{ bronze: number; silver: number; quarantined: number }>(
      db.url,
      `SELECT (SELECT count(*)::int FROM bronze.records) AS bronze,
              (SELECT count(*)::int FROM silver.environment_readings) AS silver,
              (SELECT count(*)::int FROM silver.quarantine) AS quarantined`,
    );
    assert.ok(expected.bronze > 0 && expected.quarantined > 0, JSON.stringify(expected));
    const number = (n: number) => n.toLocaleString('en-US');
    const valid = Math.round((1000 * expected.silver) / (expected.silver + expected.quarantined)) / 10;
    const want = {
      files: '1',
      rows: number(expected.bronze),
      quarantined: number(expected.quarantined),
      valid: `${number(valid)} %`,
      run: 'complete',
    };
    // one refresh shows them all: bronze is done before quarantine is, so wait for the whole card set
    const seen = async () => {
      const figures = await el(OVERVIEW)
        .locator('[data-figure]')
        .evaluateAll((cards) =>
          Object.fromEntries(
            cards.map((c) => [
              c.getAttribute('data-figure'),
              c.querySelector('.medallion-value')!.textContent,
            ]),
          ),
        );
      return Object.fromEntries(Object.keys(want).map((k) => [k, figures[k]]));
    };
    await waitFor('the overview of the file', async () =>
      JSON.stringify(await seen()) === JSON.stringify(want) ? true : undefined,
    ).catch(async (err: Error) => {
      throw new Error(
        `${err.message}: shows ${JSON.stringify(await seen())}, expected ${JSON.stringify(want)}`,
      );
    });

    // the charts got points: rows per minute into bronze, gold's windows, the anomalies
    const latest = (id: string) =>
      (sent.get(id) ?? []).at(-1)?.payload as Array<Record<string, unknown>> | undefined;
    await waitFor('the ingestion rate drawn', async () =>
      latest(RATE)?.some((p) => p.layer === 'bronze' && Number(p.y) > 0) ? true : undefined,
    );
    await waitFor('gold drawn', async () => (latest(GOLD)?.length ? true : undefined));
    assert.ok(latest(GOLD)!.every((p) => typeof p.y === 'number' && typeof p.location === 'string'));
    await waitFor('anomalies drawn', async () => (latest(ANOMALY_CHART)?.length ? true : undefined));
    await waitFor('the run in the runs table', async () =>
      (await total(el(RUNS))) === 1 ? true : undefined,
    );
    await waitFor('quarantine by rule', async () => ((await total(el(RULES))) > 0 ? true : undefined));
    await page.screenshot('dashboard', undefined, true);
    assert.deepEqual(page.errors, []);
  });

  it('lists fewer anomalies as the threshold slider goes up, and more as it comes down', async () => {
    const stored = async (threshold: number) =>
      // the list holds the week up to the newest anomaly
      (
        await query<{ n: number }>(
          db.url,
          `SELECT count(*)::int AS n FROM gold.anomalies
            WHERE abs(score) >= $1 AND ts > (SELECT max(ts) FROM gold.anomalies) - interval '7 days'`,
          [threshold],
        )
      )[0].n;
    const all = await stored(3);
    assert.ok(all > 0, 'the dataset has anomalies');
    await waitFor('every anomaly listed', async () =>
      (await total(el(ANOMALIES))) === all ? true : undefined,
    );

    const slide = async (to: number) => {
      // a click on the track where `to` is, as an operator drags the thumb there (the slider runs 1 to 8)
      const track = el(SLIDER).locator('.v-slider-track');
      await track.scrollIntoViewIfNeeded();
      const box = (await track.boundingBox())!;
      await page.page.mouse.click(box.x + (box.width * (to - 1)) / 7, box.y + box.height / 2);
      const value = Number(await el(SLIDER).locator('[role=slider]').getAttribute('aria-valuenow'));
      assert.ok(Math.abs(value - to) <= 0.5, `the slider at ${value}`);
      const expected = await stored(value);
      await waitFor(`${expected} anomalies at |score| ≥ ${value}`, async () =>
        (await total(el(ANOMALIES))) === expected ? expected : undefined,
      );
      return expected;
    };
    const higher = await slide(4);
    assert.ok(higher < all, `${higher} of ${all} anomalies at 4`);
    assert.equal(await slide(3), all);
    assert.deepEqual(page.errors, []);
  });

  it("sets the anomaly node's msg.threshold from the slider, for the batches to come", () => {
    const node = (id: string) => BUNDLED.find((n) => n.id === id)!;
    const to = node(SLIDER).wires![0].map(node);
    const change = to.find(
      (n) => n.type === 'change' && (n.wires?.[0] ?? []).some((id) => node(id).type === 'medallion-anomaly'),
    );
    assert.deepEqual(change?.rules, [{ t: 'move', p: 'payload', pt: 'msg', to: 'threshold', tot: 'msg' }]);
  });

  it('exports the table chosen as the CSV of exactly the rows it shows', async () => {
    const table = el(ROWS);
    const check = async (report: string, count: number) => {
      await waitFor(`${report} in the table`, async () =>
        (await total(table)) === count ? true : undefined,
      );
      const { columns, rows } = await shown(table);
      const csv = await exported();
      assert.match(csv.name, new RegExp(`^${report}-\\d{8}T\\d{6}Z\\.csv$`));
      assert.deepEqual(csv.rows[0], columns, 'the same columns');
      assert.equal(csv.rows.length - 1, count, 'every row of the table, not only its first page');
      assert.deepEqual(csv.rows.slice(1, 1 + rows.length), rows, 'the rows shown');
      return columns;
    };
    const [counts] = await query<{ silver: number; quarantine: number }>(
      db.url,
      `SELECT (SELECT count(*)::int FROM silver.environment_readings) AS silver,
              (SELECT count(*)::int FROM silver.quarantine) AS quarantine`,
    );
    const silver = await check('silver', Math.min(100, counts.silver));
    assert.ok(silver.includes('quality_score'), silver.join());
    await pick(TABLE_CHOICE, 'quarantine');
    const quarantine = await check('quarantine', Math.min(100, counts.quarantine));
    assert.ok(quarantine.includes('rules') && quarantine.includes('detail'), quarantine.join());
    assert.deepEqual(page.errors, []);
  });

  it('redraws the gold chart for the metric chosen', async () => {
    // the options are the metrics gold has
    await pick(METRIC, 'humidity_percent');
    await waitFor('humidity per location', async () => {
      const points = (sent.get(GOLD) ?? []).at(-1)?.payload as Array<{ metric: string }> | undefined;
      return points?.length && points.every((p) => p.metric === 'humidity_percent') ? true : undefined;
    });
    assert.deepEqual(page.errors, []);
  });
});
