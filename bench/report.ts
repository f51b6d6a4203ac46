/**
 * `npm run bench`'s summary: the figures every scenario saved in this run, their ratios to the
 * baselines of the same run, issue #12's targets (met, or missed by how much) and one table.
 * Pure: the scenarios' saved JSON in, the summary and its text out.
 */

interface Scenario {
  scenario: string;
  rows?: number;
  seconds?: number;
  rowsPerSecond?: number;
  msgsPerSecond?: number;
  peakRssMB?: number;
}

/** What the scenarios saved (bench/results/<name>.json), as far as the summary reads it. */
export interface RunFigures {
  schemaLimit: { rows: number; results: Scenario[] };
  naive: { rows: number; rowsPerSecond: number; seconds: number; peakRssMB?: number };
  oursFile: { rows: number; results: Scenario[] };
  mqtt: {
    messages?: number;
    results?: Scenario[];
    latencyRate?: number;
    latency?: Array<{ scenario: string; p50Ms: number; p99Ms: number; backlogGrew: boolean }>;
  };
  memory: {
    rows: number;
    bytes: number;
    peakRssMB: number;
    launcherPeakRssMB?: number;
    rssByQuarterMB: number[];
  };
}

export interface Target {
  name: string;
  /** The goal, as a sentence fragment: "≥ 0.7 × schema limit". */
  goal: string;
  measured: number;
  /** `measured` against its goal: met, or the factor still missing (2.5 = 2.5 × short). */
  met: boolean;
  missedBy?: string;
}

export interface Row {
  scenario: string;
  size: string;
  figure: string;
  note: string;
}

