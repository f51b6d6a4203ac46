/**
 * How many MQTT readings per second does the MQTT branch carry into silver, sustained?
 * N iot-environment readings (QoS 1, one JSON reading per message) are published at
 * full speed by one MQTT.js client to a private Mosquitto whose per-client queue is
 * unbounded (`max_queued_messages 0`), so nothing is dropped and the rate measured is
 * what the subscriber side sustains:
 *   mqtt.js       the usual way, as a baseline: a bare MQTT.js subscriber counting
 *                 messages (the broker and client limit here)
 *   node-red      core `mqtt in` (QoS 1, persistent session) → mqtt batch → pg-write
 *                 bronze → validate → pg-write silver, from the first publish until every
 *                 reading is in silver and every batch's silver progress is committed
 * and prints msgs/s with the ratio to mqtt.js measured in the same run.
 *
 *   npm run bench:mqtt              (BENCH_MESSAGES=… to change the count)
 */
import { randomUUID } from 'node:crypto';
import helper from 'node-red-node-test-helper';
import { Client, Pool } from 'pg';
import { saveResults } from './results';
import { Simulator } from '../lib/sim/simulator';
import mqttBatchNode from '../nodes/mqtt-batch/mqtt-batch';
import pgConfigNode from '../nodes/pg-config/pg-config';
import pgWriteNode from '../nodes/pg-write/pg-write';
import validateNode from '../nodes/validate/validate';
import { pgWrite } from '../test/support/landing-flow';
import { client, privateMosquitto, type PrivateMosquitto } from '../test/support/mqtt';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 50_000);
const TOPIC = 'bench/sensors';

interface Result {
  scenario: string;
  messages: number;
  seconds: number;
  msgsPerSecond: number;
  ratio?: number;
}

/** The readings to publish: 100 campus locations, so a burst spans little event time. */
function readings(): Array<{ topic: string; text: string }> {
  const sim = new Simulator({
    mode: 'messages',
    schema: 'iot-environment',
    locations: Array.from({ length: 100 }, (_, i) => String(1000 + i)),
    rate: 100,
    seed: 12,
    faults: {},
    topic: `${TOPIC}/{device}/readings`,
    arrays: false,
  });
  return sim
    .messages(sim.burst(MESSAGES, Date.now()))
    .map((m) => ({ topic: m.topic, text: JSON.stringify(m.payload) }));
}

async function publishAll(url: string, messages: Array<{ topic: string; text: string }>): Promise<void> {
  const pub = await client(url, { clientId: `bench-pub-${randomUUID().slice(0, 8)}` });
  // at most 10 000 unacknowledged at a time: QoS 1 packet ids run out at 65 535
  const unacked = new Set<Promise<unknown>>();
  for (const m of messages) {
    const p: Promise<unknown> = pub
      .publishAsync(m.topic, m.text, { qos: 1 })
      .finally(() => unacked.delete(p));
    unacked.add(p);
    if (unacked.size >= 10_000) await Promise.race(unacked);
  }
  await Promise.all(unacked);
  await pub.endAsync();
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function bareSubscriber(broker: PrivateMosquitto, messages: Array<{ topic: string; text: string }>) {
  const sub = await client(broker.url, { clientId: `bench-sub-${randomUUID().slice(0, 8)}`, clean: true });
  await sub.subscribeAsync(`${TOPIC}/+/readings`, { qos: 1 });
  try {
    return await timed(async () => {
      let n = 0;
      const all = new Promise<void>((resolve) =>
        sub.on('message', () => {
          if (++n === messages.length) resolve();
        }),
      );
      await publishAll(broker.url, messages);
      await all;
    });
  } finally {
    await sub.endAsync();
  }
}

async function nodeRed(broker: PrivateMosquitto, messages: Array<{ topic: string; text: string }>) {
  const name = `medallion_bench_${randomUUID().slice(0, 8)}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const pool = new Pool({ connectionString: url.toString(), max: 1 });
  helper.init(require.resolve('node-red'));
  try {
    const flow = [
      { id: 'cfg', type: 'medallion-pg-config', connection: 'url', url: url.toString(), poolSize: 10 },
      {
        id: 'broker',
        type: 'mqtt-broker',
        broker: broker.url,
        clientid: `bench-${randomUUID().slice(0, 8)}`,
        cleansession: false,
        protocolVersion: '4',
        autoUnsubscribe: false,
      },
      {
        id: 'in',
        type: 'mqtt in',
        topic: `${TOPIC}/+/readings`,
        qos: '1',
        datatype: 'buffer',
        broker: 'broker',
        wires: [['batch']],
      },
      { id: 'batch', type: 'medallion-mqtt-batch', size: 1000, timeout: 500, wires: [['pgb']] },
      {
        ...pgWrite('pgb', 'bronze.records', 'bronze'),
        columns: 'source_kind, source_key, source_name, line_no, raw, run_id, batch',
        wires: [['v'], []],
      },
      { id: 'v', type: 'medallion-validate', profile: 'auto', wires: [['pgs'], []] },
      pgWrite('pgs', 'silver.environment_readings', 'silver'),
    ];
    /* eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS core node */
    const mqttNodes = require('@node-red/nodes/core/network/10-mqtt.js');
    await helper.load([mqttNodes, pgConfigNode, pgWriteNode, mqttBatchNode, validateNode], flow);
    // connected and migrated before the clock starts
    await new Promise((r) => setTimeout(r, 2000));
    return await timed(async () => {
      await publishAll(broker.url, messages);
      for (;;) {
        const { rows } = await pool.query<{ silver: number; pending: number }>(
          `SELECT (SELECT count(*)::int FROM silver.environment_readings) AS silver,
                  (SELECT count(*)::int FROM medallion.batches b WHERE layer = 'bronze' AND NOT EXISTS (
                     SELECT 1 FROM medallion.batches s
                      WHERE s.source_key = b.source_key AND s.batch = b.batch AND s.layer = 'silver')) AS pending`,
        );
        if (rows[0].silver >= messages.length && rows[0].pending === 0) return;
        await new Promise((r) => setTimeout(r, 50));
      }
    });
  } finally {
    await helper.unload();
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

async function main(): Promise<void> {
  const broker = await privateMosquitto(['max_queued_messages 0', 'max_inflight_messages 100']);
  try {
    const messages = readings();
    console.log(
      `mqtt-to-silver: ${messages.length} QoS 1 readings, Mosquitto with an unbounded client queue`,
    );
    const results: Result[] = [];
    for (const [scenario, fn] of [
      ['mqtt.js', bareSubscriber],
      ['node-red', nodeRed],
    ] as const) {
      const seconds = await fn(broker, messages);
      const r = {
        scenario,
        messages: messages.length,
        seconds: Math.round(seconds * 100) / 100,
        msgsPerSecond: Math.round(messages.length / seconds),
      };
      results.push(r);
      console.log(
        `  ${scenario.padEnd(10)} ${r.seconds.toFixed(2).padStart(7)} s  ${String(r.msgsPerSecond).padStart(8)} msgs/s`,
      );
    }
    for (const r of results) r.ratio = Math.round((r.msgsPerSecond / results[0].msgsPerSecond) * 1000) / 1000;
    console.table(results);
    saveResults('mqtt-to-silver', {
      messages: MESSAGES,
      broker: 'mosquitto, max_queued_messages 0, max_inflight_messages 100',
      results,
    });
  } finally {
    await broker.dispose();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
