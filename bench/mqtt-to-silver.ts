/**
 * How many MQTT readings per second reach silver, sustained, through the MQTT branch
 * with core `mqtt in` and with the pack's mqtt ingest, and how long does a reading take
 * from its publish to silver at a steady rate? Campus readings (QoS 1, one JSON reading
 * per message) are published by a publisher in its own process to a private Mosquitto
 * (one per scenario) whose per-client queue is unbounded (`max_queued_messages 0`), so
 * nothing is dropped. Throughput: N readings published at full speed, so what is
 * measured is what the subscriber side sustains:
 *   mqtt.js         the usual way, as a baseline: a bare MQTT.js subscriber counting
 *                   messages (the broker's and client's limit here)
 *   core mqtt in    core `mqtt in` (QoS 1, persistent session) → mqtt batch → pg-write
 *                   bronze → validate → pg-write silver
 *   mqtt ingest     mqtt ingest (acknowledging at silver) → pg-write bronze → validate →
 *                   pg-write silver
 * each timed from the first publish until every reading is in silver and every batch's
 * silver progress is committed, with the ratio to mqtt.js measured in the same run.
 * Latency: the same two flows while bench/paced-publisher.ts publishes R readings a
 * second for S seconds, noting each one's (location_id, ts) and wall-clock publish time:
 *   latency-core    core mqtt in → … → silver
 *   latency-ingest  mqtt ingest → … → silver
 * Once all are in silver, each reading's latency is its row's `validated_at` minus its
 * publish time (both this machine's clock: the database is local). The pack never sets
 * `validated_at` (lib/validate/silver-rows.ts has no such field): the column's DEFAULT
 * now() fills it, which is the start of the transaction, the BEGIN that pg-write silver
 * sends (inTransaction, lib/pg/client.ts) before it COPYs the batch (or stages it and
 * INSERTs … ON CONFLICT) and records its progress row (TableWriter, lib/pg/bulk-write.ts).
 * So `validated_at` is the batch's COMMIT time minus that transaction's duration: the
 * latency ends slightly before the reading is visible in silver, an underestimate by
 * that duration (commit times of PostgreSQL's own need track_commit_timestamp, off by
 * default). Reported: p50/p95/p99/max, the achieved publish rate,
 * the p50 of the first and the last quarter of the readings (in publish order), and how
 * far the silver count lags the published count (sampled every 250 ms): at the sample
 * nearest the last publish, and at most; the backlog grew if the lag when publishing
 * ends exceeds 2 s of messages or the last quarter's p50 is more than 1 s above the first's.
 *
 *   npm run bench:mqtt      (BENCH_MESSAGES=… throughput count, default 50 000;
 *                            BENCH_RATE=… and BENCH_SECONDS=… latency rate and duration,
 *                            default 5 000/s for 20 s; BENCH_ONLY=… the scenarios to run,
 *                            mqtt.js always with a throughput scenario)
 *   BENCH_ONLY=latency-core,latency-ingest npm run bench:mqtt      (latency only)
 *   BENCH_ONLY='core mqtt in,mqtt ingest' npm run bench:mqtt       (throughput only)
 *
 * A part (throughput or latency) left out by BENCH_ONLY keeps its fields from the last
 * saved run in bench/results/mqtt-to-silver.json, with when it was measured.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import helper from 'node-red-node-test-helper';
import { Pool } from 'pg';
import type { PublishedFile } from './paced-publisher';
import { saveResults, withDatabase, withoutHelperSpies } from './support';
import mqttBatchNode from '../nodes/mqtt-batch/mqtt-batch';
import mqttIngestNode from '../nodes/mqtt-ingest/mqtt-ingest';
import pgConfigNode from '../nodes/pg-config/pg-config';
import pgWriteNode from '../nodes/pg-write/pg-write';
import validateNode from '../nodes/validate/validate';
import { client, mqttToSilver, privateMosquitto, type PrivateMosquitto } from '../test/support/mqtt';
import { spawnCollecting } from '../test/support/processes';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 50_000);
const RATE = Number(process.env.BENCH_RATE ?? 5000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const ONLY = process.env.BENCH_ONLY?.split(',');
const REPO = resolve(__dirname, '..');
const PUBLISHER = join(REPO, 'test', 'support', 'burst-publisher.ts');
const PACED_PUBLISHER = join(__dirname, 'paced-publisher.ts');
const RESULTS = join(__dirname, 'results', 'mqtt-to-silver.json');
const BROKER =
  'mosquitto 2.0, max_queued_messages 0, a broker per scenario; the publisher in its own process';

interface Result {
  scenario: string;
  messages: number;
  seconds: number;
  msgsPerSecond: number;
  ratio?: number;
}

interface LatencyResult {
  scenario: string;
  published: number;
  /** Readings per second from the first publish to the last. */
  publishRate: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  p50FirstQuarterMs: number;
  p50LastQuarterMs: number;
  /** Published but not yet in silver at the sample nearest the last publish. */
  lagAtEndOfPublishing: number;
  /** The most published but not yet in silver at any sample. */
  maxLag: number;
  backlogGrew: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Readings in silver, and batches in bronze whose silver progress is not committed yet. */
