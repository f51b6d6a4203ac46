/**
 * MQTT bursts, on a private Mosquitto per test (the configuration under test) and a real
 * PostgreSQL: 100 000 QoS 1 readings published at full speed into silver through the
 * bundled flow, with core `mqtt in` and with the pack's mqtt ingest, on the broker's
 * default configuration (received / stored / lost reported) and on the recommended one
 * (mqtt ingest loses nothing, stores each reading once); then Node-RED killed with
 * SIGKILL in the middle of such a burst and restarted: nothing lost, nothing doubled.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { NodeMessage } from 'node-red';
import { BUNDLED, groupMembers, loadBundled, memberOf } from '../support/bundled';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { helper, statuses, waitFor } from '../support/flow';
import { mqttToSilver, privateMosquitto, type PrivateMosquitto } from '../support/mqtt';
import { startNodeRed } from '../support/node-red';
import { poll, spawnCollecting, type Spawned } from '../support/processes';

const repo = resolve(__dirname, '..', '..');
const PUBLISHER = join(repo, 'test', 'support', 'burst-publisher.ts');
const BURST = Number(process.env.TEST_MQTT_BURST ?? 100_000);
/** The recommended broker settings (README, "MQTT delivery"): persistence, a queue above the burst. */
const RECOMMENDED = ['max_queued_messages 1000000', 'persistent_client_expiration 7d'];

const INGEST = memberOf('Sensors (MQTT)', 'medallion-mqtt-ingest');
const BRONZE = BUNDLED.find((n) => n.id === INGEST)!.wires![0][0];

/** Publishes the burst from its own process, as a gateway does (the test's process runs Node-RED). */
async function publish(url: string, prefix: string): Promise<void> {
  const p = spawnCollecting(process.execPath, ['-r', 'tsx/cjs', PUBLISHER, url, prefix, String(BURST)], {
    cwd: repo,
  });
  await p.waitFor(/^published \d+/m, 240_000);
}

interface Outcome {
  input: string;
  broker: string;
  published: number;
  received: number;
  stored: number;
  lost: number;
  doubled: number;
}

