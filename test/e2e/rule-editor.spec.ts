import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROFILES } from '../../lib/validate/profiles';
import { parseRuleSet } from '../../lib/validate/rules';
import { openEditor, type Editor } from '../support/editor';
import { poll } from '../support/processes';

/** The editor's client API, as far as this test uses it (it runs in the page). */
interface EditorNode {
  rules: string;
  profile: string;
  valid: boolean;
}
declare const RED: {
  view: { importNodes(nodes: object[]): void };
  nodes: {
    node(id: string): EditorNode;
    getType(type: string): {
      defaults: { rules: { validate(this: object, v: string, opt: object): boolean | string } };
    };
  };
  editor: { edit(node: EditorNode): void };
  utils: { getNodeLabel(node: EditorNode): string };
};

/** A rule set as the form writes it: what is set, no defaults (required: false) spelled out. */
const airQuality = {
  name: 'air-quality-uci',
  version: 'air-quality-uci/1',
  timezone: 'UTC',
  key: ['ts', 'location_id'],
  table: 'readings',
  time: 'ts',
  location: 'location_id',
  fields: [
    { field: 'ts', join: ['Date', 'Time'], type: 'timestamp', formats: ['dd/mm/yyyy HH.MM.SS'] },
    { field: 'location_id', constant: 'AirQualityUCI', type: 'string', required: true },
    {
      field: 'co_mg_m3',
      from: 'CO(GT)',
      type: 'number',
      min: 0,
      max: 50,
      missing: ['-200'],
      decimalComma: true,
      unit: 'mg/m³',
      metric: true,
    },
  ],
};

const pasted = {
  name: 'pasted',
  version: 'pasted/1',
  key: ['id'],
  table: 'temperature_readings',
  fields: [{ field: 'id', type: 'string', required: true }],
};

