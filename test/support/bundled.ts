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
import pgConfigNode from '../../nodes/pg-config/pg-config';
import pgWriteNode from '../../nodes/pg-write/pg-write';
import quarantineNode from '../../nodes/quarantine/quarantine';
import validateNode from '../../nodes/validate/validate';
import watchFolderNode from '../../nodes/watch-folder/watch-folder';
import { query } from './db';
import { helper } from './flow';
import type { FlowNode } from './landing-flow';

/* eslint-disable @typescript-eslint/no-require-imports -- Node-RED's core nodes are CommonJS modules */
const CORE = ['common/20-inject', 'common/90-comment', 'function/10-function', 'function/10-switch'].map(
  (m) => require(`@node-red/nodes/core/${m}.js`),
);
/* eslint-enable @typescript-eslint/no-require-imports */

export const BUNDLED: FlowNode[] = JSON.parse(
  readFileSync(resolve(__dirname, '..', '..', 'flows', 'medallion.json'), 'utf8'),
);

/** The id of the bundled flow's debug node named `name` in the group labelled `group`. */
export function debugNode(group: string, name: string): string {
  const g = BUNDLED.find((n) => n.type === 'group' && n.name === group)!;
  return BUNDLED.find((n) => n.type === 'debug' && n.g === g.id && n.name === name)!.id;
}

const ENV = ['DATABASE_URL', 'MEDALLION_LANDING', 'MEDALLION_QUARANTINE', 'MEDALLION_INSTANCE'];

/**
 * Loads the bundled flow on `url` with its landing folder `<work>/landing` (created, as
 * `npm start` does) and quarantine folder `<work>/quarantine`. Returns the messages the
 * "refused" and "not stored" debug nodes get, and the environment's restore.
 */
export async function loadBundled(url: string, work: string) {
  const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
  Object.assign(process.env, {
    DATABASE_URL: url,
    MEDALLION_LANDING: join(work, 'landing'),
    MEDALLION_QUARANTINE: join(work, 'quarantine'),
    MEDALLION_INSTANCE: 'bundled-test',
  });
  const restore = () => {
    for (const k of ENV) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  };
  mkdirSync(join(work, 'landing'), { recursive: true });
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
    ],
    BUNDLED.map((n) => (n.type === 'debug' ? { id: n.id, z: n.z, g: n.g, type: 'helper', name: n.name } : n)),
  );
  const seen: Record<string, NodeMessage[]> = {};
  for (const [group, name] of [
    ['Landing (files)', 'refused'],
    ['Silver', 'not stored'],
    ['Gold', 'not stored'],
  ]) {
    const got: NodeMessage[] = (seen[`${group}: ${name}`] = []);
    (helper.getNode(debugNode(group, name)) as unknown as NodeJS.EventEmitter).on('input', (m: NodeMessage) =>
      got.push(m),
    );
  }
  return { seen, restore };
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
