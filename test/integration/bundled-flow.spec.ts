/**
 * flows/medallion.json itself, as `npm start` deploys it (its `${…}` settings from the
 * environment), with the real datasets dropped into its landing folder: bronze, silver,
 * quarantine and the runs hold what the tests compute independently from the files,
 * and dropping the same files again changes nothing. The debug nodes become helper
 * nodes, so the tests read what they would show: "files" (watch-folder's outcomes),
 * "refused" and "not stored" (rows the database refused).
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeMessage } from 'node-red';
import type { FileOutcome } from '../../lib/files/landing-watcher';
import { debugNode, loadBundled } from '../support/bundled';
import {
  DATASETS,
  expectCampus,
  expectedRun,
  expectIotTemp,
  seedQueries,
  type Expected,
} from '../support/datasets';
import { goldMismatches } from '../support/gold';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { helper, messages } from '../support/flow';

type Outcome = NodeMessage & { payload: FileOutcome };

describe('the bundled flow (flows/medallion.json) with the real datasets', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let work: string;
  let restore: () => void = () => undefined;

  beforeEach(async () => {
    db = await createTestDatabase('bundled');
    work = mkdtempSync(join(tmpdir(), 'medallion-bundled-'));
  });
  afterEach(async () => {
    await helper.unload();
    restore();
    rmSync(work, { recursive: true, force: true });
    await db.drop();
  });

  async function load() {
    const loaded = await loadBundled(db.url, work);
    restore = loaded.restore;
    return loaded.seen;
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
    const landing = join(work, 'landing');
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
    const written = readdirSync(join(work, 'quarantine'));
    assert.ok(
      written.some((f) => f.endsWith('.rejected.csv')) && written.some((f) => f.endsWith('.errors.json')),
    );
    assert.deepEqual(
      seen,
      {
        'Bronze: refused (files)': [],
        'Bronze: refused (MQTT)': [],
        'Silver: not stored': [],
        'Gold: not stored': [],
      },
      'the database refused no row',
    );

    // gold: every window of both files (1 hour and 1 day, as the flow's aggregate has it) is what SQL
    // recomputes from silver, and silver has no window gold lacks
    const gold = await goldMismatches(db.url, [3600, 86400]);
    assert.deepEqual(gold.mismatches, []);
    assert.ok(gold.windows > 1000, `${gold.windows} windows`);

    // seed 004's own analysis queries run verbatim on the views over silver and gold
    const queries = seedQueries('004');
    assert.equal(queries.length, 6, "seed 004's README has six queries");
    for (const sql of queries) {
      const rows = await query(db.url, sql);
      assert.ok(rows.length > 0, `no rows from:\n${sql}`);
    }
    const [temps] = await query<{ n: number; rooms: number }>(
      db.url,
      `SELECT count(*)::int AS n, count(DISTINCT "room_id/id")::int AS rooms FROM cleaneddata_iot_sensors
        WHERE "out/in" IN ('In', 'Out') AND noted_date IS NOT NULL AND data_quality_score BETWEEN 0 AND 1`,
    );
    assert.deepEqual(temps, { n: files[0][1].distinct, rooms: 1 }, "seed 000's columns over silver");

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
