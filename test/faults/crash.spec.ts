/**
 * kill -9 anywhere: the headless pipeline (`medallion ingest <dir> --once`, the built
 * CLI in its own process) on a generated 200 000-row campus file with seeded invalid
 * rows is killed with SIGKILL at seeded points chosen by what PostgreSQL shows — while
 * the file is parsed, while batches sit in bronze and not in silver, while gold is
 * computed or written (also once the whole file is in bronze) — restarted after each
 * kill, then left to finish. Every layer must then hold each row exactly once.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Pool } from 'pg';
import { seededRows, writeIotEnvironmentCsv } from '../../lib/generators/iot-environment-csv';
import { Random } from '../../lib/sim/random';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { layerCounts, reportOutcome, type LayerCounts } from '../support/faults';
import { goldMismatches } from '../support/gold';
import { poll, spawnCollecting, type Spawned } from '../support/processes';

const cli = resolve(__dirname, '..', '..', 'dist', 'bin', 'medallion.js');
const ROWS = 200_000;
const INVALID = 1_000;
const BATCH = 5_000;
const BATCHES = ROWS / BATCH;
const SEED = 13;
const LAYERS = ['bronze', 'silver', 'quarantine', 'anomalies', 'gold'];

const committed = (l: LayerCounts) => Object.values(l).reduce((a, b) => a + b, 0);

type Phase = 'parsing' | 'bronze, not silver' | 'gold' | 'gold, file read';

interface KillPoint {
  phase: Phase;
  /** The kill waits for at least this many batches in bronze. */
  bronzeAtLeast: number;
}

interface Observed {
  layers: LayerCounts;
  /** A statement of gold (the windows' recompute or the write of gold.metric_windows) running now on a connection of the running process. */
  goldActive: boolean;
  parsing: boolean;
}

/** 9 kills across the file, each phase three times at seeded bronze targets, then 3 once it is all in bronze. */
function killPoints(random: Random): KillPoint[] {
  const targets = [...Array(9)].map(() => 2 + random.int(BATCHES - 8)).sort((a, b) => a - b);
  const phases: Phase[] = ['parsing', 'bronze, not silver', 'gold'];
  const offset = random.int(3);
  const mid = targets.map((bronzeAtLeast, i) => ({ phase: phases[(i + offset) % 3], bronzeAtLeast }));
  return [...mid, ...[0, 1, 2].map(() => ({ phase: 'gold, file read' as Phase, bronzeAtLeast: BATCHES }))];
}

/** Whether the running process is at the kill point; it must have committed something itself first. */
function holds(k: KillPoint, o: Observed, committedAtStart: number): boolean {
  const bronze = o.layers.bronze ?? 0;
  if (bronze < k.bronzeAtLeast || committed(o.layers) <= committedAtStart) return false;
  switch (k.phase) {
    case 'parsing':
      return o.parsing && bronze < BATCHES;
    case 'bronze, not silver':
      return bronze > (o.layers.silver ?? 0);
    case 'gold':
      return o.goldActive && bronze < BATCHES;
    case 'gold, file read':
      return o.goldActive && (o.layers.gold ?? 0) < BATCHES;
  }
}

