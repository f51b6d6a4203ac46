/**
 * flows/medallion.json in node-red-node-test-helper, as `npm start` deploys it: its
 * `${…}` settings from the environment, its debug nodes as helper nodes (so a test
 * reads what they would show), and a fingerprint of what it stored, to compare it
 * with another way of loading the same files (the CLI).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { NodeMessage } from 'node-red';
import aggregateNode from '../../nodes/aggregate/aggregate';
import anomalyNode from '../../nodes/anomaly/anomaly';
import mqttBatchNode from '../../nodes/mqtt-batch/mqtt-batch';
import mqttIngestNode from '../../nodes/mqtt-ingest/mqtt-ingest';
import pgConfigNode from '../../nodes/pg-config/pg-config';
import pgWriteNode from '../../nodes/pg-write/pg-write';
import quarantineNode from '../../nodes/quarantine/quarantine';
import simulatorNode from '../../nodes/simulator/simulator';
import validateNode from '../../nodes/validate/validate';
import watchFolderNode from '../../nodes/watch-folder/watch-folder';
import { query } from './db';
import { helper } from './flow';
import type { FlowNode } from './landing-flow';

/* eslint-disable @typescript-eslint/no-require-imports -- Node-RED's core nodes are CommonJS modules */
const CORE = [
  'common/20-inject',
  'common/90-comment',
  'function/10-function',
  'function/10-switch',
  'network/10-mqtt',
].map((m) => require(`@node-red/nodes/core/${m}.js`));
/* eslint-enable @typescript-eslint/no-require-imports */

export const BUNDLED: FlowNode[] = JSON.parse(
  readFileSync(resolve(__dirname, '..', '..', 'flows', 'medallion.json'), 'utf8'),
);

/**
 * The bundled flow without its Dashboard group and Dashboard 2.0's config nodes: the pipeline
 * as the test helper runs it (it has no Dashboard 2.0; test/e2e/dashboard.spec.ts runs that).
 */
export const PIPELINE: FlowNode[] = (() => {
  const dashboard = BUNDLED.find((n) => n.type === 'group' && n.name === 'Dashboard')!.id;
  return BUNDLED.filter((n) => n.id !== dashboard && n.g !== dashboard && !n.type.startsWith('ui-'));
})();

/** The ids of the bundled flow's nodes in the group labelled `group`. */
export function groupMembers(group: string): string[] {
  const g = BUNDLED.find((n) => n.type === 'group' && n.name === group)!;
  return BUNDLED.filter((n) => n.g === g.id).map((n) => n.id);
}

/** The id of the bundled flow's node of `type` (named `name`) in the group labelled `group`. */
export function memberOf(group: string, type: string, name?: string): string {
  const ids = new Set(groupMembers(group));
  return BUNDLED.find((n) => ids.has(n.id) && n.type === type && (name === undefined || n.name === name))!.id;
}

/** The id of the bundled flow's debug node named `name` in the group labelled `group`. */
export function debugNode(group: string, name: string): string {
  return memberOf(group, 'debug', name);
}

const ENV = [
  'DATABASE_URL',
  'MEDALLION_LANDING',
  'MEDALLION_QUARANTINE',
  'MEDALLION_INSTANCE',
  'MQTT_URL',
  'MQTT_TOPIC',
  'MQTT_CLIENT_ID',
];

export interface BundledOptions {
  /** The MQTT branch's broker; without one the branch and the MQTT simulator are disabled. */
  mqtt?: {
    url: string;
    clientId: string;
    /** Put before the topics of the MQTT branch and the simulator, so tests on one broker do not meet. */
    topicPrefix: string;
  };
  /** Keep the simulators (not started: a test starts them by message); else they are disabled. */
  simulators?: boolean;
  /** Node settings to change, by node id. */
  overrides?: Record<string, Record<string, unknown>>;
  /** Nodes to disable besides, by id (e.g. a whole group's members). */
  disable?: string[];
  /** Nodes to add (e.g. another route into a group's nodes). */
  extra?: FlowNode[];
}

/**
 * Loads the bundled flow on `url` with its landing folder `<work>/landing` (created, as
 * `npm start` does) and quarantine folder `<work>/quarantine`. What the options leave
 * out is disabled, as a user disables nodes. Returns the messages the "refused" and
 * "not stored" debug nodes get, the environment's restore and the flow loaded (to deploy again).
 */