async function silverProgress(pool: Pool): Promise<{ silver: number; pending: number }> {
  const { rows } = await pool.query<{ silver: number; pending: number }>(
    `SELECT (SELECT count(*)::int FROM silver.environment_readings) AS silver,
            (SELECT count(*)::int FROM medallion.batches b WHERE layer = 'bronze' AND NOT EXISTS (
               SELECT 1 FROM medallion.batches s
                WHERE s.source_key = b.source_key AND s.batch = b.batch AND s.layer = 'silver')) AS pending`,
  );
  return rows[0];
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

/** Runs `fn` while the MQTT branch with `input` subscribes to `<prefix>/sensors/+/readings`, on a database of its own. */
async function withFlow<T>(
  broker: PrivateMosquitto,
  prefix: string,
  input: 'core' | 'ingest',
  fn: (pool: Pool) => Promise<T>,
): Promise<T> {
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
      // the helper's spies keep every message each node sends: core mqtt in sends one per reading
      withoutHelperSpies(helper);
      // connected and migrated before the clock starts
      await sleep(2000);
      return await fn(pool);
    } finally {
      await helper.unload();
      await pool.end();
    }
  });
}

function nodeRed(broker: PrivateMosquitto, prefix: string, input: 'core' | 'ingest'): Promise<number> {
  return withFlow(broker, prefix, input, (pool) =>
    timedBurst(broker.url, prefix, async () => {
      for (;;) {
        const { silver, pending } = await silverProgress(pool);
        if (silver >= MESSAGES && pending === 0) return;
        await sleep(50);
      }
    }),
  );
}

/** The q-quantile (nearest rank) of ascending `sorted`, rounded to 0.1 ms. */
function quantile(sorted: readonly number[], q: number): number {
  const v = sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  return Math.round(v * 10) / 10;
}

const ascending = (values: number[]) => values.sort((a, b) => a - b);

/** Publishes at RATE for SECONDS from another process; each reading's latency from its publish to silver. */
function publishToSilver(
  broker: PrivateMosquitto,
  prefix: string,
  input: 'core' | 'ingest',
): Promise<LatencyResult> {
  return withFlow(broker, prefix, input, async (pool) => {
    const work = mkdtempSync(join(tmpdir(), 'medallion-bench-'));
    const out = join(work, 'published.json');
    const publisher = spawnCollecting(
      process.execPath,
      ['-r', 'tsx/cjs', PACED_PUBLISHER, broker.url, prefix, String(RATE), String(SECONDS), out],
      { cwd: REPO },
    );
    try {
      const count = Number((await publisher.waitFor(/^start (\d+)/m, 60_000))[1]);
      // the silver count every 250 ms until every reading and every batch's silver progress is in
      const samples: Array<{ at: number; silver: number }> = [];
      const until = Date.now() + (SECONDS + 300) * 1000;
      for (;;) {
        const at = Date.now();
        const { silver, pending } = await silverProgress(pool);
        samples.push({ at, silver });
        if (silver >= count && pending === 0) break;
        if (at > until) throw new Error(`${silver} of ${count} readings in silver after ${SECONDS + 300} s`);
        await sleep(250);
      }
      await publisher.waitFor(/^published \d+/m, 60_000);
      const { readings } = JSON.parse(readFileSync(out, 'utf8')) as PublishedFile;

      const { rows } = await pool.query<{ location_id: string; ts: number; validated: number }>(
        `SELECT location_id, (extract(epoch FROM ts) * 1000)::float8 AS ts,
                (extract(epoch FROM validated_at) * 1000)::float8 AS validated
           FROM silver.environment_readings`,
      );
      const validated = new Map(rows.map((r) => [`${r.location_id}@${r.ts}`, r.validated]));
      const latencies = readings.map(([location, ts, publishedMs]) => {
        const v = validated.get(`${location}@${ts}`);
        if (v === undefined)
          throw new Error(`reading ${location}@${new Date(ts).toISOString()} not in silver`);
        return v - publishedMs;
      });
      const quarter = Math.floor(latencies.length / 4);
      const first = ascending(latencies.slice(0, quarter));
      const last = ascending(latencies.slice(-quarter));
      const all = ascending([...latencies]);

      const firstPublish = readings[0][2];
      const lastPublish = readings[readings.length - 1][2];
      // published by a sample's time (readings are in publish order) minus the silver count then
      const lag = ({ at, silver }: { at: number; silver: number }) => {
        let lo = 0;
        let hi = readings.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (readings[mid][2] <= at) lo = mid + 1;
          else hi = mid;
        }
        return lo - silver;
      };
      const end = samples.reduce((a, b) =>
        Math.abs(b.at - lastPublish) < Math.abs(a.at - lastPublish) ? b : a,
      );
      const lagAtEndOfPublishing = lag(end);
      const p50FirstQuarterMs = quantile(first, 0.5);
      const p50LastQuarterMs = quantile(last, 0.5);
      return {
        scenario: `latency-${input}`,
        published: readings.length,
        publishRate: Math.round(((readings.length - 1) * 1000) / (lastPublish - firstPublish)),
        p50Ms: quantile(all, 0.5),
        p95Ms: quantile(all, 0.95),
        p99Ms: quantile(all, 0.99),
        maxMs: quantile(all, 1),
        p50FirstQuarterMs,
        p50LastQuarterMs,
        lagAtEndOfPublishing,
        maxLag: Math.max(...samples.map(lag)),
        backlogGrew: lagAtEndOfPublishing > 2 * RATE || p50LastQuarterMs - p50FirstQuarterMs > 1000,
      };
    } finally {
      if (publisher.child.exitCode === null) publisher.child.kill();
      rmSync(work, { recursive: true, force: true });
    }
  });
}

