/**
 * Peak RSS of the runtime ingesting a big file: `medallion ingest <file> --once` (a real
 * Node-RED process running the bundled flow's file branch: bronze, silver, quarantine,
 * anomalies, gold) on a generated iot-environment CSV of BENCH_MEMORY_BYTES (default 1 GiB,
 * ~15.5M rows, about an hour at the branch's rate here). Every process of the command is
 * sampled from /proc/<pid>/status every 250 ms: VmHWM (the kernel's own peak) of the process
 * running Node-RED (the CLI relaunches itself under its heap limit, lib/cli/heap.ts; the
 * launcher is reported apart), and VmRSS over time, to show whether memory grows with the file.
 *
 *   npm run bench:memory                        (BENCH_MEMORY_BYTES=… to change the size)
 *   MEDALLION_HEAP_MB=0 npm run bench:memory    (the runtime without the CLI's heap limit)
 */
import { readFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { saveResults, withDatabase } from './support';
import { writeIotEnvironmentCsv } from '../lib/generators/iot-environment-csv';
import { spawnCollecting } from '../test/support/processes';

const BYTES = Number(process.env.BENCH_MEMORY_BYTES ?? 2 ** 30);
const SAMPLE_MS = 250;
const REPO = resolve(__dirname, '..');

export interface MemoryResult {
  scenario: 'memory';
  rows: number;
  bytes: number;
  seconds: number;
  rowsPerSecond: number;
  /** VmHWM of the process running Node-RED. */
  peakRssMB: number;
  /** VmHWM of the launcher that relaunched it under the heap limit (absent when it ran in one process). */
  launcherPeakRssMB?: number;
  /** Highest VmRSS sampled in each quarter of the run: flat when memory does not grow with the file. */
  rssByQuarterMB: number[];
  heapLimitMB: string;
}

/** VmHWM and VmRSS (kB) and the children of a process, undefined once it is gone. */
function procStatus(pid: number): { hwm: number; rss: number; children: number[] } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    return { hwm: kb('VmHWM'), rss: kb('VmRSS'), children: children.map(Number) };
  } catch {
    return undefined;
  }
}

/** Rows of a generated file of about `bytes` (the generator's mean line length, from a sample). */
async function rowsFor(bytes: number, work: string): Promise<number> {
  const sample = 20_000;
  const size = await writeIotEnvironmentCsv(join(work, 'sample.csv'), sample);
  return Math.max(1, Math.round((bytes * sample) / size));
}

export async function memory(bytesWanted = BYTES): Promise<MemoryResult> {
  const bin = join(REPO, 'dist', 'bin', 'medallion.js');
  if (!existsSync(bin)) throw new Error('dist/ is missing: run npm run build');
  const work = mkdtempSync(join(tmpdir(), 'medallion-bench-memory-'));
  try {
    const rows = await rowsFor(bytesWanted, work);
    const file = join(work, 'big.csv');
    const bytes = await writeIotEnvironmentCsv(file, rows);
    console.log(`memory: medallion ingest of ${rows} rows, ${(bytes / 2 ** 20).toFixed(0)} MB`);
    return await withDatabase(async (url) => {
      const started = process.hrtime.bigint();
      const p = spawnCollecting(process.execPath, [bin, 'ingest', file, '--once', '--database-url', url], {
        cwd: REPO,
        env: { ...process.env },
      });
      const launcher = p.child.pid!;
      const hwm = new Map<number, number>();
      const samples = new Map<number, Array<{ at: number; rss: number }>>();
      // the launcher and its children (the relaunched Node-RED, and whatever else it may start)
      const sample = () => {
        const l = procStatus(launcher);
        if (!l) return;
        const at = Date.now();
        for (const [pid, s] of [
          [launcher, l] as const,
          ...l.children.map((c) => [c, procStatus(c)] as const),
        ]) {
          // an exited child not yet reaped has no memory lines: keep what it had
          if (!s || !s.hwm) continue;
          hwm.set(pid, s.hwm);
          if (!samples.has(pid)) samples.set(pid, []);
          samples.get(pid)!.push({ at, rss: s.rss });
        }
      };
      const timer = setInterval(sample, SAMPLE_MS);
      const code = await p.exited(6 * 3600_000).finally(() => clearInterval(timer));
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) throw new Error(`medallion ingest exited ${code}:\n${p.output().slice(-2000)}`);
      // the process running Node-RED: the child that grew largest, or the launcher when it was not relaunched
      const children = [...hwm.keys()].filter((pid) => pid !== launcher);
      const runtime = children.length
        ? children.reduce((a, b) => (hwm.get(b)! > hwm.get(a)! ? b : a))
        : launcher;
      const runtimeSamples = samples.get(runtime) ?? [];
      if (!runtimeSamples.length) throw new Error('the runtime was never sampled');
      const t0 = runtimeSamples[0].at;
      const span = runtimeSamples.at(-1)!.at - t0 || 1;
      const quarters = [0, 0, 0, 0];
      for (const s of runtimeSamples) {
        const q = Math.min(3, Math.floor((4 * (s.at - t0)) / span));
        quarters[q] = Math.max(quarters[q], s.rss);
      }
      const mb = (kb: number) => Math.round(kb / 1024);
      return {
        scenario: 'memory',
        rows,
        bytes,
        seconds: Math.round(seconds * 100) / 100,
        rowsPerSecond: Math.round(rows / seconds),
        peakRssMB: mb(hwm.get(runtime)!),
        launcherPeakRssMB: runtime === launcher ? undefined : mb(hwm.get(launcher)!),
        rssByQuarterMB: quarters.map(mb),
        heapLimitMB: process.env.MEDALLION_HEAP_MB ?? 'default',
      };
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  memory()
    .then((r) => {
      console.table([r]);
      saveResults('memory', { ...r });
    })
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
