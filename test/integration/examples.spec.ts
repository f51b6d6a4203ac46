/**
 * examples/*.json, what Import ▸ Examples ▸ node-red-iot-medallion offers: each file is
 * checked as a flow (core and pack nodes only, references that resolve, a comment that
 * explains it) and run for real in one Node-RED with the pack: deployed in turn on an
 * emptied database, its inject nodes pressed, and what its comment promises asserted in
 * PostgreSQL, in its folders, or in what its debug nodes show. An example without a check
 * of its own (a file with many flows) must deploy and run its injects without node errors.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { clearSession, client, SHARED_MQTT_URL } from '../support/mqtt';
import { startNodeRed, type RunningNodeRed } from '../support/node-red';
import { httpGet, httpPost, poll } from '../support/processes';

const repo = resolve(__dirname, '..', '..');
const examplesDir = join(repo, 'examples');
const files = readdirSync(examplesDir)
  .filter((f) => f.endsWith('.json'))
  .sort();
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  name: string;
  'node-red': { nodes: Record<string, string> };
};

interface FlowNode {
  id: string;
  type: string;
  z?: string;
  x?: number;
  y?: number;
  name?: string;
  wires?: string[][];
  [key: string]: unknown;
}

interface NodeSet {
  id: string;
  module: string;
  types: string[];
}

const HEX_ID = /^[0-9a-f]{16}$/;
const TAB = 'e0a1b2c3d4ff0000';
/**
 * The test's own watchers, added to each example: a status node and a catch node (all nodes),
 * each with a debug node that prints what it gets to the log.
 */
const WATCHERS = [
  { kind: 'status', complete: 'status', name: 'node status', ids: ['e0a1b2c3d4ff0001', 'e0a1b2c3d4ff0002'] },
  { kind: 'catch', complete: 'error', name: 'node errors', ids: ['e0a1b2c3d4ff0003', 'e0a1b2c3d4ff0004'] },
];
/** Types that are not nodes of a palette but may appear in a flow file. */
const FLOW_TYPES = ['tab', 'group'];
const MQTT_TOPIC_TYPES = ['mqtt in', 'mqtt out', 'medallion-mqtt-ingest', 'medallion-simulator'];

const load = (file: string) => JSON.parse(readFileSync(join(examplesDir, file), 'utf8')) as FlowNode[];
/** Nodes drawn on a tab (config nodes have no position). */
const onCanvas = (n: FlowNode) => n.x !== undefined && n.y !== undefined;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Every id a node refers to: its wires and any other property (or list) holding a node id. */
function references(n: FlowNode): string[] {
  const refs = (n.wires ?? []).flat();
  for (const [key, value] of Object.entries(n)) {
    if (key === 'id' || key === 'wires') continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v === 'string' && HEX_ID.test(v)) refs.push(v);
    }
  }
  return refs;
}

/** An example deployed in the Node-RED of this file. */
interface Run {
  nodes: FlowNode[];
  /** Presses the inject node called `name` (POST /inject/<id>). */
  press(name: string): Promise<void>;
  /** What the debug node called `name` has shown since the deploy, one entry per message. */
  debug(name: string): string[];
  waitForDebug(name: string, count: number, ms?: number): Promise<string[]>;
  /** Waits for a node of the example to show a status matching `pattern` (a status node reports them). */
  waitForStatus(pattern: RegExp): Promise<void>;
  /** Rows of `sql` once `ready` accepts them. */
  rowsWhen<T extends object>(sql: string, ready: (rows: T[]) => boolean, what: string): Promise<T[]>;
}

/** What an example's comment promises, pressed and asserted. */
interface Check {
  title: string;
  /** Edits a user makes before deploying (a placeholder filled in). */
  edit?: (nodes: FlowNode[]) => void;
  run: (r: Run) => Promise<void>;
  /** Errors (log lines or caught) or warnings the example shows on purpose. */
  expectedErrors?: RegExp[];
}

