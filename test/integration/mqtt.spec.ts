/**
 * The bundled flow's MQTT branch on a real broker and a real PostgreSQL: labelled
 * simulator readings (faults included) published through Mosquitto land in silver
 * and quarantine exactly as labelled, redeliveries change nothing, a broker restart
 * mid-stream loses nothing it accepted, and the simulator's half-written files are
 * never read early.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeMessage } from 'node-red';
import type { FileOutcome } from '../../lib/files/watch-types';
import { Simulator, type ItemLabel } from '../../lib/sim/simulator';
import { debugNode, loadBundled, memberOf, type BundledOptions } from '../support/bundled';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { goldMismatches } from '../support/gold';
import { helper, statuses, waitFor } from '../support/flow';
import {
  clearSession,
  client,
  privateMosquitto,
  SHARED_MQTT_URL,
  type PrivateMosquitto,
} from '../support/mqtt';
import { poll } from '../support/processes';

type Published = { topic: string; text: string; label: ItemLabel };

const CAMPUS = memberOf('Simulated sensors', 'medallion-simulator', 'campus sensors');
const FILES = memberOf('Simulated sensors', 'medallion-simulator', 'IoT-temp files');
const PUBLISH = memberOf('Simulated sensors', 'mqtt out');
const INGEST = memberOf('Sensors (MQTT)', 'medallion-mqtt-ingest');

/** The error rule each fault must show up as in quarantine. */
const RULE_OF: Record<string, string[]> = {
  'null-key': ['required'],
  'out-of-range': ['min', 'max'],
  'wrong-type': ['type'],
  malformed: ['parse'],
};

/** A JSON text with sorted keys, to compare records whatever their key order. */
const canonical = (o: Record<string, unknown>) =>
  JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b))));