describe('validate rule editor (Node-RED editor in Chromium)', function () {
  this.timeout(90_000);
  let editor: Editor;

  before(async () => {
    editor = await openEditor({ flows: [{ id: 't1', type: 'tab', label: 'rules' }] });
  });
  after(() => editor?.close());

  it('edits a custom rule set as a table: start from a profile, checks, a derived field, export, import, deploy', async () => {
    const { page, nodeRed } = editor;
    const rows = page.locator('#medallion-rules-fields .medallion-rule');
    const row = (i: number) => rows.nth(i);
    const status = page.locator('#medallion-rules-status');
    const topTray = () => page.locator('.red-ui-tray').last();

    await page.evaluate(() => {
      RED.view.importNodes([
        {
          id: 'v1',
          type: 'medallion-validate',
          z: 't1',
          x: 200,
          y: 120,
          profile: 'iot-temp',
          rules: '',
          wires: [[], []],
        },
      ]);
      RED.editor.edit(RED.nodes.node('v1'));
    });
    await page.selectOption('#node-input-profile', 'custom');
    await page.waitForSelector('#medallion-rules-start option[value="iot-environment"]', {
      state: 'attached',
    });
    await page.waitForFunction(() => document.querySelector('#medallion-rules-status')?.textContent !== '');
    assert.match(await status.innerText(), /Start from a built-in profile/);

    // start from iot-environment: a copy, renamed, its version bumped
    await page.selectOption('#medallion-rules-start', 'iot-environment');
    await page.click('#medallion-rules-load');
    const profile = parseRuleSet(PROFILES['iot-environment']);
    await page.waitForFunction(
      (n) => document.querySelectorAll('#medallion-rules-fields .medallion-rule').length === n,
      profile.fields.length,
    );
    assert.deepEqual(
      await page.$$eval('#medallion-rules-fields .medallion-rule-field', (inputs) =>
        inputs.map((i) => (i as HTMLInputElement).value),
      ),
      profile.fields.map((f) => f.field),
    );
    assert.equal(await page.inputValue('#medallion-rules-name'), 'iot-environment-custom');
    assert.equal(await page.inputValue('#medallion-rules-version'), 'iot-environment-custom/2');
    assert.equal(await page.inputValue('#medallion-rules-key'), 'location_id, ts');
    assert.equal(await page.inputValue('#medallion-rules-table'), 'environment_readings');
    assert.equal(await row(2).locator('.medallion-rule-field').inputValue(), 'temperature_celsius');
    assert.equal(await row(2).locator('.medallion-rule-min').inputValue(), '-50');
    assert.equal(await row(2).locator('.medallion-rule-max').inputValue(), '60');
    assert.equal(await row(0).locator('.medallion-rule-source').inputValue(), 'timestamp');
    assert.equal(
      await row(0).locator('.medallion-rule-formats').inputValue(),
      'yyyy-mm-dd HH:MM:SS | yyyy-mm-dd HH:MM',
    );
    await page.waitForFunction(() =>
      /accepts/.test(document.querySelector('#medallion-rules-status')!.textContent!),
    );

    // a max below its min: both cells marked at once, the runtime's message on Check
    await row(2).locator('.medallion-rule-max').fill('-60');
    await row(2).locator('.medallion-rule-max.input-error').waitFor();
    await row(2).locator('.medallion-rule-min.input-error').waitFor();
    assert.equal(await status.innerText(), 'temperature_celsius: min (-50) is greater than max (-60)');
    await page.click('#medallion-rules-check');
    await page.waitForFunction(() =>
      /^invalid rule set at fields\.2: min is greater than max$/.test(
        document.querySelector('#medallion-rules-status')!.textContent!,
      ),
    );
    await editor.screenshot('rule-editor-min-max');
    await row(2).locator('.medallion-rule-max').fill('55');
    await page.waitForFunction(() =>
      /accepts/.test(document.querySelector('#medallion-rules-status')!.textContent!),
    );
    assert.equal(await page.locator('.medallion-rules-section .input-error').count(), 0);

    // a derived field: Date + Time joined, as AirQualityUCI has them
    await page.click('.medallion-rules-list-row .red-ui-editableList-addButton');
    const added = row(profile.fields.length);
    await added.waitFor();
    await added.locator('.medallion-rule-field').fill('measured_at');
    await added.locator('.medallion-rule-kind').selectOption('join');
    await added.locator('.medallion-rule-source').fill('Date, Time');
    await added.locator('.medallion-rule-type').selectOption('timestamp');
    await added.locator('.medallion-rule-formats').fill('dd/mm/yyyy HH.MM.SS');
    await added.locator('.medallion-rule-timezone').fill('Europe/Rome');
    await page.waitForFunction(() =>
      /accepts/.test(document.querySelector('#medallion-rules-status')!.textContent!),
    );
    await editor.screenshot('rule-editor-derived-field');

    // export: the JSON in a read-only editor, with copy and download
    await page.click('#medallion-rules-export');
    await page.waitForSelector('#medallion-rules-download');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('#medallion-rules-download'),
    ]);
    assert.equal(download.suggestedFilename(), 'iot-environment-custom.json');
    const exported = JSON.parse(readFileSync((await download.path())!, 'utf8'));
    const asFormWrites = profile.fields.map(({ required, ...f }) => (required ? { ...f, required } : f));
    asFormWrites[2] = { ...asFormWrites[2], max: 55 };
    assert.deepEqual(exported, {
      ...profile,
      name: 'iot-environment-custom',
      version: 'iot-environment-custom/2',
      fields: [
        ...asFormWrites,
        {
          field: 'measured_at',
          join: ['Date', 'Time'],
          type: 'timestamp',
          formats: ['dd/mm/yyyy HH.MM.SS'],
          timezone: 'Europe/Rome',
        },
      ],
    });
    await topTray().locator('#node-dialog-cancel').click();
    await page.waitForSelector('#medallion-rules-download', { state: 'detached' });

    // import: pasted JSON replaces the table …
    await page.click('#medallion-rules-import');
    await topTray().locator('#node-input-json').click();
    await page.keyboard.insertText(JSON.stringify(pasted));
    await topTray().locator('#node-dialog-ok:not(.disabled)').click();
    await page.waitForFunction(
      () => document.querySelectorAll('#medallion-rules-fields .medallion-rule').length === 1,
    );
    assert.equal(await page.inputValue('#medallion-rules-name'), 'pasted');
    assert.equal(await page.inputValue('#medallion-rules-table'), 'temperature_readings');
    assert.equal(await row(0).locator('.medallion-rule-required').isChecked(), true);

    // … and so does a file
    await page.setInputFiles('#medallion-rules-file', {
      name: 'air.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(airQuality, null, 2)),
    });
    await page.waitForFunction(
      () => document.querySelectorAll('#medallion-rules-fields .medallion-rule').length === 3,
    );
    assert.equal(await page.inputValue('#medallion-rules-name'), 'air-quality-uci');
    assert.equal(await row(0).locator('.medallion-rule-kind').inputValue(), 'join');
    assert.equal(await row(0).locator('.medallion-rule-source').inputValue(), 'Date, Time');
    assert.equal(await row(1).locator('.medallion-rule-kind').inputValue(), 'constant');
    assert.equal(await row(1).locator('.medallion-rule-source').inputValue(), 'AirQualityUCI');
    assert.equal(await row(2).locator('.medallion-rule-decimalComma').isChecked(), true);
    assert.equal(await row(2).locator('.medallion-rule-missing').inputValue(), '-200');
    await page.waitForFunction(() =>
      /accepts/.test(document.querySelector('#medallion-rules-status')!.textContent!),
    );
    await editor.screenshot('rule-editor-imported');

    // Done: the node keeps the table as compact JSON, labelled by the rule set's name
    await topTray().locator('#node-dialog-ok').click();
    await page.waitForSelector('#medallion-rules-fields', { state: 'detached' });
    const saved = await page.evaluate(() => {
      const node = RED.nodes.node('v1');
      return {
        rules: node.rules,
        profile: node.profile,
        valid: node.valid,
        label: RED.utils.getNodeLabel(node),
      };
    });
    assert.equal(saved.profile, 'custom');
    assert.equal(saved.rules, JSON.stringify(JSON.parse(saved.rules)), 'compact');
    assert.deepEqual(JSON.parse(saved.rules), airQuality);
    assert.equal(saved.valid, true);
    assert.equal(saved.label, 'validate: air-quality-uci');

    // the same checks give the reason a node is invalid (called as Node-RED does, with options)
    const verdicts = await page.evaluate(
      (rs) => {
        const validate = RED.nodes.getType('medallion-validate').defaults.rules.validate;
        const co = rs.fields[2];
        const texts = [
          JSON.stringify(rs),
          '{"name":',
          JSON.stringify({ ...rs, key: ['ts', 'station'] }),
          JSON.stringify({ ...rs, fields: [rs.fields[0], rs.fields[1], { ...co, min: 'low' }] }),
          JSON.stringify({ ...rs, fields: [rs.fields[0], rs.fields[0]] }),
        ];
        return texts
          .map((v) => validate.call({ profile: 'custom' }, v, {}))
          .concat(validate.call({ profile: 'iot-temp' }, '', {}));
      },
      airQuality as typeof airQuality & { fields: Array<Record<string, unknown>> },
    );
    assert.deepEqual(verdicts, [
      true,
      'the rule set is not valid JSON',
      'key field "station" is not one of the fields',
      'co_mg_m3: min is not a number',
      'field "ts" is defined twice',
      true,
    ]);

    // deploy: the runtime takes the rule set (no red status, no error)
    const before = nodeRed.process.output().length;
    await page.click('#red-ui-header-button-deploy');
    await poll(
      async () => (nodeRed.process.output().slice(before).includes('Started flows') ? true : undefined),
      15_000,
      'the deployed flows to start',
    );
    const log = nodeRed.process.output().slice(before);
    assert.doesNotMatch(log, /\[error\]|rule set/);
    const flows = JSON.parse(readFileSync(join(nodeRed.userDir, 'flows.json'), 'utf8')) as EditorNode[];
    const deployed = flows.find((n) => (n as unknown as { id: string }).id === 'v1');
    assert.deepEqual(JSON.parse(deployed!.rules), airQuality);
    assert.equal(
      await page.locator('.red-ui-flow-node-status-ring-red, .red-ui-flow-node-status-dot-red').count(),
      0,
    );
    await editor.screenshot('rule-editor-deployed');
    assert.deepEqual(editor.errors, []);
  });

  it('keeps stored rules it cannot read until the table is used, and shows the node as invalid', async () => {
    const { page } = editor;
    await page.evaluate(() => {
      RED.view.importNodes([
        {
          id: 'v2',
          type: 'medallion-validate',
          z: 't1',
          x: 200,
          y: 220,
          profile: 'custom',
          rules: '{"name":',
          wires: [[], []],
        },
      ]);
      RED.editor.edit(RED.nodes.node('v2'));
    });
    await page.waitForFunction(() =>
      /^the stored rule set is not a rule set in JSON/.test(
        document.querySelector('#medallion-rules-status')!.textContent!,
      ),
    );
    assert.equal(await page.locator('#medallion-rules-fields .medallion-rule').count(), 0);
    await page.locator('.red-ui-tray').last().locator('#node-dialog-ok').click();
    await page.waitForSelector('#medallion-rules-fields', { state: 'detached' });
    const saved = await page.evaluate(() => {
      const node = RED.nodes.node('v2');
      return { rules: node.rules, valid: node.valid };
    });
    assert.deepEqual(saved, { rules: '{"name":', valid: false });
    assert.deepEqual(editor.errors, []);
  });
});
