/**
 * flows/medallion.json itself, as `npm start` deploys it (its `${…}` settings from the
 * environment), with the real datasets dropped into its landing folder: bronze, silver,
 * quarantine and the runs hold what the tests compute independently from the files,
 * and dropping the same files again changes nothing. The debug nodes become helper
 * nodes, so the tests read what they would show: "files" (watch-folder's outcomes),
 * "refused" and "not stored" (rows the database refused).
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { NodeMessage } from 'node-red';
import type { FileOutcome } from '../../lib/files/landing-watcher';
import pgConfigNode from '../../nodes/pg-config/pg-config';
import pgWriteNode from '../../nodes/pg-write/pg-write';
import quarantineNode from '../../nodes/quarantine/quarantine';
import validateNode from '../../nodes/validate/validate';
import watchFolderNode from '../../nodes/watch-folder/watch-folder';
import { DATASETS, expectCampus, expectedRun, expectIotTemp, type Expected } from '../support/datasets';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { helper, messages } from '../support/flow';
import type { FlowNode } from '../support/landing-flow';

/* eslint-disable @typescript-eslint/no-require-imports -- Node-RED's core nodes are CommonJS modules */
const CORE = ['common/20-inject', 'common/90-comment', 'function/10-function', 'function/10-switch'].map(
  (m) => require(`@node-red/nodes/core/${m}.js`),
);
/* eslint-enable @typescript-eslint/no-require-imports */

const BUNDLED: FlowNode[] = JSON.parse(
  readFileSync(resolve(__dirname, '..', '..', 'flows', 'medallion.json'), 'utf8'),
);
type Outcome = NodeMessage & { payload: FileOutcome };

/** The bundled flow, its debug nodes as helper nodes. */
function bundledFlow(): FlowNode[] {
  return BUNDLED.map((n) =>
    n.type === 'debug' ? { id: n.id, z: n.z, g: n.g, type: 'helper', name: n.name } : n,
  );
}

/** The id of the bundled flow's debug node named `name` in the group labelled `group`. */
function debugNode(group: string, name: string): string {
  const g = BUNDLED.find((n) => n.type === 'group' && n.name === group)!;
  return BUNDLED.find((n) => n.type === 'debug' && n.g === g.id && n.name === name)!.id;
}

describe('the bundled flow (flows/medallion.json) with the real datasets', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let work: string;
  const saved = { ...process.env };

  beforeEach(async () => {
    db = await createTestDatabase('bundled');
    work = mkdtempSync(join(tmpdir(), 'medallion-bundled-'));
    process.env.DATABASE_URL = db.url;
    process.env.MEDALLION_LANDING = join(work, 'landing');
    process.env.MEDALLION_QUARANTINE = join(work, 'quarantine');
    process.env.MEDALLION_INSTANCE = 'bundled-test';
    mkdirSync(process.env.MEDALLION_LANDING); // as `npm start` does before Node-RED starts
  });
  afterEach(async () => {
    await helper.unload();
    for (const k of ['DATABASE_URL', 'MEDALLION_LANDING', 'MEDALLION_QUARANTINE', 'MEDALLION_INSTANCE']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    rmSync(work, { recursive: true, force: true });
    await db.drop();
  });

  /** Loads the flow; returns the messages each debug node of the landing and silver groups gets. */
  async function load() {
    await helper.load(
      [...CORE, pgConfigNode, pgWriteNode, watchFolderNode, validateNode, quarantineNode],
      bundledFlow(),
    );
    const seen: Record<string, NodeMessage[]> = {};
    for (const [group, name] of [
      ['Landing (files)', 'refused'],
      ['Silver', 'not stored'],
    ]) {
      const got: NodeMessage[] = (seen[name] = []);
      (helper.getNode(debugNode(group, name)) as unknown as NodeJS.EventEmitter).on(
        'input',
        (m: NodeMessage) => got.push(m),
      );
    }
    return seen;
  }

  /** What the tables hold of one file (by its content key). */
  async function stored(sha256: string) {
    const [row] = await query<Record<string, number>>(
      db.url,
      `SELECT (SELECT count(*)::int FROM bronze.records WHERE source_key = $1) AS bronze,
              (SELECT count(*)::int FROM silver.temperature_readings WHERE source_key = $1)
                + (SELECT count(*)::int FROM silver.environment_readings WHERE source_key = $1) AS silver,
              (SELECT count(*)::int FROM silver.quarantine WHERE source_key = $1) AS quarantine`,
      [sha256],
    );
    return row;
  }

  async function run(runId: string) {
    const [row] = await query<Record<string, string | number>>(
      db.url,
      `SELECT status, rows_read::int, rows_skipped::int, rows_inserted::int, rows_duplicate::int,
              rows_quarantined::int FROM medallion.runs WHERE run_id = $1`,
      [runId],
    );
    return row;
  }

  it('lands IOT-temp.csv and the campus sensors in bronze, silver and quarantine, and a second drop changes nothing', async () => {
    const seen = await load();
    const probe = debugNode('Landing (files)', 'files');
    const files: Array<[string, Expected]> = [
      ['IOT-temp.csv', expectIotTemp(join(DATASETS, 'IOT-temp.csv'))],
      [
        'university_mental_health_iot_dataset.csv',
        expectCampus(join(DATASETS, 'university_mental_health_iot_dataset.csv')),
      ],
    ];
    const landing = process.env.MEDALLION_LANDING!;
    const outcomes = messages<Outcome>(probe, files.length, 90_000);
    for (const [name] of files) copyFileSync(join(DATASETS, name), join(landing, name));
    const byName = new Map((await outcomes).map((m) => [m.payload.file, m.payload]));

    const before: Record<string, Record<string, number>> = {};
    for (const [name, expected] of files) {
      const file = byName.get(name)!;
      assert.equal(file.state, 'loaded', `${name}: ${file.error}`);
      const records = expected.valid + expected.invalid;
      assert.deepEqual(await run(file.runId!), expectedRun(expected), name);
      before[name] = await stored(file.sha256!);
      assert.deepEqual(
        before[name],
        { bronze: records, silver: expected.distinct, quarantine: expected.invalid },
        name,
      );
      assert.ok(existsSync(join(landing, 'processed', name)), `${name} archived`);
    }
    // the quarantine node wrote its files into MEDALLION_QUARANTINE, one pair per batch with rejects
    const written = readdirSync(process.env.MEDALLION_QUARANTINE!);
    assert.ok(
      written.some((f) => f.endsWith('.rejected.csv')) && written.some((f) => f.endsWith('.errors.json')),
    );
    assert.deepEqual(seen, { refused: [], 'not stored': [] }, 'the database refused no row');

    // the same content again, under other names: recognised, nothing stored twice
    const again = messages<Outcome>(probe, files.length, 60_000);
    for (const [name] of files) copyFileSync(join(DATASETS, name), join(landing, `again-${name}`));
    for (const m of await again) assert.equal(m.payload.state, 'duplicate', m.payload.file);
    for (const [name] of files) {
      assert.deepEqual(await stored(byName.get(name)!.sha256!), before[name], `${name} unchanged`);
    }
    const [{ runs }] = await query<{ runs: number }>(
      db.url,
      'SELECT count(*)::int AS runs FROM medallion.runs',
    );
    assert.equal(runs, files.length, 'a duplicate starts no run');
  });
});
