/**
 * `npm start` as a newcomer runs it: embedded PostgreSQL when DATABASE_URL is unset,
 * the editor up with the bundled flow writing, a clean stop on Ctrl-C / SIGTERM with
 * no process left behind, and the data kept for the next start.
 */
import assert from 'node:assert/strict';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { DATASETS, expectCampus, expectIotTemp, type Expected } from '../support/datasets';
import { createTestDatabase, query } from '../support/db';
import type { FlowNode } from '../support/landing-flow';
import {
  alive,
  descendantsOf,
  freePort,
  httpGet,
  poll,
  processesMentioning,
  spawnCollecting,
  type Spawned,
} from '../support/processes';

const repo = resolve(__dirname, '..', '..');
const launcher = join(repo, 'dist', 'bin', 'start.js');

describe('npm start launcher', function () {
  this.timeout(240_000);
  let home: string;
  let running: Spawned | undefined;

  before(() => {
    assert.ok(existsSync(launcher), 'dist/ is missing: `npm test` builds it (npm run build)');
    const parent = mkdtempSync(join(tmpdir(), 'medallion-start-'));
    chmodSync(parent, 0o755);
    home = join(parent, 'home');
  });

  afterEach(async () => {
    if (running && running.child.exitCode === null) {
      process.kill(-running.child.pid!, 'SIGKILL');
    }
    running = undefined;
  });

  after(() => {
    for (const pid of processesMentioning(home)) process.kill(pid, 'SIGKILL');
    rmSync(resolve(home, '..'), { recursive: true, force: true });
  });

  function launch(env: NodeJS.ProcessEnv, port: number): Spawned {
    const childEnv: NodeJS.ProcessEnv = {
      ...process.env,
      MEDALLION_HOME: home,
      PORT: String(port),
      HOST: '127.0.0.1',
      ...env,
    };
    if (!('DATABASE_URL' in env)) delete childEnv.DATABASE_URL;
    // detached: its own process group, like a shell job, so a Ctrl-C can be sent to all of it
    running = spawnCollecting(process.execPath, [launcher], { env: childEnv, detached: true });
    return running;
  }

  async function start(env: NodeJS.ProcessEnv): Promise<{ s: Spawned; port: number }> {
    const port = await freePort();
    const s = launch(env, port);
    await s.waitFor(new RegExp(`\\[medallion\\] editor: http://127\\.0\\.0\\.1:${port}/`), 120_000);
    return { s, port };
  }

  function embeddedUrl(): string {
    const state = JSON.parse(readFileSync(join(home, 'postgres.json'), 'utf8')) as {
      port: number;
      password: string;
    };
    return `postgres://postgres:${state.password}@127.0.0.1:${state.port}/medallion`;
  }

  const bronzeCount = async (url: string) =>
    (await query<{ n: number }>(url, 'SELECT count(*)::int AS n FROM bronze.records'))[0].n;

  it('starts an embedded PostgreSQL, serves the editor with the bundled flow, and stops cleanly on Ctrl-C', async () => {
    const { s, port } = await start({});
    const out = s.output();
    assert.match(
      out,
      /\[medallion\] PostgreSQL: embedded PostgreSQL \d+\.\d+ on 127\.0\.0\.1:\d+, data in .*\/home\/postgres\/data/,
    );
    assert.match(out, /flows: .*flows\.json \(copied from flows\/medallion\.json\)/);
    assert.doesNotMatch(
      out,
      new RegExp(JSON.parse(readFileSync(join(home, 'postgres.json'), 'utf8')).password),
    );

    const editor = await httpGet(`http://127.0.0.1:${port}/`);
    assert.equal(editor.status, 200);
    assert.match(editor.body, /Node-RED/);
    const flows = JSON.parse((await httpGet(`http://127.0.0.1:${port}/flows`)).body) as Array<{
      type: string;
    }>;
    assert.ok(flows.some((n) => n.type === 'medallion-pg-write'));
    assert.ok(flows.some((n) => n.type === 'medallion-pg-config'));
    // the operator page: Dashboard 2.0 is loaded, whichever Node-RED runs (it is linked for another one)
    const dashboard = await httpGet(`http://127.0.0.1:${port}/dashboard/`);
    assert.equal(dashboard.status, 200);
    assert.doesNotMatch(out + s.output(), /missing types|Missing node modules/i);

    assert.match(out, /\[medallion\] MQTT: embedded broker \(aedes\) on mqtt:\/\/127\.0\.0\.1:\d+/);

    // the simulators feed both branches at once: CSV files through the landing folder, readings over MQTT
    const url = embeddedUrl();
    const flowing = await poll(
      async () => {
        const rows = await query<{ kind: string }>(
          url,
          `SELECT DISTINCT CASE WHEN source_key LIKE 'mqtt:%' THEN 'mqtt' ELSE 'file' END AS kind
             FROM (SELECT source_key FROM silver.temperature_readings
                   UNION ALL SELECT source_key FROM silver.environment_readings) s
            ORDER BY 1`,
        ).catch(() => []);
        return rows.length === 2 ? rows : undefined;
      },
      60_000,
      'simulated file and MQTT readings in silver',
    );
    assert.deepEqual(
      flowing.map((r) => r.kind),
      ['file', 'mqtt'],
    );
    assert.ok((await bronzeCount(url)) > 0);
    const nodeRed = descendantsOf(s.child.pid!);
    const postgres = processesMentioning(join(home, 'postgres', 'data'));
    assert.ok(nodeRed.length >= 1, 'Node-RED runs as a child of the launcher');
    assert.equal(postgres.length, 1, 'one postmaster runs on the data directory');

    process.kill(-s.child.pid!, 'SIGINT');
    assert.equal(await s.exited(60_000), 0);
    assert.match(s.output(), /SIGINT: stopping Node-RED, then the embedded services/);
    assert.match(s.output(), /embedded MQTT broker stopped/);
    assert.match(s.output(), /embedded PostgreSQL stopped/);
    assert.deepEqual(alive([...nodeRed, ...postgres]), [], 'no process left behind');
    assert.deepEqual(processesMentioning(home), []);
  });

  it('reuses the embedded data on the next start and stops on SIGTERM', async () => {
    const { s } = await start({});
    assert.doesNotMatch(s.output(), /taken over/, 'the first start left no server running');
    assert.match(s.output(), /your edited copy; delete it to get flows\/medallion\.json back/);
    const n = await bronzeCount(embeddedUrl());
    assert.ok(n >= 12, `rows from the first start are still there (${n})`);
    const children = descendantsOf(s.child.pid!);
    s.child.kill('SIGTERM');
    assert.equal(await s.exited(60_000), 0);
    assert.deepEqual(alive(children), []);
    assert.deepEqual(processesMentioning(home), []);
  });

  it('exits non-zero when the editor port is taken, stopping the embedded PostgreSQL it started', async () => {
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const s = launch({}, port);
      await s.waitFor(/embedded PostgreSQL \d/, 120_000);
      const postgres = processesMentioning(join(home, 'postgres', 'data'));
      assert.equal(postgres.length, 1);
      assert.equal(await s.exited(60_000), 1);
      assert.match(s.output(), /Node-RED exited \(code 1\) before the editor was up/);
      assert.match(s.output(), /embedded PostgreSQL stopped/);
      assert.deepEqual(alive(postgres), [], 'no postgres left behind');
    } finally {
      blocker.close();
    }
  });

  it('uses DATABASE_URL when set and starts no embedded server; a file dropped into the landing folder fills bronze, silver and quarantine', async () => {
    const db = await createTestDatabase('launcher');
    try {
      // as a user who disables the simulated sensors: only the files dropped here arrive
      mkdirSync(join(home, 'node-red'), { recursive: true });
      const flows = JSON.parse(readFileSync(join(repo, 'flows', 'medallion.json'), 'utf8')) as FlowNode[];
      const sims = flows.find((n) => n.type === 'group' && n.name === 'Simulated sensors')!;
      writeFileSync(
        join(home, 'node-red', 'flows.json'),
        JSON.stringify(flows.map((n) => (n.g === sims.id ? { ...n, d: true } : n))),
      );
      const { s } = await start({ DATABASE_URL: db.url });
      assert.match(
        s.output(),
        /PostgreSQL: postgres:\/\/.* \(from DATABASE_URL; no embedded server started\)/,
      );
      assert.deepEqual(processesMentioning(join(home, 'postgres')), [], 'no embedded postgres runs');
      assert.match(s.output(), /flows: .*flows\.json \(your edited copy/);
      assert.match(s.output(), new RegExp(`landing folder: ${join(home, 'landing')} `));
      const files: Array<[string, Expected]> = [
        ['IOT-temp.csv', expectIotTemp(join(DATASETS, 'IOT-temp.csv'))],
        ['campus.csv', expectCampus(join(DATASETS, 'university_mental_health_iot_dataset.csv'))],
      ];
      copyFileSync(join(DATASETS, 'IOT-temp.csv'), join(home, 'landing', 'IOT-temp.csv'));
      copyFileSync(
        join(DATASETS, 'university_mental_health_iot_dataset.csv'),
        join(home, 'landing', 'campus.csv'),
      );
      const runs = await poll(
        async () => {
          const rows = await query<Record<string, number | string>>(
            db.url,
            `SELECT source, rows_read::int, rows_inserted::int, rows_duplicate::int, rows_quarantined::int
             FROM medallion.runs WHERE status = 'complete' ORDER BY source = 'file:campus.csv'`,
          );
          return rows.length === files.length ? rows : undefined;
        },
        60_000,
        'both runs complete',
      );
      assert.deepEqual(
        runs,
        files.map(([name, e]) => ({
          source: `file:${name}`,
          rows_read: e.valid + e.invalid,
          rows_inserted: e.distinct,
          rows_duplicate: e.valid - e.distinct,
          rows_quarantined: e.invalid,
        })),
      );
      const [tables] = await query(
        db.url,
        `SELECT (SELECT count(*)::int FROM bronze.records WHERE source_kind = 'file') AS bronze,
                (SELECT count(*)::int FROM silver.temperature_readings)
                  + (SELECT count(*)::int FROM silver.environment_readings) AS silver,
                (SELECT count(*)::int FROM silver.quarantine) AS quarantine`,
      );
      const sum = (f: (e: Expected) => number) => files.reduce((n, [, e]) => n + f(e), 0);
      assert.deepEqual(tables, {
        bronze: sum((e) => e.valid + e.invalid),
        silver: sum((e) => e.distinct),
        quarantine: sum((e) => e.invalid),
      });
      for (const [name] of files) assert.ok(existsSync(join(home, 'landing', 'processed', name)), name);
      assert.ok(
        readdirSync(join(home, 'quarantine')).some(
          (f) => f.startsWith('campus.') && f.endsWith('.rejected.csv'),
        ),
        'the rejected campus records as CSV in the quarantine folder',
      );
      s.child.kill('SIGTERM');
      assert.equal(await s.exited(60_000), 0);
    } finally {
      await db.drop();
    }
  });
});