export interface Summary {
  ratios: Record<string, number>;
  targets: Target[];
  rows: Row[];
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;
const grouped = (n: number) => String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');

function find(results: readonly Scenario[] | undefined, scenario: string, bench: string): Scenario {
  const r = results?.find((s) => s.scenario === scenario);
  if (!r) throw new Error(`${bench} saved no "${scenario}" scenario in this run`);
  return r;
}

/** At least `goal` (higher is better). */
function atLeast(name: string, goal: string, measured: number, want: number): Target {
  const met = measured >= want;
  return { name, goal, measured, met, ...(met ? {} : { missedBy: `${round(want / measured, 2)} × short` }) };
}

/** Below `want` (lower is better). */
function below(name: string, goal: string, measured: number, want: number): Target {
  const met = measured < want;
  return { name, goal, measured, met, ...(met ? {} : { missedBy: `${round(measured / want, 2)} × over` }) };
}

export function summarize(f: RunFigures): Summary {
  const limit = find(f.schemaLimit.results, 'schema-limit', 'schema-limit');
  const plain = find(f.schemaLimit.results, 'plain-copy', 'schema-limit');
  const branch = find(f.oursFile.results, 'file-branch', 'ours-file');
  const cli = find(f.oursFile.results, 'cli', 'ours-file');
  const latency = find(f.oursFile.results, 'latency', 'ours-file');
  const core = find(f.mqtt.results, 'core mqtt in', 'mqtt-to-silver');
  const ingest = find(f.mqtt.results, 'mqtt ingest', 'mqtt-to-silver');
  const p99 = f.mqtt.latency?.find((l) => l.scenario === 'latency-ingest');
  if (!p99) throw new Error('mqtt-to-silver saved no "latency-ingest" scenario in this run');
  const coreP99 = f.mqtt.latency?.find((l) => l.scenario === 'latency-core');

  const ratios = {
    fileBranchToSchemaLimit: round(branch.rowsPerSecond! / limit.rowsPerSecond!),
    fileBranchToNaive: round(branch.rowsPerSecond! / f.naive.rowsPerSecond, 2),
    cliToSchemaLimit: round(cli.rowsPerSecond! / limit.rowsPerSecond!),
    cliToNaive: round(cli.rowsPerSecond! / f.naive.rowsPerSecond, 2),
    mqttIngestToCore: round(ingest.msgsPerSecond! / core.msgsPerSecond!),
  };
  const targets = [
    atLeast('ours-file / schema limit', '≥ 0.7', ratios.fileBranchToSchemaLimit, 0.7),
    atLeast('ours-file / naive', '≥ 10', ratios.fileBranchToNaive, 10),
    atLeast('ours-mqtt / core mqtt in', '≥ 1.2', ratios.mqttIngestToCore, 1.2),
    below(`ours-mqtt p99 at ${f.mqtt.latencyRate ?? 5000}/s (ms)`, '< 1000', p99.p99Ms, 1000),
    below('10k-row file queryable in silver (s)', '< 2', latency.seconds!, 2),
    below('peak RSS of the runtime (MB)', '< 300', f.memory.peakRssMB, 300),
  ];
  const mb = (bytes: number) => `${grouped(bytes / 2 ** 20)} MB`;
  const rows: Row[] = [
    {
      scenario: 'plain COPY, index-free table',
      size: `${grouped(f.schemaLimit.rows)} rows`,
      figure: `${grouped(plain.rowsPerSecond!)} rows/s`,
      note: "the server's reference",
    },
    {
      scenario: 'schema limit: COPY into LIKE bronze + LIKE silver',
      size: `${grouped(f.schemaLimit.rows)} rows`,
      figure: `${grouped(limit.rowsPerSecond!)} rows/s`,
      note: 'baseline',
    },
    {
      scenario: 'naive: file in → csv → function, INSERT per row',
      size: `${grouped(f.naive.rows)} rows`,
      figure: `${grouped(f.naive.rowsPerSecond)} rows/s`,
      note: f.naive.peakRssMB ? `peak RSS ${grouped(f.naive.peakRssMB)} MB` : '',
    },
    {
      scenario: 'ours-file: file branch, drop → run complete',
      size: `${grouped(f.oursFile.rows)} rows`,
      figure: `${grouped(branch.rowsPerSecond!)} rows/s`,
      note: `${ratios.fileBranchToSchemaLimit} × limit, ${ratios.fileBranchToNaive} × naive`,
    },
    {
      scenario: 'ours-file: medallion ingest, process start included',
      size: `${grouped(f.oursFile.rows)} rows`,
      figure: `${grouped(cli.rowsPerSecond!)} rows/s`,
      note: `${ratios.cliToSchemaLimit} × limit, ${ratios.cliToNaive} × naive`,
    },
    {
      scenario: 'core mqtt in → silver, QoS 1, sustained',
      size: `${grouped(f.mqtt.messages ?? core.rows ?? 0)} msgs`,
      figure: `${grouped(core.msgsPerSecond!)} msgs/s`,
      note: coreP99
        ? `p50 ${grouped(coreP99.p50Ms)} ms, p99 ${grouped(coreP99.p99Ms)} ms at ${f.mqtt.latencyRate ?? 5000}/s`
        : '',
    },
    {
      scenario: 'ours-mqtt: mqtt ingest → silver, QoS 1, sustained',
      size: `${grouped(f.mqtt.messages ?? ingest.rows ?? 0)} msgs`,
      figure: `${grouped(ingest.msgsPerSecond!)} msgs/s`,
      note: `${ratios.mqttIngestToCore} × core; p50 ${grouped(p99.p50Ms)} ms, p99 ${grouped(p99.p99Ms)} ms at ${f.mqtt.latencyRate ?? 5000}/s${p99.backlogGrew ? ', backlog grew' : ''}`,
    },
    {
      scenario: 'latency: file dropped → its rows in silver',
      size: `${grouped(latency.rows!)} rows`,
      figure: `${latency.seconds} s`,
      note: 'polls 250 ms × 2 stable',
    },
    {
      scenario: 'memory: medallion ingest, peak RSS of Node-RED',
      size: mb(f.memory.bytes),
      figure: `${grouped(f.memory.peakRssMB)} MB`,
      note: `${grouped(f.memory.rows)} rows; by quarter ${f.memory.rssByQuarterMB.join('/')} MB${f.memory.launcherPeakRssMB ? `; launcher ${f.memory.launcherPeakRssMB} MB` : ''}`,
    },
  ];
  return { ratios, targets, rows };
}

function table(header: string[], lines: string[][], right: number[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const cell = (text: string, i: number) =>
    right.includes(i) ? text.padStart(widths[i]) : text.padEnd(widths[i]);
  const row = (l: string[]) => `| ${l.map(cell).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (right.includes(i) ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [row(header), rule, ...lines.map(row)].join('\n');
}

/** The summary as two Markdown tables (figures, then targets): what `npm run bench` prints and the README shows. */
export function summaryText(s: Summary): string {
  const figures = table(
    ['scenario', 'size', 'figure', 'note'],
    s.rows.map((r) => [r.scenario, r.size, r.figure, r.note]),
    [1, 2],
  );
  const targets = table(
    ['target', 'goal', 'measured', 'result'],
    s.targets.map((t) => [t.name, t.goal, String(t.measured), t.met ? 'met' : `missed, ${t.missedBy}`]),
    [2],
  );
  return `${figures}\n\n${targets}\n`;
}