export async function loadBundled(url: string, work: string, options: BundledOptions = {}) {
  const { mqtt, simulators = false, overrides = {}, disable = [], extra = [] } = options;
  const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
  Object.assign(process.env, {
    DATABASE_URL: url,
    MEDALLION_LANDING: join(work, 'landing'),
    MEDALLION_QUARANTINE: join(work, 'quarantine'),
    MEDALLION_INSTANCE: 'bundled-test',
    ...(mqtt
      ? {
          MQTT_URL: mqtt.url,
          MQTT_CLIENT_ID: mqtt.clientId,
          MQTT_TOPIC: `${mqtt.topicPrefix}/sensors/+/readings`,
        }
      : {}),
  });
  const restore = () => {
    for (const k of ENV) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  };
  mkdirSync(join(work, 'landing'), { recursive: true });
  const sims = groupMembers('Simulated sensors');
  const needBroker = (id: string) => {
    const n = BUNDLED.find((m) => m.id === id)!;
    return n.type === 'mqtt out' || n.mode === 'messages';
  };
  const disabled = new Set([
    ...(mqtt ? [] : groupMembers('Sensors (MQTT)')),
    ...sims.filter((id) => !simulators || (!mqtt && needBroker(id))),
    ...disable,
  ]);
  const flow = PIPELINE.map((n) => {
    if (n.type === 'debug') return { id: n.id, z: n.z, g: n.g, type: 'helper', name: n.name };
    if (disabled.has(n.id)) return { ...n, d: true };
    const changed = { ...n, ...overrides[n.id] };
    if (n.type === 'medallion-simulator') {
      Object.assign(changed, { autoStart: false, topic: `${mqtt?.topicPrefix}/${String(changed.topic)}` });
    }
    return changed;
  }).concat(extra);
  await helper.load(
    [
      ...CORE,
      pgConfigNode,
      pgWriteNode,
      watchFolderNode,
      validateNode,
      quarantineNode,
      aggregateNode,
      anomalyNode,
      mqttBatchNode,
      mqttIngestNode,
      simulatorNode,
    ],
    flow,
  );
  const seen: Record<string, NodeMessage[]> = {};
  for (const [group, name] of [
    ['Bronze', 'refused (files)'],
    ['Bronze', 'refused (MQTT)'],
    ['Silver', 'not stored'],
    ['Gold', 'not stored'],
  ]) {
    const got: NodeMessage[] = (seen[`${group}: ${name}`] = []);
    (helper.getNode(debugNode(group, name)) as unknown as NodeJS.EventEmitter).on('input', (m: NodeMessage) =>
      got.push(m),
    );
  }
  return { seen, restore, flow };
}

/**
 * md5 of each table's rows from files, without what differs between two loads of the
 * same files (generated ids, run ids, times).
 */
export async function fingerprints(url: string): Promise<Record<string, string>> {
  const tables: Record<string, string> = {
    bronze: `SELECT source_kind, source_key, source_name, line_no, raw, batch FROM bronze.records WHERE source_kind = 'file'`,
    temperature: `SELECT id, room_id, ts, temp, out_in, quality_score, rule_version, source_key, line_no FROM silver.temperature_readings`,
    environment: `SELECT location_id, ts, temperature_celsius, humidity_percent, air_quality_index, noise_level_db, lighting_lux,
                         crowd_density, stress_level, sleep_hours, mood_score, mental_health_status, quality_score,
                         rule_version, source_key, line_no FROM silver.environment_readings`,
    quarantine: `SELECT source_key, line_no, rule_version, source_name, record, errors FROM silver.quarantine`,
    gold: `SELECT * FROM gold.metric_windows`,
    // lineage aside: the same reading may have come from another file
    anomalies: `SELECT ts, location_id, metric, reading, value, score, baseline, method, threshold FROM gold.anomalies`,
  };
  const out: Record<string, string> = {};
  for (const [name, sql] of Object.entries(tables)) {
    const [row] = await query<{ md5: string; n: number }>(
      url,
      `SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS md5, count(*)::int AS n FROM (${sql}) t`,
    );
    out[name] = `${row.n} rows, ${row.md5}`;
  }
  return out;
}
