/** What the benchmarks share: a database of their own, and where a benchmark keeps its last run. */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

export const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** One scenario's figures, as the benchmarks print and save them. */
export interface BenchResult {
  scenario: string;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  /** To the run's baseline scenario. */
  ratio?: number;
  peakRssMB?: number;
}

/** Runs `fn` on a database created for it (on the server of ADMIN_URL) and dropped afterwards. */
export async function withDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const name = `medallion_bench_${randomUUID().slice(0, 8)}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  try {
    return await fn(url.toString());
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

/** Keeps a benchmark's last run in `bench/results/<name>.json`, with when and on what it ran. */
export function saveResults(name: string, details: Record<string, unknown>): void {
  const dir = join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const run = {
    measuredAt: new Date().toISOString(),
    machine: { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    ...details,
  };
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(run, null, 2)}\n`);
}

/**
 * Takes node-red-node-test-helper's sinon spies off Node.prototype (send, status, log, …):
 * they keep every call's arguments and an Error with its stack, so a benchmark would measure
 * the helper recording every message (and hold every batch in memory) instead of Node-RED.
 * Restoring the prototype is not enough: Node-RED copies `Node.prototype.send` onto every
 * node it creates (Node#updateWires), so the nodes the helper loaded keep the spy as their own
 * `send`; it is put back to the real one on each of them. Call it after `helper.load`; it
 * reaches into the helper's private sandbox and runtime.
 */
export function withoutHelperSpies(helper: object): void {
  type Spied = { send?: { args?: unknown[] } };
  const h = helper as {
    _sandbox: { restore(): void };
    _NodePrototype: { send: unknown };
    _RED: { nodes: { eachNode(fn: (n: { id: string }) => void): void; getNode(id: string): Spied | null } };
  };
  h._sandbox.restore();
  h._RED.nodes.eachNode(({ id }) => {
    const node = h._RED.nodes.getNode(id);
    if (node && Object.hasOwn(node, 'send') && Array.isArray(node.send?.args)) {
      node.send = h._NodePrototype.send as Spied['send'];
    }
  });
}