describe('examples (Import ▸ Examples ▸ node-red-iot-medallion)', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let red: RunningNodeRed;
  let sets: NodeSet[];
  let coreTypes: Set<string>;
  let packTypes: Set<string>;
  let outside: string;
  const prefix = `examples-${randomBytes(4).toString('hex')}`;
  const clientId = `medallion-${prefix}`;

  before(async () => {
    db = await createTestDatabase('examples');
    outside = mkdtempSync(join(tmpdir(), 'medallion-examples-'));
    red = await startNodeRed({
      env: { DATABASE_URL: db.url, MQTT_URL: SHARED_MQTT_URL, MQTT_CLIENT_ID: `${clientId}-ingest` },
    });
    const res = await httpGet(`${red.base}/nodes`, { Accept: 'application/json' });
    sets = JSON.parse(res.body) as NodeSet[];
    coreTypes = new Set(sets.filter((s) => s.module === 'node-red').flatMap((s) => s.types));
    packTypes = new Set(sets.filter((s) => s.module === pkg.name).flatMap((s) => s.types));
  });

  after(async () => {
    await red?.stop();
    for (const id of [`${clientId}-ingest`, `${clientId}-core`]) await clearSession(SHARED_MQTT_URL, id);
    await db?.drop();
    if (outside) rmSync(outside, { recursive: true, force: true });
  });

  it("is what the editor's Import ▸ Examples dialog lists under the pack", async () => {
    const modules = await httpGet(`${red.base}/library/examples/flows/`);
    assert.ok((JSON.parse(modules.body) as string[]).includes(pkg.name), modules.body);
    const listed = await httpGet(`${red.base}/library/examples/flows/${pkg.name}`);
    assert.deepEqual(
      (JSON.parse(listed.body) as Array<{ fn: string }>).map((e) => `${e.fn}.json`).sort(),
      files,
    );
    const one = await httpGet(`${red.base}/library/examples/flows/${pkg.name}/${files[0].slice(0, -5)}`);
    assert.deepEqual(JSON.parse(one.body), load(files[0]));
  });

  it('has an example of its own for every node of the pack but the config node, which uses it', () => {
    for (const node of Object.keys(pkg['node-red'].nodes).filter((k) => k !== 'pg-config')) {
      const types = sets.find((s) => s.id === `${pkg.name}/${node}`)?.types;
      assert.ok(types?.length, `${node} is registered`);
      assert.ok(files.includes(`${node}.json`), `examples/${node}.json`);
      const used = new Set(load(`${node}.json`).map((n) => n.type));
      assert.ok(
        types.every((t) => used.has(t)),
        `examples/${node}.json uses ${types.join(', ')}`,
      );
    }
  });

  it('gives every node a fixed id of 16 hex digits, unique across all examples', () => {
    const seen = new Map<string, string>();
    for (const file of files) {
      for (const n of load(file)) {
        assert.match(n.id, HEX_ID, `${file}: ${n.type} ${n.id}`);
        assert.equal(seen.get(n.id), undefined, `${file}: id ${n.id} is also in ${seen.get(n.id)}`);
        seen.set(n.id, file);
      }
    }
  });

  it("has the full medallion flow: the bundled flow's core and pack nodes but its dashboard, with plain folders and topic", () => {
    const bundled = JSON.parse(readFileSync(join(repo, 'flows', 'medallion.json'), 'utf8')) as FlowNode[];
    // the Dashboard group needs Dashboard 2.0, which a stock Node-RED does not have
    const dashboard = bundled.find((n) => n.type === 'group' && n.name === 'Dashboard')!.id;
    const keep = new Set(
      bundled
        .filter((n) => n.id !== dashboard && n.g !== dashboard)
        .filter((n) => FLOW_TYPES.includes(n.type) || coreTypes.has(n.type) || packTypes.has(n.type))
        .map((n) => n.id),
    );
    // what `npm start` fills in from the environment, a stock Node-RED has as plain values
    const plain: Record<string, string> = {
      '${MEDALLION_LANDING}': 'landing',
      '${MEDALLION_QUARANTINE}': 'quarantine',
      '${MQTT_TOPIC}': 'sensors/+/readings',
    };
    const expected = bundled
      .filter((n) => keep.has(n.id))
      .map((n) => {
        const m: FlowNode = { ...n };
        if (m.wires) m.wires = m.wires.map((w) => w.filter((id) => keep.has(id)));
        if (Array.isArray(m.nodes)) m.nodes = (m.nodes as string[]).filter((id) => keep.has(id));
        for (const k of ['folder', 'topics']) if (typeof m[k] === 'string' && plain[m[k]]) m[k] = plain[m[k]];
        return m;
      });
    assert.deepEqual(load('medallion.json'), expected);
  });

  const checks: Record<string, Check> = {
    aggregate: {
      title: 'keeps gold.metric_windows equal to silver, a late reading included',
      async run(r) {
        const windows = `SELECT location_id, metric, to_char(window_start AT TIME ZONE 'UTC', 'HH24:MI') AS hour,
                                count, min, max, round(avg::numeric, 2)::float AS avg,
                                round(stddev::numeric, 3)::float AS stddev
                           FROM gold.metric_windows ORDER BY location_id, metric, window_start`;
        type Window = { location_id: string; metric: string; hour: string; count: number; avg: number };
        await r.press('six readings of two rooms');
        const first = await r.rowsWhen<Window>(windows, (w) => w.length === 6, 'six windows');
        assert.deepEqual(
          first.filter((w) => w.metric === 'temperature_celsius').map((w) => Object.values(w).slice(2)),
          [
            // hour, count, min, max, avg, stddev
            ['08:00', 3, 21, 22.1, 21.57, 0.551],
            ['09:00', 1, 22.4, 22.4, 22.4, null],
            ['08:00', 2, 19.5, 20.1, 19.8, 0.424],
          ],
        );
        assert.deepEqual(
          first.map((w) => w.location_id),
          ['101', '101', '101', '101', '102', '102'],
        );
        await r.press('a late reading at 08:45');
        const late = await r.rowsWhen<Window>(
          windows,
          (w) => w.some((x) => x.metric === 'temperature_celsius' && x.hour === '08:00' && x.count === 4),
          'the late reading counted',
        );
        assert.deepEqual(
          late
            .filter((w) => w.location_id === '101' && w.hour === '08:00')
            .map((w) => [w.metric, w.count, w.avg]),
          [
            ['humidity_percent', 4, 41.75],
            ['temperature_celsius', 4, 22],
          ],
        );
        await r.press('six readings of two rooms');
        await r.waitForDebug('gold windows', 3);
        const differing = await query(
          db.url,
          `WITH s AS (SELECT location_id, ts, 'temperature_celsius' AS metric, temperature_celsius AS v
                        FROM silver.environment_readings
                      UNION ALL
                      SELECT location_id, ts, 'humidity_percent', humidity_percent FROM silver.environment_readings),
                w AS (SELECT location_id, metric, date_bin('1 hour', ts, 'epoch') AS window_start, count(v) AS count,
                             min(v), max(v), avg(v), stddev_samp(v) AS stddev
                        FROM s GROUP BY 1, 2, 3)
           SELECT * FROM w FULL JOIN gold.metric_windows g USING (location_id, metric, window_start)
            WHERE w.count IS DISTINCT FROM g.count OR w.min IS DISTINCT FROM g.min OR w.max IS DISTINCT FROM g.max
               OR NOT abs(w.avg - g.avg) < 1e-9 OR NOT coalesce(abs(w.stddev - g.stddev) < 1e-9, w.stddev IS NULL AND g.stddev IS NULL)`,
        );
        assert.deepEqual(differing, [], 'every window is what SQL computes from silver');
      },
    },
    anomaly: {
      title: 'stores the spike in gold.anomalies, and clears it under a higher threshold',
      async run(r) {
        const anomalies = `SELECT to_char(ts AT TIME ZONE 'UTC', 'HH24:MI') AS at, location_id, metric, value,
                                  round(score::numeric, 1)::float AS score FROM gold.anomalies`;
        await r.press('20 minutes of room 101');
        const [spike] = await r.rowsWhen(anomalies, (a) => a.length > 0, 'the spike in gold.anomalies');
        assert.deepEqual(spike, {
          at: '08:14',
          location_id: '101',
          metric: 'temperature_celsius',
          value: 24,
          score: 7.9,
        });
        const [shown] = await r.waitForDebug('anomalies', 1);
        assert.match(shown, /metric: 'temperature_celsius',\s+reading: '',\s+value: 24,/);
        assert.equal((await query(db.url, anomalies)).length, 1, 'the humidity has none');
        assert.equal(r.debug('readings').length, 1, 'output 1 passes the batch on');
        await r.press('threshold 10');
        await r.press('20 minutes of room 101');
        await r.waitForDebug('anomalies', 2);
        await r.rowsWhen(anomalies, (a) => a.length === 0, 'the spike cleared under threshold 10');
      },
    },
    report: {
      title: "reads a metric's windows for a chart, and as CSV",
      async run(r) {
        await r.press('six readings of two rooms');
        await r.rowsWhen(
          'SELECT 1 FROM gold.metric_windows',
          (w) => w.length === 3,
          'three temperature windows in gold',
        );
        await r.press('temperature per hour');
        const [series] = await r.waitForDebug('report rows', 1);
        const points = [...series.matchAll(/location: '(\d+)',\s+x: '([^']+)',\s+y: ([\d.]+)/g)].map((m) => [
          m[1],
          m[2],
          Math.round(Number(m[3]) * 100) / 100,
        ]);
        assert.deepEqual(points, [
          ['101', '2026-01-15T08:00:00.000Z', 21.57],
          ['102', '2026-01-15T08:00:00.000Z', 19.8],
          ['101', '2026-01-15T09:00:00.000Z', 22.4],
        ]);
        await r.press('windows as CSV');
        const [csv] = await r.waitForDebug('csv', 1);
        assert.match(csv, /^location,x,y,min,max,stddev,count,metric\r\n101,2026-01-15T08:00:00.000Z,21.5/);
        assert.match(
          csv,
          /\r\n101,2026-01-15T09:00:00.000Z,22.4,22.4,22.4,,1,temperature_celsius\r\n/,
          'an empty cell for no stddev',
        );
        assert.equal(r.debug('report rows').length, 1);
      },
    },
    'mqtt-batch': {
      title: 'stores readings published to sensors/<device>/readings once, bad ones in quarantine',
      run: (r) => mqttReadingsLandOnce(r, /fill: 'green',[^]*text: 'node-red:common\.status\.connected'/),
    },
    'mqtt-ingest': {
      title: 'stores readings published to sensors/<device>/readings once, bad ones in quarantine',
      run: (r) => mqttReadingsLandOnce(r, /fill: 'green',[^]*text: '[^']*unacked/),
    },
    'pg-write': {
      title: 'stores a batch once, and refuses only the bad row of another',
      async run(r) {
        const lines = 'SELECT line_no::int FROM bronze.records ORDER BY line_no';
        await r.press('a batch of 3 readings');
        await r.rowsWhen(lines, (rows) => rows.length === 3, 'three records in bronze');
        assert.match((await r.waitForDebug('msg.pg', 1))[0], /inserted: 3,/);
        await r.press('a batch of 3 readings');
        assert.match((await r.waitForDebug('msg.pg', 2))[1], /inserted: 0,[^]*conflicted: 3,/);
        await r.press('a batch with a bad line number');
        const [refused] = await r.waitForDebug('refused rows', 1);
        assert.match(refused, /field: 'line_no',[^]*value: 'five',[^]*invalid input syntax for type bigint/);
        const stored = await r.rowsWhen<{ line_no: number }>(
          lines,
          (rows) => rows.length === 4,
          'the good one',
        );
        assert.deepEqual(
          stored.map((s) => s.line_no),
          [1, 2, 3, 4],
        );
        assert.deepEqual(r.debug('error'), [], 'nothing for catch');
      },
    },
    quarantine: {
      title: 'keeps the bad record as files and a row, neutralized, and replays it',
      async run(r) {
        await r.press('a batch with a bad record');
        const rows = await r.rowsWhen<{ silver: number; quarantined: number }>(
          `SELECT (SELECT count(*) FROM silver.temperature_readings)::int AS silver,
                  (SELECT count(*) FROM silver.quarantine)::int AS quarantined`,
          ([c]) => c.silver + c.quarantined === 2,
          'the good record in silver, the bad one in quarantine',
        );
        assert.deepEqual(rows, [{ silver: 1, quarantined: 1 }]);
        const folder = join(red.userDir, 'quarantine');
        const csv = readFileSync(join(folder, 'readings.0.rejected.csv'), 'utf8');
        assert.match(csv, /'=cmd\|/, 'the formula neutralized');
        const errors = JSON.parse(readFileSync(join(folder, 'readings.0.errors.json'), 'utf8')) as unknown;
        assert.match(
          JSON.stringify(errors),
          /"line":3,"field":"ts","rule":"format"[^]*"field":"temp","rule":"max"/,
        );
        await r.press('replay the quarantine');
        await r.rowsWhen<{ replayed: number }>(
          'SELECT count(replayed_at)::int AS replayed FROM silver.quarantine',
          ([q]) => q.replayed === 1,
          'the quarantined record replayed',
        );
        await r.waitForDebug('silver', 2);
        const after = await query(
          db.url,
          `SELECT (SELECT count(*) FROM silver.temperature_readings)::int AS silver,
                  (SELECT count(*) FROM silver.quarantine)::int AS quarantined`,
        );
        assert.deepEqual(after, [{ silver: 1, quarantined: 1 }], 'still invalid: kept once');
      },
    },
    simulator: {
      title: 'sends labelled readings on demand and while started, faults included',
      async run(r) {
        await r.press('100 readings');
        const readings = await r.waitForDebug('readings', 100);
        assert.match(readings[0], /topic: '[^']*sensors\/\d+\/readings',[^]*sim: \{ key: /);
        assert.ok(r.debug('faults').length > 0, 'some readings carry a fault');
        assert.match(r.debug('faults')[0], /fault: '[a-z-]+'/);
        await r.press('start');
        await r.waitForDebug('readings', 103, 5000);
        await r.press('stop');
        await wait(500);
        const stopped = r.debug('readings').length;
        await wait(1000);
        assert.equal(r.debug('readings').length, stopped, 'no reading after stop');
      },
    },
    validate: {
      title: 'sends the valid reading typed on output 1 and the others with their errors on output 2',
      async run(r) {
        await r.press('three readings');
        const [valid] = await r.waitForDebug('valid', 1);
        assert.match(
          valid,
          /id: '__export__\.temp_log_1',[^]*temp: 29,[^]*quality_score: 1,[^]*rule_version: 'iot-temp\/1'/,
        );
        assert.doesNotMatch(valid, /temp_log_[23]/);
        const [errors] = await r.waitForDebug('errors', 1);
        const reasons = [...errors.matchAll(/field: '(\w+)',\s+rule: '(\w+)',\s+value: '([^']*)'/g)];
        assert.deepEqual(
          reasons.map((m) => m.slice(1).join(' ')),
          ['ts format 31-02-2024 10:00', 'temp max 61', 'out_in enum Inside', 'temp type -3,5'],
        );
      },
    },
    'watch-folder': {
      title: 'loads a dropped CSV file into bronze and archives it; a copy, a broken file and a path too',
      expectedErrors: [/message: 'watch-folder: broken\.csv: the file is binary/],
      edit(nodes) {
        // the inject's payload is a placeholder the comment asks to edit
        nodes.find((n) => n.name === 'load one file by path')!.payload = join(outside, 'other.csv');
      },
      async run(r) {
        const landing = join(red.userDir, 'landing');
        const csv =
          'id,room_id/id,noted_date,temp,out/in\nr1,Room Admin,08-12-2018 09:30,29,In\nr2,Room Admin,08-12-2018 09:31,30,Out\n';
        await poll(async () => existsSync(landing) || undefined, 5000, 'landing created on deploy');
        writeFileSync(join(landing, 'readings.csv'), csv);
        await poll(
          async () => existsSync(join(landing, 'processed', 'readings.csv')) || undefined,
          10_000,
          'archived',
        );
        const loaded = await r.waitForDebug('files', 1);
        assert.match(loaded[0], /file: 'readings\.csv',[^]*state: 'loaded',/);
        assert.deepEqual(await query(db.url, 'SELECT count(*)::int AS n FROM bronze.records'), [{ n: 2 }]);
        writeFileSync(join(landing, 'copy.csv'), csv);
        assert.match((await r.waitForDebug('files', 2))[1], /file: 'copy\.csv',[^]*state: 'duplicate',/);
        writeFileSync(join(landing, 'broken.csv'), Buffer.from([0, 159, 146, 150, 0, 1, 2, 3, 0]));
        await poll(
          async () => existsSync(join(landing, 'quarantine', 'broken.csv.error.json')) || undefined,
          10_000,
          'the broken file in quarantine/',
        );
        assert.match((await r.waitForDebug('error', 1))[0], /broken\.csv/);
        writeFileSync(join(outside, 'other.csv'), csv.replace(/r1,/, 'r3,').replace(/r2,/, 'r4,'));
        await r.press('load one file by path');
        await r.rowsWhen<{ n: number }>(
          'SELECT count(*)::int AS n FROM bronze.records',
          ([c]) => c.n === 4,
          'the file by path in bronze',
        );
        assert.ok(existsSync(join(outside, 'other.csv')), 'read in place, not moved');
      },
    },
  };

  for (const file of files) {
    describe(file, () => {
      it('is a flow of core and pack nodes whose references resolve, explained by a comment', () => {
        const nodes = load(file);
        assert.ok(Array.isArray(nodes) && nodes.length > 0, 'a JSON array of nodes');
        const byId = new Map(nodes.map((n) => [n.id, n]));
        for (const n of nodes) {
          const pack = n.type.startsWith('medallion-') && packTypes.has(n.type);
          assert.ok(FLOW_TYPES.includes(n.type) || coreTypes.has(n.type) || pack, `type ${n.type}`);
          for (const ref of references(n)) {
            assert.ok(byId.has(ref), `${n.type} ${n.id} refers to ${ref}, which is not in the file`);
          }
          for (const target of (n.wires ?? []).flat()) {
            assert.ok(onCanvas(byId.get(target)!), `${n.type} ${n.id} is wired to a config node`);
          }
          if ('pgConfig' in n) {
            assert.equal(byId.get(String(n.pgConfig))?.type, 'medallion-pg-config', `${n.type} ${n.id}`);
          }
          if (n.type === 'mqtt in') assert.equal(byId.get(String(n.broker))?.type, 'mqtt-broker');
          if (n.type === 'medallion-pg-config') {
            assert.deepEqual([n.connection, n.url], ['url', '${DATABASE_URL}'], 'the database from the env');
          }
        }
        const comments = nodes.filter((n) => n.type === 'comment');
        assert.ok(comments.length > 0, 'a comment node');
        assert.ok(
          comments.some((c) => String(c.info ?? '').trim().length > 40),
          'a comment that says what happens',
        );
      });

      const check = checks[file.slice(0, -5)];
      it(check?.title ?? 'deploys and runs its inject nodes without node errors', async () => {
        const nodes = load(file);
        check?.edit?.(nodes);
        const run = await deploy(nodes);
        if (check) {
          await check.run(run);
          const injects = nodes.filter((n) => n.type === 'inject' && !run.pressed.has(n.id));
          assert.deepEqual(
            injects.map((n) => n.name),
            [],
            'the check presses every inject node of the example',
          );
        } else {
          for (const n of nodes.filter((n) => n.type === 'inject')) {
            assert.equal((await httpPost(`${red.base}/inject/${n.id}`, {})).status, 200);
            await wait(500);
          }
          await wait(2000);
        }
        const errors = run.problems().filter((e) => !check?.expectedErrors?.some((p) => p.test(e)));
        assert.deepEqual(errors, [], 'no node errors or warnings');
      });
    });
  }

  /** Deploys an example on a clean slate and waits for its flow to start. */
  async function deploy(nodes: FlowNode[]): Promise<Run & { pressed: Set<string>; problems(): string[] }> {
    await emptyEverything();
    const mark = await deployFlow(deployable(nodes));
    const log = () => red.process.output().slice(mark);
    const debug = (name: string) =>
      [
        ...log().matchAll(
          new RegExp(`\\[debug:${escape(name)}\\] ?\\n?([^]*?)(?=\\n\\d+ \\w+ [\\d:]+ - \\[|$)`, 'g'),
        ),
      ].map((m) => m[1]);
    const pressed = new Set<string>();
    return {
      nodes,
      pressed,
      async press(name) {
        const node = nodes.find((n) => n.type === 'inject' && n.name === name);
        assert.ok(node, `an inject node called "${name}"`);
        const injected = await httpPost(`${red.base}/inject/${node.id}`, {});
        assert.equal(injected.status, 200, injected.body);
        pressed.add(node.id);
      },
      debug,
      waitForDebug: (name, count, ms = 10_000) =>
        poll(
          async () => (debug(name).length >= count ? debug(name) : undefined),
          ms,
          `${count} × debug ${name}`,
          100,
        ),
      waitForStatus: async (pattern) => {
        await poll(
          async () => debug('node status').some((d) => pattern.test(d)) || undefined,
          10_000,
          `a status ${pattern}`,
          100,
        );
      },
      rowsWhen: <T extends object>(sql: string, ready: (rows: T[]) => boolean, what: string) =>
        poll(
          async () => {
            const rows = await query<T>(db.url, sql);
            return ready(rows) ? rows : undefined;
          },
          10_000,
          what,
          100,
        ),
      problems: () => [
        ...log()
          .split('\n')
          .filter((l) => / - \[(error|warn)\] /.test(l)),
        ...debug('node errors'),
      ],
    };
  }

  /** Deploys `flow` (all of it) and waits until it has started; returns where its log begins. */
  async function deployFlow(flow: object[]): Promise<number> {
    const mark = red.process.output().length;
    const res = await httpPost(`${red.base}/flows`, flow, { 'Node-RED-Deployment-Type': 'full' });
    assert.equal(res.status, 204, res.body);
    await poll(
      async () => red.process.output().slice(mark).includes('Started flows') || undefined,
      10_000,
      'the flows started',
      50,
    );
    return mark;
  }

  /**
   * A clean slate: no flow running, no MQTT session (with what was queued for it) left by the
   * last example, empty tables, no folders.
   */
  async function emptyEverything() {
    await deployFlow([]);
    for (const id of [`${clientId}-ingest`, `${clientId}-core`]) await clearSession(SHARED_MQTT_URL, id);
    const tables = await query<{ name: string }>(
      db.url,
      `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables
        WHERE schemaname IN ('medallion', 'bronze', 'silver', 'gold') AND tablename <> 'schema_migrations'`,
    );
    if (tables.length) await query(db.url, `TRUNCATE ${tables.map((t) => t.name).join(', ')}`);
    for (const dir of ['landing', 'quarantine'])
      rmSync(join(red.userDir, dir), { recursive: true, force: true });
  }

  /**
   * The example as the editor imports it (its nodes on a tab), its debug nodes also printing to
   * the log where the test reads them, and its MQTT topics and client ids made this run's own
   * on the shared broker.
   */
  function deployable(nodes: FlowNode[]): FlowNode[] {
    const broker = new URL(SHARED_MQTT_URL);
    const own = (topics: string) =>
      topics
        .split(',')
        .map((t) => `${prefix}/${t.trim()}`)
        .join(', ');
    const flow = nodes.map((n): FlowNode => {
      const m: FlowNode = onCanvas(n) && !n.z ? { ...n, z: TAB } : { ...n };
      if (m.type === 'debug') Object.assign(m, { active: true, console: true });
      if (MQTT_TOPIC_TYPES.includes(m.type)) {
        if (typeof m.topic === 'string' && m.topic) m.topic = own(m.topic);
        if (typeof m.topics === 'string' && m.topics) m.topics = own(m.topics);
      }
      if (m.type === 'mqtt-broker') {
        Object.assign(m, {
          broker: broker.hostname,
          port: broker.port || '1883',
          clientid: `${clientId}-core`,
        });
      }
      return m;
    });
    return [
      { id: TAB, type: 'tab', label: 'example' },
      ...flow,
      ...WATCHERS.flatMap(({ kind, complete, name, ids: [watcher, printer] }, i) => [
        {
          id: watcher,
          type: kind,
          z: TAB,
          scope: null,
          uncaught: false,
          x: 100,
          y: 600 + 40 * i,
          wires: [[printer]],
        },
        {
          id: printer,
          type: 'debug',
          z: TAB,
          name,
          active: true,
          console: true,
          tosidebar: false,
          complete,
          targetType: 'msg',
          x: 300,
          y: 600 + 40 * i,
          wires: [],
        },
      ]),
    ];
  }

  /** Publishes iot-environment readings to this run's sensors/<room>/readings. */
  async function publish(readings: Array<Record<string, unknown>>) {
    const c = await client(SHARED_MQTT_URL, { clientId: `${clientId}-pub` });
    try {
      for (const r of readings)
        await c.publishAsync(`${prefix}/sensors/${String(r.location_id)}/readings`, JSON.stringify(r), {
          qos: 1,
        });
    } finally {
      await c.endAsync();
    }
  }

  /** Two readings for silver and one above 60 °C for the quarantine, published twice (a redelivery). */
  async function mqttReadingsLandOnce(run: Run, connected: RegExp) {
    await run.waitForStatus(connected);
    const readings = [
      {
        timestamp: '2026-01-15 08:00:00',
        location_id: '101',
        temperature_celsius: 21.5,
        humidity_percent: 40,
      },
      {
        timestamp: '2026-01-15 08:00:00',
        location_id: '102',
        temperature_celsius: 19.8,
        humidity_percent: 48,
      },
      { timestamp: '2026-01-15 08:00:00', location_id: '103', temperature_celsius: 75, humidity_percent: 45 },
    ];
    const counts = `SELECT (SELECT count(*) FROM bronze.records)::int AS bronze,
                           (SELECT count(*) FROM silver.environment_readings)::int AS silver,
                           (SELECT count(*) FROM silver.quarantine)::int AS quarantine,
                           (SELECT count(*) FROM medallion.batches WHERE layer = 'quarantine')::int AS batches`;
    type Counts = { bronze: number; silver: number; quarantine: number; batches: number };
    await publish(readings);
    const [first] = await run.rowsWhen<Counts>(counts, ([c]) => c.batches === 1, 'the readings stored');
    assert.deepEqual(first, { bronze: 3, silver: 2, quarantine: 1, batches: 1 });
    await publish(readings);
    const [again] = await run.rowsWhen<Counts>(counts, ([c]) => c.batches === 2, 'the redelivery handled');
    assert.deepEqual(again, { bronze: 3, silver: 2, quarantine: 1, batches: 2 }, 'no second row anywhere');
    const [bad] = await query<{ errors: Array<{ field: string }> }>(
      db.url,
      'SELECT errors FROM silver.quarantine',
    );
    assert.deepEqual(
      bad.errors.map((e) => e.field),
      ['temperature_celsius'],
    );
  }
});
