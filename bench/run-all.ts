/**
 * `npm run bench`: issue #12's six scenarios in one invocation, one after the other, each in
 * a process of its own (so one scenario's memory and warm caches are not the next one's):
 *   1. schema limit   bench/schema-limit.ts     COPY into tables LIKE bronze and silver, plain COPY
 *   2. naive          bench/naive-node-red.ts   core file in → csv → function, INSERT per row
 *   3. ours-file      bench/ours-file.ts        the file branch (drop → run complete) and
 *                                               `medallion ingest` (process start included)
 *   4. ours-mqtt      bench/mqtt-to-silver.ts   core mqtt in vs mqtt ingest, sustained; p50/p99 at 5 000/s
 *   5. latency        bench/ours-file.ts        a 10 000-row file dropped → its rows in silver
 *   6. memory         bench/memory.ts           peak RSS of `medallion ingest` on a big file
 * Every ratio is to a baseline measured in this run (each scenario's saved JSON is checked to
 * be from this run). Writes bench/results/latest.json (figures, ratios, targets met or missed
 * by how much, the machine, the commit) and prints the table the README shows.
 *
 *   npm run bench        the issue's sizes: 1M-row file, 100k naive rows, 50k MQTT messages,
 *                        a 1 GiB file for memory (hours on a 2-core machine)
 *   BENCH_ROWS=…  BENCH_NAIVE_ROWS=…  BENCH_MESSAGES=…  BENCH_SECONDS=…  BENCH_MEMORY_BYTES=…
 *                        to shorten (a smoke run: BENCH_ROWS=20000 BENCH_NAIVE_ROWS=5000
 *                        BENCH_MESSAGES=5000 BENCH_SECONDS=5 BENCH_MEMORY_BYTES=5000000)
 * Run it on a quiet machine: the load average at the start and end is kept with the figures.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { ADMIN_URL } from './support';
import { summarize, summaryText, type RunFigures } from './report';

const REPO = resolve(__dirname, '..');
const RESULTS = join(__dirname, 'results');
const env = process.env;

/** name: the results file it saves; the environment it runs with. */
const STEPS: Array<{ script: string; name: string; env: Record<string, string | undefined> }> = [
  { script: 'schema-limit.ts', name: 'schema-limit', env: { BENCH_ROWS: env.BENCH_ROWS } },
  { script: 'naive-node-red.ts', name: 'naive', env: { BENCH_ROWS: env.BENCH_NAIVE_ROWS } },
  { script: 'ours-file.ts', name: 'ours-file', env: { BENCH_ROWS: env.BENCH_ROWS, BENCH_ONLY: undefined } },
  { script: 'mqtt-to-silver.ts', name: 'mqtt-to-silver', env: { BENCH_ONLY: undefined } },
  { script: 'memory.ts', name: 'memory', env: {} },
];

function readResults(name: string, since: number): Record<string, unknown> {
  const run = JSON.parse(readFileSync(join(RESULTS, `${name}.json`), 'utf8')) as Record<string, unknown>;
  const at = Date.parse(String(run.measuredAt));
  if (!(at >= since)) throw new Error(`bench/results/${name}.json is not from this run (${run.measuredAt})`);
  return run;
}

async function postgresVersion(): Promise<string> {
  const c = new Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return String((await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0].v);
  } finally {
    await c.end();
  }
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: REPO, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadAtStart = loadavg()[0];
  for (const step of STEPS) {
    console.log(`\n== bench/${step.script}`);
    const stepEnv: NodeJS.ProcessEnv = { ...env };
    for (const [k, v] of Object.entries(step.env)) {
      if (v === undefined) delete stepEnv[k];
      else stepEnv[k] = v;
    }
    const r = spawnSync(join(REPO, 'node_modules', '.bin', 'tsx'), [join(__dirname, step.script)], {
      cwd: REPO,
      env: stepEnv,
      stdio: 'inherit',
    });
    if (r.status !== 0) throw new Error(`bench/${step.script} failed (exit ${r.status ?? r.signal})`);
  }
  const saved = Object.fromEntries(STEPS.map((s) => [s.name, readResults(s.name, started)]));
  const figures = {
    schemaLimit: saved['schema-limit'],
    naive: saved.naive,
    oursFile: saved['ours-file'],
    mqtt: saved['mqtt-to-silver'],
    memory: saved.memory,
  } as unknown as RunFigures;
  const summary = summarize(figures);
  const latest = {
    measuredAt: new Date(started).toISOString(),
    minutes: Math.round((Date.now() - started) / 600) / 100,
    command: `${Object.entries(env)
      .filter(([k]) => /^BENCH_|^MEDALLION_HEAP_MB$/.test(k))
      .map(([k, v]) => `${k}=${v} `)
      .join('')}npm run bench`,
    machine: {
      cpus: cpus().length,
      cpu: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      postgresql: await postgresVersion(),
      loadAverage: { atStart: loadAtStart, atEnd: loadavg()[0] },
    },
    commit: git(['rev-parse', 'HEAD']),
    // the scenarios rewrite bench/results/ themselves: only other changes make the commit's code not what ran
    dirty: git(['status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench/results']) !== '',
    ratios: summary.ratios,
    targets: summary.targets,
    table: summary.rows,
    scenarios: figures,
  };
  writeFileSync(join(RESULTS, 'latest.json'), `${JSON.stringify(latest, null, 2)}\n`);
  console.log(
    `\nnpm run bench: ${latest.command} (${latest.minutes} min, commit ${latest.commit.slice(0, 7)})\n`,
  );
  console.log(summaryText(summary));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
