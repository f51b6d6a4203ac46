/**
 * Redeploy storms: 20 full redeploys of the bundled flow (files and MQTT through bronze,
 * silver, quarantine and gold) while a file is loaded and a paced MQTT stream flows, each
 * deploy once the flow the last one started has committed a batch. Nothing lost or doubled,
 * and what the flow holds — PostgreSQL connections, sockets, folder watchers, timers —
 * counted right after a deploy before the storm and again after it: no more than before.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLED, loadBundled, memberOf } from '../support/bundled';
import { query } from '../support/db';
import {
  batchesCommittedAfter,
  dropCampusFile,
  faultRig,
  pacedPublisher,
  reportOutcome,
} from '../support/faults';
import { helper, statuses, waitFor } from '../support/flow';
import { goldMismatchesSettled } from '../support/gold';
import { poll } from '../support/processes';
import type { FlowNode } from '../support/landing-flow';

const DEPLOYS = 20;
const ROWS = 20_000;
const INVALID = 200;
const RATE = 1_000;
const SECONDS = 20;
/** The kinds of handle a leak would leave in this process (Node-RED runs in it). */
const HANDLES = ['TCPSocketWrap', 'FSEventWrap', 'Timeout'];
const WATCH = memberOf('Landing (files)', 'medallion-watch-folder');
const INGEST = memberOf('Sensors (MQTT)', 'medallion-mqtt-ingest');
const APP = String(BUNDLED.find((n) => n.type === 'medallion-pg-config')!.applicationName);

type Held = Record<string, number>;

describe('faults: 20 full redeploys while a file and an MQTT stream flow', function () {
  this.timeout(300_000);
  const rig = faultRig('redeploy', ['max_queued_messages 0']);

  /** The pool's connections (PostgreSQL's view) and this process's handles of the kinds a leak leaves. */
  async function held(): Promise<Held> {
    const [{ n }] = await query<{ n: number }>(
      rig.db.url,
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = $2',
      [rig.db.name, APP],
    );
    const out: Held = { 'pool clients': n };
    for (const kind of HANDLES) out[kind] = 0;
    for (const kind of process.getActiveResourcesInfo()) if (kind in out) out[kind]++;
    return out;
  }

  /** A full deploy of `flow`, resolved once it runs: the database ready, mqtt ingest connected, watch-folder watching. */
  async function deploy(flow: FlowNode[]) {
    await helper.setFlows(flow, 'full');
    await waitFor(
      () =>
        statuses(INGEST).at(-1)?.fill === 'green' &&
        /^watching|%|waiting|replaying/.test(statuses(WATCH).at(-1)?.text ?? ''),
      30_000,
      'the flow running again',
    );
  }

  /** Polls until every count is at most the baseline's (a leak stays; what is closing goes). */
  async function settledAtMost(baseline: Held): Promise<Held> {
    let last: Held = {};
    try {
      return await poll(
        async () => {
          last = await held();
          return Object.keys(baseline).every((k) => last[k] <= baseline[k]) ? last : undefined;
        },
        15_000,
        'the handles back to the baseline',
      );
    } catch {
      assert.fail(`after the storm ${JSON.stringify(last)}, before ${JSON.stringify(baseline)}`);
    }
  }

  it('stores every row once and leaks no pool client, socket, watcher or timer', async () => {
    const prefix = `redeploy-${randomBytes(3).toString('hex')}`;
    const loaded = await loadBundled(rig.db.url, rig.work, {
      mqtt: { url: rig.broker.url, clientId: `redeploy-${prefix}`, topicPrefix: prefix },
    });
    rig.restore = loaded.restore;
    await deploy(loaded.flow);
    const baseline = await held();

    const publisher = pacedPublisher(rig.broker.url, prefix, RATE, SECONDS, join(rig.work, 'published.json'));
    rig.publisher = publisher;
    await dropCampusFile(join(rig.work, 'landing'), 'campus.csv', ROWS, INVALID, 31);
    const committedAfter = (since: Date, what: string) =>
      poll(
        async () => ((await batchesCommittedAfter(rig.db.url, since)) > 0 ? true : undefined),
        30_000,
        what,
        50,
      );
    await committedAfter(new Date(), 'the flow storing');
    const recoveries: number[] = [];
    for (let i = 0; i < DEPLOYS; i++) {
      const started = Date.now();
      await deploy(loaded.flow);
      await committedAfter(new Date(), `a batch committed after deploy ${i + 1}`);
      recoveries.push(Date.now() - started);
    }
    const recoveryMs = Math.max(...recoveries);

    await publisher.waitFor(/^published \d+/m, 120_000);
    const messages = RATE * SECONDS;
    const counts = await poll(
      async () => {
        const [c] = await query<{
          run: string;
          file: number;
          fileKeys: number;
          mqtt: number;
          mqttKeys: number;
        }>(
          rig.db.url,
          `SELECT (SELECT status FROM medallion.runs) AS run,
                  (SELECT count(*)::int FROM silver.environment_readings WHERE location_id::int < 1000) AS file,
                  (SELECT count(DISTINCT (location_id, ts))::int FROM silver.environment_readings
                    WHERE location_id::int < 1000) AS "fileKeys",
                  (SELECT count(*)::int FROM silver.environment_readings WHERE location_id::int >= 1000) AS mqtt,
                  (SELECT count(DISTINCT (location_id, ts))::int FROM silver.environment_readings
                    WHERE location_id::int >= 1000) AS "mqttKeys"`,
        );
        return c.run === 'complete' && c.mqtt >= messages ? c : undefined;
      },
      120_000,
      'the file and the stream stored',
    );
    assert.deepEqual(counts, {
      run: 'complete',
      file: ROWS - INVALID,
      fileKeys: ROWS - INVALID,
      mqtt: messages,
      mqttKeys: messages,
    });
    const [q] = await query<{ n: number; lines: number }>(
      rig.db.url,
      'SELECT count(*)::int AS n, count(DISTINCT line_no)::int AS lines FROM silver.quarantine',
    );
    assert.deepEqual(q, { n: INVALID, lines: INVALID });
    assert.deepEqual(await goldMismatchesSettled(rig.db.url, [3600, 86400]), []);
    assert.deepEqual(readdirSync(join(rig.work, 'landing', 'processed')), ['campus.csv']);

    await deploy(loaded.flow);
    const after = await settledAtMost(baseline);
    console.log(`      held before ${JSON.stringify(baseline)}, after ${JSON.stringify(after)}`);
    reportOutcome({
      fault: `${DEPLOYS} full redeploys (file)`,
      expected: ROWS - INVALID,
      stored: counts.file,
      doubled: counts.file - counts.fileKeys,
      lost: ROWS - INVALID - counts.fileKeys,
      recoveryMs,
      note: 'recovery: the longest from a deploy to a batch committed by the new flow',
    });
    reportOutcome({
      fault: `${DEPLOYS} full redeploys (MQTT ${RATE}/s)`,
      expected: messages,
      stored: counts.mqtt,
      doubled: counts.mqtt - counts.mqttKeys,
      lost: messages - counts.mqttKeys,
      recoveryMs,
    });
  });
});