/** Runs `fn` against a broker of its own: nothing queued by one scenario is seen by the next. */
async function onOwnBroker<T>(fn: (b: PrivateMosquitto, prefix: string) => Promise<T>): Promise<T> {
  const broker = await privateMosquitto(['max_queued_messages 0']);
  try {
    return await fn(broker, `bench${randomUUID().slice(0, 6)}`);
  } finally {
    await broker.dispose();
  }
}

/** The fields of the last saved run. */
function lastRun(): Record<string, unknown> {
  return existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as Record<string, unknown>) : {};
}

async function main(): Promise<void> {
  const wanted = (scenario: string) => !ONLY || ONLY.includes(scenario);
  const throughput: Array<[string, (b: PrivateMosquitto, prefix: string) => Promise<number>]> = [
    ['mqtt.js', bareSubscriber],
    ['core mqtt in', (b, p) => nodeRed(b, p, 'core')],
    ['mqtt ingest', (b, p) => nodeRed(b, p, 'ingest')],
  ];
  const paced: Array<[string, 'core' | 'ingest']> = [
    ['latency-core', 'core'],
    ['latency-ingest', 'ingest'],
  ];
  if (![...throughput, ...paced].some(([scenario]) => wanted(scenario))) {
    throw new Error(`BENCH_ONLY names no scenario of this benchmark: ${process.env.BENCH_ONLY}`);
  }
  const measuredAt = new Date().toISOString();
  const last = lastRun();

  const results: Result[] = [];
  // mqtt.js is the ratio's base: it runs with any throughput scenario
  if (throughput.some(([scenario]) => wanted(scenario))) {
    console.log(`mqtt-to-silver: ${MESSAGES} QoS 1 readings, Mosquitto with an unbounded client queue`);
    for (const [scenario, fn] of throughput) {
      if (scenario !== 'mqtt.js' && !wanted(scenario)) continue;
      const seconds = await onOwnBroker(fn);
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
    }
    for (const r of results) r.ratio = Math.round((r.msgsPerSecond / results[0].msgsPerSecond) * 1000) / 1000;
    console.table(results);
  }

  const latency: LatencyResult[] = [];
  if (paced.some(([scenario]) => wanted(scenario))) {
    console.log(`mqtt-to-silver latency: QoS 1 readings at ${RATE}/s for ${SECONDS} s, publish → silver`);
    for (const [scenario, input] of paced) {
      if (!wanted(scenario)) continue;
      const r = await onOwnBroker((b, p) => publishToSilver(b, p, input));
      latency.push(r);
      console.log(
        `  ${scenario.padEnd(15)} ${String(r.publishRate).padStart(6)}/s  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  max ${r.maxMs} ms`,
      );
    }
    console.table(latency);
  }

  saveResults('mqtt-to-silver', {
    ...(results.length
      ? { messages: MESSAGES, broker: BROKER, results, resultsMeasuredAt: measuredAt }
      : {
          messages: last.messages,
          broker: last.broker,
          results: last.results,
          resultsMeasuredAt: last.resultsMeasuredAt ?? last.measuredAt,
        }),
    ...(latency.length
      ? { latencyRate: RATE, latencySeconds: SECONDS, latency, latencyMeasuredAt: measuredAt }
      : {
          latencyRate: last.latencyRate,
          latencySeconds: last.latencySeconds,
          latency: last.latency,
          latencyMeasuredAt: last.latencyMeasuredAt,
        }),
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
