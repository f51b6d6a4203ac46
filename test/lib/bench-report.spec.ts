import assert from 'node:assert/strict';
import { summarize, summaryText, type RunFigures } from '../../bench/report';

function figures(): RunFigures {
  return {
    schemaLimit: {
      rows: 1_000_000,
      results: [
        { scenario: 'plain-copy', rowsPerSecond: 800_000 },
        { scenario: 'schema-limit', rowsPerSecond: 70_000 },
      ],
    },
    naive: { rows: 100_000, rowsPerSecond: 3_000, seconds: 33.3, peakRssMB: 700 },
    oursFile: {
      rows: 1_000_000,
      results: [
        { scenario: 'file-branch', rows: 1_000_000, seconds: 200, rowsPerSecond: 5_000 },
        { scenario: 'cli', rows: 1_000_000, seconds: 20, rowsPerSecond: 50_000 },
        { scenario: 'latency', rows: 10_000, seconds: 1.4, rowsPerSecond: 7_143 },
      ],
    },
    mqtt: {
      messages: 50_000,
      results: [
        { scenario: 'mqtt.js', msgsPerSecond: 38_000 },
        { scenario: 'core mqtt in', msgsPerSecond: 10_000 },
        { scenario: 'mqtt ingest', msgsPerSecond: 12_500 },
      ],
      latencyRate: 5000,
      latency: [
        { scenario: 'latency-core', p50Ms: 200, p99Ms: 1163, backlogGrew: false },
        { scenario: 'latency-ingest', p50Ms: 176, p99Ms: 464, backlogGrew: false },
      ],
    },
    memory: {
      rows: 15_000_000,
      bytes: 2 ** 30,
      peakRssMB: 450,
      launcherPeakRssMB: 64,
      rssByQuarterMB: [1, 2, 3, 4],
    },
  };
}

describe('bench/report (npm run bench summary)', () => {
  it('computes every ratio against the same run, and says which targets are missed by how much', () => {
    const s = summarize(figures());
    assert.deepEqual(s.ratios, {
      fileBranchToSchemaLimit: 0.071,
      fileBranchToNaive: 1.67,
      cliToSchemaLimit: 0.714,
      cliToNaive: 16.67,
      mqttIngestToCore: 1.25,
    });
    const byName = Object.fromEntries(s.targets.map((t) => [t.name, t]));
    assert.deepEqual(byName['ours-file / schema limit'], {
      name: 'ours-file / schema limit',
      goal: '≥ 0.7',
      measured: 0.071,
      met: false,
      missedBy: '9.86 × short',
    });
    assert.equal(byName['ours-file / naive'].missedBy, '5.99 × short');
    assert.equal(byName['ours-mqtt / core mqtt in'].met, true);
    assert.equal(byName['ours-mqtt p99 at 5000/s (ms)'].met, true);
    assert.equal(byName['10k-row file queryable in silver (s)'].met, true);
    assert.equal(byName['peak RSS of the runtime (MB)'].missedBy, '1.5 × over');
  });

  it('prints the figures and the targets as aligned Markdown tables', () => {
    const text = summaryText(summarize(figures()));
    const lines = text.trim().split('\n');
    assert.equal(lines.filter((l) => l.startsWith('|')).length, 9 + 2 + 6 + 2);
    const widths = new Set(lines.slice(0, 11).map((l) => l.length));
    assert.equal(widths.size, 1, 'the rows of the figures table have one width');
    assert.match(
      text,
      /\| ours-file: file branch, drop → run complete +\| +1 000 000 rows \| +5 000 rows\/s \| 0\.071 × limit, 1\.67 × naive/,
    );
    assert.match(text, /\| peak RSS of the runtime \(MB\) +\| < 300 +\| +450 \| missed, 1\.5 × over +\|/);
    assert.match(
      text,
      /\| +1 024 MB \| +450 MB \| 15 000 000 rows; by quarter 1\/2\/3\/4 MB; launcher 64 MB/,
    );
  });

  it('refuses a run that lacks a scenario instead of comparing with nothing', () => {
    const f = figures();
    f.mqtt.results = f.mqtt.results!.filter((r) => r.scenario !== 'core mqtt in');
    assert.throws(() => summarize(f), /mqtt-to-silver saved no "core mqtt in" scenario/);
  });
});