describe('the MQTT branch of the bundled flow (real Mosquitto, real PostgreSQL)', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let work: string;
  let restore: () => void = () => undefined;
  let clientId: string;
  let brokerUrl = SHARED_MQTT_URL;
  let broker: PrivateMosquitto | undefined;

  beforeEach(async () => {
    db = await createTestDatabase('mqtt');
    work = mkdtempSync(join(tmpdir(), 'medallion-mqtt-'));
    clientId = `medallion-test-${randomBytes(4).toString('hex')}`;
  });
  afterEach(async () => {
    await helper.unload();
    restore();
    await clearSession(brokerUrl, clientId).catch(() => undefined);
    await broker?.dispose();
    broker = undefined;
    brokerUrl = SHARED_MQTT_URL;
    rmSync(work, { recursive: true, force: true });
    await db.drop();
  });

  async function load(options: Omit<BundledOptions, 'mqtt'> & { topicPrefix?: string } = {}) {
    const topicPrefix = options.topicPrefix ?? `t${randomBytes(4).toString('hex')}`;
    const loaded = await loadBundled(db.url, work, {
      ...options,
      mqtt: { url: brokerUrl, clientId, topicPrefix },
    });
    restore = loaded.restore;
    await waitFor(
      () => statuses(INGEST).some((s) => /unacked/.test(s.text ?? '') && s.fill === 'green'),
      15_000,
      'mqtt ingest connected',
    );
    return { ...loaded, topicPrefix };
  }

  /** What the simulator hands to `mqtt out`, as the text that goes on the wire. */
  function tapPublished(): Published[] {
    const out: Published[] = [];
    (helper.getNode(PUBLISH) as unknown as NodeJS.EventEmitter).on(
      'input',
      (m: NodeMessage & { sim: ItemLabel }) =>
        out.push({
          topic: String(m.topic),
          text: typeof m.payload === 'string' ? m.payload : JSON.stringify(m.payload),
          label: m.sim,
        }),
    );
    return out;
  }

  const counts = async () =>
    (
      await query<{ bronze: number; silver: number; quarantine: number; bronze_in: number }>(
        db.url,
        `SELECT (SELECT count(*)::int FROM bronze.records WHERE source_kind = 'mqtt') AS bronze,
                (SELECT count(*)::int FROM silver.environment_readings) AS silver,
                (SELECT count(*)::int FROM silver.quarantine) AS quarantine,
                (SELECT coalesce(sum(rows_in), 0)::int FROM medallion.batches WHERE layer = 'bronze') AS bronze_in`,
      )
    )[0];

  /** Batches with a progress row in layer `from` and none in any of `to`. */
  const pending = async (from: string, ...to: string[]) =>
    (
      await query<{ n: number }>(
        db.url,
        `SELECT count(*)::int AS n FROM medallion.batches b
          WHERE layer = $1 AND NOT EXISTS (
            SELECT 1 FROM medallion.batches s
             WHERE s.source_key = b.source_key AND s.batch = b.batch AND s.layer = ANY($2))`,
        [from, to],
      )
    )[0].n;

  it('stores exactly the valid readings, quarantines exactly the faulty ones, and redeliveries change nothing', async () => {
    await load({
      simulators: true,
      overrides: {
        [CAMPUS]: {
          faults:
            'null-key: 0.04, out-of-range: 0.04, malformed: 0.03, wrong-type: 0.04, duplicate: 0.05, late: 0.05',
        },
      },
    });
    const published = tapPublished();
    const sim = helper.getNode(CAMPUS);
    sim.receive({ payload: 600 });
    sim.receive({ payload: 'stop' }); // the late readings still held back go out too
    // messages travel asynchronously: wait until all 600 (and the copies) have reached mqtt out
    await waitFor(() => published.length >= 600, 10_000, 'the readings at mqtt out');
    let seen = 0;
    await poll(
      async () => (published.length === seen ? true : ((seen = published.length), undefined)),
      10_000,
      'no more readings',
      200,
    );
    const labels = published.map((p) => p.label);
    const stored = labels.filter((l) => l.expect === 'stored');
    const quarantined = labels.filter((l) => l.expect === 'quarantined');
    for (const fault of ['null-key', 'out-of-range', 'malformed', 'wrong-type', 'duplicate', 'late']) {
      assert.ok(
        labels.some((l) => l.fault?.fault === fault),
        `the simulator injected ${fault}`,
      );
    }
    assert.equal(labels.length, 600 + labels.filter((l) => l.expect === 'duplicate').length);

    // every reading reaches bronze (once per key), then silver or quarantine
    const first = await poll(
      async () => {
        const c = await counts();
        return c.bronze_in === labels.length && c.silver + c.quarantine === stored.length + quarantined.length
          ? c
          : undefined;
      },
      60_000,
      'every reading in silver or quarantine',
    );
    assert.equal(first.bronze, stored.length + quarantined.length, 'a duplicate makes no second bronze row');

    const silverKeys = await query<{ key: string }>(
      db.url,
      `SELECT location_id || '@' || to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS key
         FROM silver.environment_readings ORDER BY 1`,
    );
    assert.deepEqual(
      silverKeys.map((r) => r.key),
      stored.map((l) => l.key).sort(),
      'silver holds exactly the readings labelled stored',
    );

    const rows = await query<{ record: Record<string, unknown>; rules: string[] }>(
      db.url,
      `SELECT record, (SELECT array_agg(DISTINCT e->>'rule') FROM jsonb_array_elements(errors) e) AS rules
         FROM silver.quarantine`,
    );
    const wanted = published
      .filter((p) => p.label.expect === 'quarantined')
      .map((p) => [p.label.fault!.fault, p.label.fault!.fault === 'malformed' ? '{}' : p.text] as const);
    const got = rows.map((r) => {
      const fault = Object.keys(RULE_OF).find((f) => RULE_OF[f].some((rule) => r.rules.includes(rule)));
      return [fault, canonical(r.record)] as const;
    });
    const norm = (list: ReadonlyArray<readonly [string | undefined, string]>) =>
      list
        .map(
          ([f, text]) =>
            `${f} ${text === '{}' ? text : canonical(JSON.parse(text) as Record<string, unknown>)}`,
        )
        .sort();
    assert.deepEqual(
      norm(got),
      norm(wanted),
      'quarantine holds exactly the faulty readings, each for its fault',
    );

    await poll(async () => ((await pending('silver', 'gold')) === 0 ? true : undefined), 60_000, 'gold');
    const gold = await goldMismatches(db.url, [3600, 86400]);
    assert.deepEqual(gold.mismatches, []);

    // QoS 1 redelivers what was not acknowledged: the same messages again change nothing
    const again = await client(brokerUrl);
    for (const p of published) await again.publishAsync(p.topic, p.text, { qos: 1 });
    await again.endAsync();
    const after = await poll(
      async () => {
        const c = await counts();
        return c.bronze_in === 2 * labels.length ? c : undefined;
      },
      60_000,
      'the redeliveries through bronze',
    );
    const settled = await poll(
      async () => ((await pending('bronze', 'silver', 'quarantine')) === 0 ? counts() : undefined),
      60_000,
      'every redelivered batch through silver',
    );
    assert.deepEqual({ ...settled, bronze_in: 0 }, { ...first, bronze_in: 0 });
    assert.equal(after.bronze, first.bronze);
  });

  it('loses nothing the broker accepted when it restarts mid-stream (persistence on, QoS 1, persistent session)', async () => {
    broker = await privateMosquitto();
    brokerUrl = broker.url;
    const { topicPrefix } = await load();
    const sim = new Simulator({
      mode: 'messages',
      schema: 'iot-environment',
      locations: ['201', '202', '203', '204'],
      rate: 4,
      seed: 7,
      faults: {},
      topic: `${topicPrefix}/sensors/{device}/readings`,
      arrays: false,
    });
    const messages = sim.messages(sim.burst(800, Date.now()));
    const publisher = await client(broker.url, { clientId: `${clientId}-pub`, clean: false });
    const acked: Array<Promise<unknown>> = [];
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i];
      acked.push(publisher.publishAsync(m.topic, JSON.stringify(m.payload), { qos: 1 }));
      if (i === 300) {
        await broker.stop();
        setTimeout(() => void broker!.start(), 1000);
      }
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 20));
    }
    await Promise.all(acked);
    await publisher.endAsync();
    await clearSession(broker.url, `${clientId}-pub`);
    const stored = await poll(
      async () => {
        const c = await counts();
        return c.silver >= messages.length ? c : undefined;
      },
      60_000,
      'every accepted reading in silver',
    );
    assert.deepEqual(
      { silver: stored.silver, quarantine: stored.quarantine, bronze: stored.bronze },
      { silver: 800, quarantine: 0, bronze: 800 },
    );
  });

  it("the simulator's half-written files are never read early by the watch-folder", async () => {
    const loaded = await loadBundled(db.url, work, {
      simulators: true,
      overrides: { [FILES]: { faults: 'half-written: 1', rate: '60', interval: '0.7' } },
    });
    restore = loaded.restore;
    const written: Array<{ name: string; rows: number; halfWritten: boolean }> = [];
    const outcomes: FileOutcome[] = [];
    (helper.getNode(debugNode('Simulated sensors', 'files written')) as unknown as NodeJS.EventEmitter).on(
      'input',
      (m: NodeMessage & { payload: { name: string; rows: number; halfWritten: boolean } }) =>
        written.push(m.payload),
    );
    (helper.getNode(debugNode('Landing (files)', 'files')) as unknown as NodeJS.EventEmitter).on(
      'input',
      (m: NodeMessage & { payload: FileOutcome }) => outcomes.push(m.payload),
    );
    const sim = helper.getNode(FILES);
    sim.receive({ payload: 'start' });
    await waitFor(() => written.length >= 4, 20_000, 'four files written');
    sim.receive({ payload: 'stop' });
    await waitFor(() => outcomes.length >= written.length, 30_000, 'every file loaded');
    assert.ok(written.every((w) => w.halfWritten));
    assert.deepEqual(
      outcomes.map((o) => [o.file, o.state, o.rowsRead]).sort(),
      written.map((w) => [w.name, 'loaded', w.rows]).sort(),
      'each file read whole, once it was complete',
    );
  });
});
