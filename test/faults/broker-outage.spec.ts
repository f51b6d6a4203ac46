/**
 * The broker restarts under load: a burst of campus readings (test/support/burst-publisher.ts
 * in its own process, as a gateway) is handed to the test's own Mosquitto (persistence on,
 * the README's recommended settings) and drains through mqtt ingest → bronze → validate →
 * silver of the bundled flow at the pack's sustained rate (the MQTT benchmark's) when the
 * broker is stopped gracefully and started again. Every reading the broker accepted is in
 * silver, once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { groupMembers, loadBundled, memberOf } from '../support/bundled';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { reportOutcome } from '../support/faults';
import { helper, statuses, waitFor } from '../support/flow';
import { privateMosquitto, type PrivateMosquitto } from '../support/mqtt';
import { poll, spawnCollecting, type Spawned } from '../support/processes';

const repo = resolve(__dirname, '..', '..');
const PUBLISHER = join(repo, 'test', 'support', 'burst-publisher.ts');
const BURST = 60_000;
const DOWN_MS = 2_000;
/** README, "MQTT delivery": persistence (privateMosquitto sets it), a queue above the burst, sessions kept. */
const RECOMMENDED = ['max_queued_messages 1000000', 'persistent_client_expiration 7d'];
const INGEST = memberOf('Sensors (MQTT)', 'medallion-mqtt-ingest');

describe('faults: the broker restarts under load (private Mosquitto)', function () {
  this.timeout(300_000);
  let db: TestDatabase;
  let broker: PrivateMosquitto;
  let work: string;
  let restore: () => void = () => undefined;
  let publisher: Spawned | undefined;

  before(async () => {
    db = await createTestDatabase('broker_outage');
    broker = await privateMosquitto(RECOMMENDED);
    work = mkdtempSync(join(tmpdir(), 'medallion-broker-down-'));
  });
  after(async () => {
    if (publisher?.child.exitCode === null) {
      publisher.child.kill('SIGKILL');
      await publisher.exited(10_000);
    }
    await helper.unload();
    restore();
    await broker?.dispose();
    rmSync(work, { recursive: true, force: true });
    await db?.drop();
  });

  const silver = async () =>
    (
      await query<{ stored: number; keys: number; bronze: number }>(
        db.url,
        `SELECT (SELECT count(*)::int FROM silver.environment_readings) AS stored,
                (SELECT count(DISTINCT (location_id, ts))::int FROM silver.environment_readings) AS keys,
                (SELECT count(*)::int FROM bronze.records) AS bronze`,
      )
    )[0];

  it('a graceful restart while a burst drains through mqtt ingest: 0 lost, 0 doubled', async () => {
    const prefix = `broker-down-${randomBytes(3).toString('hex')}`;
    ({ restore } = await loadBundled(db.url, work, {
      mqtt: { url: broker.url, clientId: `broker-down-${prefix}`, topicPrefix: prefix },
      disable: groupMembers('Gold'),
    }));
    await waitFor(() => statuses(INGEST).some((s) => s.fill === 'green'), 15_000, 'mqtt ingest connected');
    publisher = spawnCollecting(
      process.execPath,
      ['-r', 'tsx/cjs', PUBLISHER, broker.url, prefix, String(BURST)],
      { cwd: repo },
    );
    await publisher.waitFor(/^published \d+/m, 120_000);
    const expected = BURST;
    await poll(
      async () => ((await silver()).stored > expected / 4 ? true : undefined),
      60_000,
      'a quarter of the stream in silver',
      50,
    );
    // under load: messages received and not yet acknowledged, which the broker must deliver again
    const unackedAtStop = /(\S+)\/\S+ unacked/.exec(statuses(INGEST).at(-1)?.text ?? '')?.[1];
    await broker.stop();
    const stoppedAt = Date.now();
    await waitFor(
      () => /^disconnected/.test(statuses(INGEST).at(-1)?.text ?? ''),
      10_000,
      'mqtt ingest disconnected',
    );
    const down = DOWN_MS - (Date.now() - stoppedAt);
    if (down > 0) await new Promise((r) => setTimeout(r, down)); // the outage lasts this long
    const atRestart = (await silver()).stored;
    await broker.start();
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
    const recoveryMs = Date.now() - upAt;
    const s = await poll(
      async () => {
        const now = await silver();
        return now.stored >= expected ? now : undefined;
      },
      120_000,
      `${expected} readings in silver`,
      250,
    );
    assert.ok(unackedAtStop && unackedAtStop !== '0', `unacknowledged at the stop: ${unackedAtStop}`);
    assert.deepEqual(s, { stored: expected, keys: expected, bronze: expected });
    await waitFor(
      () => /\b0\/\d+ unacked/.test(statuses(INGEST).at(-1)?.text ?? ''),
      10_000,
      'all acknowledged',
    );
    reportOutcome({
      fault: `Mosquitto restarted (${DOWN_MS / 1000} s down) under a ${BURST} burst`,
      expected,
      stored: s.stored,
      doubled: s.stored - s.keys,
      lost: expected - s.keys,
      recoveryMs,
      note: `${unackedAtStop} unacknowledged at the stop, ${atRestart} in silver when it came back`,
    });
  });
});