describe('MQTT bursts into silver (private Mosquitto, real PostgreSQL)', function () {
  this.timeout(300_000);
  let db: TestDatabase;
  let broker: PrivateMosquitto | undefined;
  let work: string;
  let restore: () => void = () => undefined;
  const report: Outcome[] = [];

  beforeEach(async () => {
    db = await createTestDatabase('mqtt_burst');
    work = mkdtempSync(join(tmpdir(), 'medallion-burst-'));
  });
  afterEach(async () => {
    await helper.unload();
    restore();
    await broker?.dispose();
    broker = undefined;
    rmSync(work, { recursive: true, force: true });
    await db.drop();
  });
  after(() => console.table(report));

  const silver = async () =>
    (
      await query<{ silver: number; distinct: number; bronze: number }>(
        db.url,
        `SELECT (SELECT count(*)::int FROM silver.environment_readings) AS silver,
                (SELECT count(DISTINCT (location_id, ts))::int FROM silver.environment_readings) AS distinct,
                (SELECT count(*)::int FROM bronze.records) AS bronze`,
      )
    )[0];

  /** Waits until silver stops growing (nothing more arrives) or holds `expected`. */
  async function settled(expected: number) {
    let last = -1;
    let since = Date.now();
    return poll(
      async () => {
        const s = await silver();
        if (s.silver !== last) {
          last = s.silver;
          since = Date.now();
        }
        return s.silver >= expected || Date.now() - since > 5000 ? s : undefined;
      },
      240_000,
      'silver to settle',
      250,
    );
  }

  /**
   * The bundled flow on `broker` without gold (as a user may run it; it keeps the suite within
   * minutes), its MQTT branch through mqtt ingest or through core mqtt in → mqtt batch.
   */
  async function load(input: 'core' | 'ingest', prefix: string) {
    const clientId = `burst-${input}-${randomBytes(4).toString('hex')}`;
    const tab = BUNDLED.find((n) => n.type === 'tab')!.id;
    const core = [
      {
        id: 'burst-broker',
        type: 'mqtt-broker',
        broker: broker!.url,
        clientid: clientId,
        cleansession: false,
        protocolVersion: '4',
        autoUnsubscribe: false,
      },
      {
        id: 'burst-in',
        type: 'mqtt in',
        z: tab,
        topic: `${prefix}/sensors/+/readings`,
        qos: '1',
        datatype: 'buffer',
        broker: 'burst-broker',
        wires: [['burst-batch']],
      },
      {
        id: 'burst-batch',
        type: 'medallion-mqtt-batch',
        z: tab,
        size: 1000,
        timeout: 500,
        wires: [[BRONZE]],
      },
    ];
    const loaded = await loadBundled(db.url, work, {
      mqtt: { url: broker!.url, clientId, topicPrefix: prefix },
      disable: [...groupMembers('Gold'), ...(input === 'core' ? [INGEST] : [])],
      extra: input === 'core' ? core : [],
    });
    restore = loaded.restore;
    let received = 0;
    (helper.getNode(BRONZE) as unknown as NodeJS.EventEmitter).on('input', (m: NodeMessage) => {
      received += Array.isArray(m.payload) ? m.payload.length : 1;
    });
    if (input === 'ingest') {
      await waitFor(() => statuses(INGEST).some((s) => s.fill === 'green'), 15_000, 'mqtt ingest connected');
    } else {
      await waitFor(() => statuses('burst-in').some((s) => s.fill === 'green'), 15_000, 'mqtt in connected');
    }
    return { received: () => received };
  }

  async function run(input: 'core' | 'ingest', config: 'default' | 'recommended'): Promise<Outcome> {
    broker = await privateMosquitto(config === 'recommended' ? RECOMMENDED : []);
    const prefix = `b${randomBytes(3).toString('hex')}`;
    const { received } = await load(input, prefix);
    await publish(broker.url, prefix);
    const s = await settled(BURST);
    const outcome = {
      input: input === 'core' ? 'core mqtt in' : 'mqtt ingest',
      broker: config,
      published: BURST,
      received: received(),
      stored: s.distinct,
      lost: BURST - s.distinct,
      doubled: s.silver - s.distinct,
    };
    report.push(outcome);
    return outcome;
  }

  it('default broker config: reports received / stored / lost for core mqtt in and for mqtt ingest', async () => {
    const core = await run('core', 'default');
    await helper.unload();
    restore();
    await broker!.dispose();
    broker = undefined;
    await db.drop();
    db = await createTestDatabase('mqtt_burst');
    const ours = await run('ingest', 'default');
    for (const o of [core, ours]) {
      assert.equal(o.doubled, 0);
      assert.ok(o.stored <= o.published && o.stored > 0, JSON.stringify(o));
    }
  });

  it('recommended broker config: mqtt ingest stores every reading of the burst exactly once', async () => {
    const ours = await run('ingest', 'recommended');
    assert.deepEqual(
      { stored: ours.stored, lost: ours.lost, doubled: ours.doubled },
      { stored: BURST, lost: 0, doubled: 0 },
    );
    const [{ bronze }] = await query<{ bronze: number }>(
      db.url,
      `SELECT count(*)::int AS bronze FROM bronze.records WHERE source_kind = 'mqtt'`,
    );
    assert.equal(bronze, BURST, 'one bronze row per reading');
  });

  it('SIGKILL of Node-RED in the middle of a burst, then a restart: nothing lost, nothing doubled', async () => {
    broker = await privateMosquitto(RECOMMENDED);
    const prefix = `k${randomBytes(3).toString('hex')}`;
    const userDir = join(work, 'node-red');
    mkdirSync(userDir, { recursive: true });
    writeFileSync(
      join(userDir, 'flows.json'),
      JSON.stringify([
        { id: 'tab', type: 'tab', label: 'burst' },
        ...mqttToSilver({
          databaseUrl: db.url,
          brokerUrl: broker.url,
          clientId: `burst-kill-${prefix}`,
          topic: `${prefix}/sensors/+/readings`,
          input: 'ingest',
          z: 'tab',
        }),
      ]),
    );
    const start = async (): Promise<Spawned> => (await startNodeRed({ userDir })).process;
    let nodeRed = await start();
    try {
      const published = publish(broker.url, prefix);
      // kill it once a good part of the burst is stored, while the rest is in flight or queued
      await poll(
        async () => ((await silver()).silver > BURST / 4 ? true : undefined),
        120_000,
        'a quarter stored',
      );
      nodeRed.child.kill('SIGKILL');
      await nodeRed.exited(10_000);
      const atKill = await silver();
      await published;
      nodeRed = await start();
      const s = await settled(BURST);
      report.push({
        input: 'mqtt ingest, SIGKILL at ' + atKill.silver,
        broker: 'recommended',
        published: BURST,
        received: s.bronze,
        stored: s.distinct,
        lost: BURST - s.distinct,
        doubled: s.silver - s.distinct,
      });
      assert.ok(atKill.silver < BURST, 'killed in the middle of the burst');
      assert.deepEqual(
        { silver: s.silver, distinct: s.distinct, bronze: s.bronze },
        {
          silver: BURST,
          distinct: BURST,
          bronze: BURST,
        },
      );
    } finally {
      nodeRed.child.kill('SIGKILL');
      await nodeRed.exited(10_000).catch(() => undefined);
    }
  });
});
