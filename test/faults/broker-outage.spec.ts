/**
 * The broker restarts under load: the test's own Mosquitto (persistence on, the README's
 * recommended settings) is stopped gracefully for 2 s and started again while campus
 * readings flow through mqtt ingest → bronze → validate → silver of the bundled flow:
 * - a gateway (bench/paced-publisher.ts in its own process) publishes at the MQTT
 *   benchmark's latency rate, 5 000 readings a second, before, during and after the
 *   restart; as any MQTT.js client it keeps what the broker has not acknowledged and sends
 *   it again once reconnected, so a reading may reach the pack twice;
 * - a burst (test/support/burst-publisher.ts) handed to the broker first drains through mqtt
 *   ingest at the pack's full rate, with tens of thousands received and not yet acknowledged
 *   at the stop, which the broker must deliver again.
 * Every reading the gateway published is in bronze and silver, once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { groupMembers, loadBundled, memberOf } from '../support/bundled';
import { query } from '../support/db';
import { emptyTables, faultRig, pacedPublisher, reportOutcome, stopPublisher } from '../support/faults';
import { helper, statuses, waitFor } from '../support/flow';
import { poll, spawnCollecting, type Spawned } from '../support/processes';

const repo = resolve(__dirname, '..', '..');
const BURST_PUBLISHER = join(repo, 'test', 'support', 'burst-publisher.ts');
const BURST = 60_000;
const RATE = 5_000;
const SECONDS = 14;
const DOWN_MS = 2_000;
/** README, "MQTT delivery": persistence (privateMosquitto sets it), a queue above the burst, sessions kept. */
const RECOMMENDED = ['max_queued_messages 1000000', 'persistent_client_expiration 7d'];
const INGEST = memberOf('Sensors (MQTT)', 'medallion-mqtt-ingest');

describe('faults: the broker restarts under load (private Mosquitto)', function () {
  this.timeout(300_000);
  const rig = faultRig('broker_outage', RECOMMENDED);

  afterEach(async () => {
    await stopPublisher(rig.publisher);
    await helper.unload();
    // each test loads the flow again: its environment is undone after each, not only after the last
    rig.restore();
    rig.restore = () => undefined;
    await emptyTables(rig.db.url);
  });

  const stored = async () =>
    (
      await query<{ stored: number; keys: number; bronze: number }>(
        rig.db.url,
        `SELECT (SELECT count(*)::int FROM silver.environment_readings) AS stored,
                (SELECT count(DISTINCT (location_id, ts))::int FROM silver.environment_readings) AS keys,
                (SELECT count(*)::int FROM bronze.records) AS bronze`,
      )
    )[0];

  async function load(prefix: string) {
    ({ restore: rig.restore } = await loadBundled(rig.db.url, rig.work, {
      mqtt: { url: rig.broker.url, clientId: `broker-down-${prefix}`, topicPrefix: prefix },
      disable: groupMembers('Gold'),
    }));
    await waitFor(() => statuses(INGEST).some((s) => s.fill === 'green'), 15_000, 'mqtt ingest connected');
  }

  /**
   * Once `flowing` readings are in silver: the broker stopped for DOWN_MS and started again.
   * Resolves with what mqtt ingest held unacknowledged at the stop, the readings in silver
   * when the broker came back, and the ms from its start until mqtt ingest was connected again.
   */
  async function restartBroker(flowing: number) {
    await poll(
      async () => ((await stored()).stored > flowing ? true : undefined),
      60_000,
      `${flowing} readings in silver`,
      50,
    );
    const unackedAtStop = /(\S+)\/\S+ unacked/.exec(statuses(INGEST).at(-1)?.text ?? '')?.[1];
    await rig.broker.stop();
    const stoppedAt = Date.now();
    await waitFor(
      () => /^disconnected/.test(statuses(INGEST).at(-1)?.text ?? ''),
      10_000,
      'mqtt ingest disconnected',
    );
    const down = DOWN_MS - (Date.now() - stoppedAt);
    if (down > 0) await new Promise((r) => setTimeout(r, down)); // the outage lasts this long
    const atRestart = (await stored()).stored;
    await rig.broker.start();
    const upAt = Date.now();
    const marks = statuses(INGEST).length;
    await waitFor(
      () =>
        statuses(INGEST)
          .slice(marks)
          .some((st) => st.fill === 'green'),
      30_000,
      `mqtt ingest connected again (${JSON.stringify(statuses(INGEST).slice(-3))})`,
    );
    return { unackedAtStop, atRestart, recoveryMs: Date.now() - upAt };
  }

  /** Waits for `expected` readings in silver and every message acknowledged; checks each is there once. */
  async function assertEachOnce(expected: number) {
    const s = await poll(
      async () => {
        const now = await stored();
        return now.stored >= expected ? now : undefined;
      },
      120_000,
      `${expected} readings in silver`,
      250,
    );
    assert.deepEqual(s, { stored: expected, keys: expected, bronze: expected });
    await waitFor(
      () => /\b0\/\d+ unacked/.test(statuses(INGEST).at(-1)?.text ?? ''),
      10_000,
      'all acknowledged',
    );
    return s;
  }

  function start(publisher: Spawned): Spawned {
    rig.publisher = publisher;
    return publisher;
  }

  it(`a graceful restart while a gateway publishes ${RATE}/s: 0 lost, 0 doubled`, async () => {
    const prefix = `broker-down-${randomBytes(3).toString('hex')}`;
    await load(prefix);
    const expected = RATE * SECONDS;
    const pub = start(
      pacedPublisher(rig.broker.url, prefix, RATE, SECONDS, join(rig.work, 'published.json')),
    );
    const { unackedAtStop, atRestart, recoveryMs } = await restartBroker(RATE * 2);
    const stillPublishing = pub.child.exitCode === null && !/^published/m.test(pub.output());
    await pub.waitFor(/^published \d+/m, 120_000);
    const s = await assertEachOnce(expected);
    assert.ok(stillPublishing, 'the gateway was still publishing when the broker came back');
    reportOutcome({
      fault: `Mosquitto restarted (${DOWN_MS / 1000} s down) while a gateway publishes ${RATE}/s`,
      expected,
      stored: s.stored,
      doubled: s.stored - s.keys,
      lost: expected - s.keys,
      recoveryMs,
      note: `${unackedAtStop} unacknowledged at the stop, ${atRestart} in silver when it came back`,
    });
  });

  it('a graceful restart while a burst drains through mqtt ingest: 0 lost, 0 doubled', async () => {
    const prefix = `broker-burst-${randomBytes(3).toString('hex')}`;
    await load(prefix);
    const pub = start(
      spawnCollecting(
        process.execPath,
        ['-r', 'tsx/cjs', BURST_PUBLISHER, rig.broker.url, prefix, String(BURST)],
        {
          cwd: repo,
        },
      ),
    );
    await pub.waitFor(/^published \d+/m, 120_000);
    // under load: messages received and not yet acknowledged, which the broker must deliver again
    const { unackedAtStop, atRestart, recoveryMs } = await restartBroker(BURST / 4);
    const s = await assertEachOnce(BURST);
    assert.ok(unackedAtStop && unackedAtStop !== '0', `unacknowledged at the stop: ${unackedAtStop}`);
    reportOutcome({
      fault: `Mosquitto restarted (${DOWN_MS / 1000} s down) under a ${BURST} burst`,
      expected: BURST,
      stored: s.stored,
      doubled: s.stored - s.keys,
      lost: BURST - s.keys,
      recoveryMs,
      note: `${unackedAtStop} unacknowledged at the stop, ${atRestart} in silver when it came back`,
    });
  });
});