describe('faults: kill -9 of the headless pipeline (200 000 rows)', function () {
  this.timeout(600_000);
  let db: TestDatabase;
  let work: string;
  let landing: string;
  let pool: Pool;
  let running: Spawned | undefined;

  before(async () => {
    assert.ok(existsSync(cli), 'dist/ is missing: run npm run build');
    db = await createTestDatabase('crash');
    work = mkdtempSync(join(tmpdir(), 'medallion-crash-'));
    landing = join(work, 'landing');
    mkdirSync(landing);
    pool = new Pool({ connectionString: db.url, max: 1 });
  });

  after(async () => {
    if (running?.child.exitCode === null) {
      running.child.kill('SIGKILL');
      await running.exited(10_000);
    }
    await pool?.end();
    rmSync(work, { recursive: true, force: true });
    await db?.drop();
  });

  function ingest(): Spawned {
    running = spawnCollecting(
      process.execPath,
      [cli, 'ingest', landing, '--once', '--json', '--database-url', db.url],
      { env: { ...process.env, MEDALLION_INSTANCE: 'crash-test' } },
    );
    return running;
  }

  /** What PostgreSQL and the landing folder show; `since`: the server's time the running process started. */
  async function observe(since = new Date(0)): Promise<Observed> {
    const layers = await layerCounts(pool).catch(() => ({}) as LayerCounts); // no tables before the migrations
    // a killed process's statements run on until the server notices: only the connections of the running one
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
          AND backend_start > $1 AND (query LIKE '%date_bin%' OR query LIKE '%metric_windows%')`,
      [since],
    );
    const parsing = existsSync(join(landing, 'processing', 'big.csv'));
    return { layers, goldActive: rows[0].n > 0, parsing };
  }

  it('keeps every valid row once in silver, every invalid one once in quarantine, gold exact, the ledger reconciled', async () => {
    const invalid = seededRows(ROWS, INVALID, SEED);
    const file = join(landing, 'big.csv');
    await writeIotEnvironmentCsv(file, ROWS, new Set(invalid));
    const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
    const invalidLines = invalid.map((i) => i + 2); // line 1 is the header

    const points = killPoints(new Random(SEED));
    const kills: Array<{ phase: Phase; layers: LayerCounts; recoveryMs?: number }> = [];
    const started = Date.now();
    let killedAt: number | undefined;
    /** Notes in the last kill how long after it the restarted pipeline committed a batch again. */
    const recovery = (before: number) => (o: Observed) => {
      const k = kills.at(-1);
      if (k && k.recoveryMs === undefined && committed(o.layers) > before)
        k.recoveryMs = Date.now() - killedAt!;
    };
    for (const point of points) {
      const [{ now }] = (await pool.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows;
      const atStart = committed((await observe()).layers);
      const proc = ingest();
      const recovered = recovery(atStart);
      const seen = await poll(
        async () => {
          if (proc.child.exitCode !== null) return 'finished' as const;
          const o = await observe(now);
          recovered(o);
          return holds(point, o, atStart) ? o : undefined;
        },
        120_000,
        `the kill point ${point.phase} (bronze ≥ ${point.bronzeAtLeast})`,
        20,
      );
      if (seen === 'finished') break; // the pipeline finished before this point came
      proc.child.kill('SIGKILL');
      killedAt = Date.now();
      assert.equal(await proc.exited(10_000), null, 'killed by the signal');
      kills.push({ phase: point.phase, layers: seen.layers });
    }

    const recovered = recovery(committed((await observe()).layers));
    const last = ingest();
    await poll(
      async () => {
        recovered(await observe());
        return last.child.exitCode !== null || undefined;
      },
      300_000,
      'the last run to finish',
      20,
    );
    assert.equal(await last.exited(10_000), 0, last.output());
    const summary = JSON.parse(last.output().trim().split('\n').at(-1)!) as { errors: string[] };
    assert.deepEqual(summary.errors, []);
    const totalMs = Date.now() - started;

    for (const k of kills) console.log(`      killed at ${k.phase}: ${JSON.stringify(k.layers)}`);
    assert.ok(kills.length >= 10, `${kills.length} kills`);
    for (const phase of ['parsing', 'bronze, not silver', 'gold', 'gold, file read'] as Phase[]) {
      assert.ok(
        kills.some((k) => k.phase === phase),
        `a kill ${phase}`,
      );
    }

    const [silver] = await query<{ stored: number; lines: number; invalid: number }>(
      db.url,
      `SELECT count(*)::int AS stored, count(DISTINCT line_no)::int AS lines,
              count(*) FILTER (WHERE line_no = ANY($1))::int AS invalid
         FROM silver.environment_readings WHERE source_key = $2`,
      [invalidLines, sha256],
    );
    const valid = ROWS - INVALID;
    const silverLost = valid - (silver.lines - silver.invalid);
    assert.deepEqual(silver, { stored: valid, lines: valid, invalid: 0 });

    const [quarantine] = await query<{ stored: number; lines: number; expected: number }>(
      db.url,
      `SELECT count(*)::int AS stored, count(DISTINCT line_no)::int AS lines,
              count(*) FILTER (WHERE line_no = ANY($1))::int AS expected
         FROM silver.quarantine WHERE source_key = $2`,
      [invalidLines, sha256],
    );
    assert.deepEqual(quarantine, { stored: INVALID, lines: INVALID, expected: INVALID });

    const [bronze] = await query<{ stored: number; lines: number }>(
      db.url,
      'SELECT count(*)::int AS stored, count(DISTINCT line_no)::int AS lines FROM bronze.records WHERE source_key = $1',
      [sha256],
    );
    assert.deepEqual(bronze, { stored: ROWS, lines: ROWS });

    const gold = await goldMismatches(db.url, [3600, 86400]);
    assert.deepEqual(gold.mismatches.slice(0, 5), []);
    assert.ok(gold.windows > 0);

    assert.deepEqual(readdirSync(join(landing, 'processed')), ['big.csv']);
    assert.deepEqual(readdirSync(join(landing, 'processing')), []);
    assert.ok(!existsSync(file));

    const files = await query(
      db.url,
      'SELECT sha256, state, rows_read::int, batches, batch_size FROM medallion.files',
    );
    assert.deepEqual(files, [
      { sha256, state: 'loaded', rows_read: ROWS, batches: BATCHES, batch_size: BATCH },
    ]);
    const runs = await query(
      db.url,
      `SELECT status, rows_read::int, rows_inserted::int, rows_duplicate::int, rows_quarantined::int,
              rows_skipped::int, batches FROM medallion.runs`,
    );
    assert.deepEqual(runs, [
      {
        status: 'complete',
        rows_read: ROWS,
        rows_inserted: valid,
        rows_duplicate: 0,
        rows_quarantined: INVALID,
        rows_skipped: 0,
        batches: BATCHES,
      },
    ]);
    const batches = await query<{ layer: string; n: number; lo: number; hi: number; rows_in: number }>(
      db.url,
      `SELECT layer, count(*)::int AS n, min(batch) AS lo, max(batch) AS hi, sum(rows_in)::int AS rows_in
         FROM medallion.batches WHERE source_key = $1 GROUP BY layer ORDER BY layer`,
      [sha256],
    );
    assert.deepEqual(
      batches.map((b) => [b.layer, b.n, b.lo, b.hi]),
      [...LAYERS].sort().map((l) => [l, BATCHES, 0, BATCHES - 1]),
    );
    const rowsIn = Object.fromEntries(batches.map((b) => [b.layer, b.rows_in]));
    assert.deepEqual([rowsIn.bronze, rowsIn.silver, rowsIn.quarantine], [ROWS, valid, INVALID]);

    const recoveries = kills.flatMap((k) => (k.recoveryMs === undefined ? [] : [k.recoveryMs]));
    reportOutcome({
      fault: `kill -9 × ${kills.length} (silver)`,
      expected: valid,
      stored: silver.stored,
      doubled: silver.stored - silver.lines,
      lost: silverLost,
      recoveryMs: Math.max(...recoveries),
      note: `quarantine ${quarantine.stored} of ${INVALID}, gold windows ${gold.windows} exact, ${(totalMs / 1000).toFixed(1)} s in all`,
    });
  });
});
