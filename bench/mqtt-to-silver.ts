/**
 * How many MQTT readings per second reach silver, sustained, through the MQTT branch
 * with core `mqtt in` and with the pack's mqtt ingest? N campus readings (QoS 1, one
 * JSON reading per message) are published at full speed by a publisher in its own
 * process to a private Mosquitto whose per-client queue is unbounded
 * (`max_queued_messages 0`), so nothing is dropped and what is measured is what the
 * subscriber side sustains:
 *   mqtt.js        the usual way, as a baseline: a bare MQTT.js subscriber counting
 *                  messages (the broker's and client's limit here)
 *   core mqtt in   core `mqtt in` (QoS 1, persistent session) → mqtt batch → pg-write
 *                  bronze → validate → pg-write silver
 *   mqtt ingest    mqtt ingest (acknowledging at silver) → pg-write bronze → validate →
 *                  pg-write silver
 * each timed from the first publish until every reading is in silver and every batch's
 * silver progress is committed, with the ratio to mqtt.js measured in the same run.
 *
 *   npm run bench:mqtt              (BENCH_MESSAGES=… to change the count)
 */
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import helper from 'node-red-node-test-helper';
import { Pool } from 'pg';
import { saveResults, withDatabase } from './support';
import mqttBatchNode from '../nodes/mqtt-batch/mqtt-batch';
import mqttIngestNode from '../nodes/mqtt-ingest/mqtt-ingest';
import pgConfigNode from '../nodes/pg-config/pg-config';
import pgWriteNode from '../nodes/pg-write/pg-write';
import validateNode from '../nodes/validate/validate';
import { client, mqttToSilver, privateMosquitto, type PrivateMosquitto } from '../test/support/mqtt';
import { spawnCollecting } from '../test/support/processes';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 50_000);
const REPO = resolve(__dirname, '..');
const PUBLISHER = join(REPO, 'test', 'support', 'burst-publisher.ts');

interface Result {
  scenario: string;
  messages: number;
  seconds: number;
  msgsPerSecond: number;
  ratio?: number;
}

/** Publishes the burst from another process; resolves with the time from its first publish until `done` resolves. */
async function timedBurst(url: string, prefix: string, done: () => Promise<void>): Promise<number> {
  const publisher = spawnCollecting(
    process.execPath,
    ['-r', 'tsx/cjs', PUBLISHER, url, prefix, String(MESSAGES)],
    {
      cwd: REPO,
    },
  );
  await publisher.waitFor(/^start \d+/m, 60_000);
  const started = process.hrtime.bigint();
  await done();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await publisher.waitFor(/^published \d+/m, 60_000);
  return seconds;
}

async function bareSubscriber(broker: PrivateMosquitto, prefix: string): Promise<number> {
  const sub = await client(broker.url, { clientId: `bench-sub-${randomUUID().slice(0, 8)}`, clean: true });
  await sub.subscribeAsync(`${prefix}/sensors/+/readings`, { qos: 1 });
  let n = 0;
  const all = new Promise<void>((resolveAll) =>
    sub.on('message', () => {
      if (++n === MESSAGES) resolveAll();
    }),
  );
  try {
    return await timedBurst(broker.url, prefix, () => all);
  } finally {
    await sub.endAsync();
  }
}

async function nodeRed(broker: PrivateMosquitto, prefix: string, input: 'core' | 'ingest'): Promise<number> {
  return withDatabase(async (url) => {
    const pool = new Pool({ connectionString: url, max: 1 });
    pool.on('error', () => undefined); // DROP DATABASE … WITH (FORCE) ends its idle connection
    helper.init(require.resolve('node-red'));
    const topic = `${prefix}/sensors/+/readings`;
    const clientId = `bench-${input}-${randomUUID().slice(0, 8)}`;
    try {
      const flow = mqttToSilver({ databaseUrl: url, brokerUrl: broker.url, clientId, topic, input });
      /* eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS core node */
      const mqttNodes = require('@node-red/nodes/core/network/10-mqtt.js');
      await helper.load(
        [mqttNodes, pgConfigNode, pgWriteNode, mqttBatchNode, mqttIngestNode, validateNode],
        flow,
      );
      // connected and migrated before the clock starts
      await new Promise((r) => setTimeout(r, 2000));
      return await timedBurst(broker.url, prefix, async () => {
        for (;;) {
          const { rows } = await pool.query<{ silver: number; pending: number }>(
            `SELECT (SELECT count(*)::int FROM silver.environment_readings) AS silver,
                    (SELECT count(*)::int FROM medallion.batches b WHERE layer = 'bronze' AND NOT EXISTS (
                       SELECT 1 FROM medallion.batches s
                        WHERE s.source_key = b.source_key AND s.batch = b.batch AND s.layer = 'silver')) AS pending`,
          );
          if (rows[0].silver >= MESSAGES && rows[0].pending === 0) return;
          await new Promise((r) => setTimeout(r, 50));
        }
      });
    } finally {
      await helper.unload();
      await pool.end();
    }
  });
}

async function main(): Promise<void> {
  console.log(`mqtt-to-silver: ${MESSAGES} QoS 1 readings, Mosquitto with an unbounded client queue`);
  const results: Result[] = [];
  const scenarios: Array<[string, (b: PrivateMosquitto, prefix: string) => Promise<number>]> = [
    ['mqtt.js', bareSubscriber],
    ['core mqtt in', (b, p) => nodeRed(b, p, 'core')],
    ['mqtt ingest', (b, p) => nodeRed(b, p, 'ingest')],
  ];
  for (const [scenario, fn] of scenarios) {
    // a broker of its own per scenario: nothing queued by one is seen by the next
    const broker = await privateMosquitto(['max_queued_messages 0']);
    try {
      const seconds = await fn(broker, `bench${randomUUID().slice(0, 6)}`);
      const r = {
        scenario,
        messages: MESSAGES,
        seconds: Math.round(seconds * 100) / 100,
        msgsPerSecond: Math.round(MESSAGES / seconds),
      };
      results.push(r);
      console.log(
        `  ${scenario.padEnd(13)} ${r.seconds.toFixed(2).padStart(7)} s  ${String(r.msgsPerSecond).padStart(8)} msgs/s`,
      );
    } finally {
      await broker.dispose();
    }
  }
  for (const r of results) r.ratio = Math.round((r.msgsPerSecond / results[0].msgsPerSecond) * 1000) / 1000;
  console.table(results);
  saveResults('mqtt-to-silver', {
    messages: MESSAGES,
    broker: 'mosquitto 2.0, max_queued_messages 0, a broker per scenario; the publisher in its own process',
    results,
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
