import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_SCHEMAS } from '../../lib/pg/identifiers';
import {
  metricSource,
  parseWindowSizes,
  recomputeSql,
  touchedRanges,
  touchedWindows,
  WindowConfigError,
  windowOf,
} from '../../lib/gold/windows';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('lib/gold/windows', () => {
  it('reads window sizes: units, several, duplicates once, smallest first', () => {
    assert.deepEqual(parseWindowSizes('1d, 1h ,60m, 15m'), [
      { label: '15m', ms: 15 * 60_000 },
      { label: '1h', ms: HOUR },
      { label: '1d', ms: DAY },
    ]);
    for (const bad of ['', ' , ', '1 hour', '0h', '1.5h', '-1h', 'h']) {
      assert.throws(() => parseWindowSizes(bad), WindowConfigError, bad);
    }
  });

  it('puts every instant in exactly one window of each size, aligned to the epoch (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1e12, max: 4e12 }),
        fc.constantFrom(60_000, 15 * 60_000, HOUR, DAY, 7 * DAY),
        (ts, size) => {
          const w = windowOf(ts, size);
          assert.ok(w.start <= ts && ts < w.end);
          assert.equal(w.end - w.start, size);
          assert.equal(((w.start % size) + size) % size, 0);
          assert.deepEqual(windowOf(w.start, size), w);
          assert.deepEqual(windowOf(w.end - 1, size), w);
        },
      ),
    );
  });

  it('lists the windows a batch touches once, per metric with a value and per size', () => {
    const env = metricSource('silver.environment_readings')!;
    const ts = new Date('2024-05-01T08:15:00Z');
    const rows = [
      { location_id: '101', ts, temperature_celsius: 20, humidity_percent: null },
      { location_id: '101', ts: ts.toISOString(), temperature_celsius: 21 },
      { location_id: '102', ts, temperature_celsius: 22, mood_score: 3 },
      { location_id: null, ts, temperature_celsius: 1 },
    ];
    const keys = touchedWindows(env, rows, parseWindowSizes('1h, 1d'));
    assert.deepEqual(
      keys.map(
        (k) => `${k.location_id} ${k.metric} ${k.window_start.toISOString()}→${k.window_end.toISOString()}`,
      ),
      [
        '101 temperature_celsius 2024-05-01T08:00:00.000Z→2024-05-01T09:00:00.000Z',
        '101 temperature_celsius 2024-05-01T00:00:00.000Z→2024-05-02T00:00:00.000Z',
        '102 temperature_celsius 2024-05-01T08:00:00.000Z→2024-05-01T09:00:00.000Z',
        '102 temperature_celsius 2024-05-01T00:00:00.000Z→2024-05-02T00:00:00.000Z',
        '102 mood_score 2024-05-01T08:00:00.000Z→2024-05-01T09:00:00.000Z',
        '102 mood_score 2024-05-01T00:00:00.000Z→2024-05-02T00:00:00.000Z',
      ],
    );
    assert.deepEqual(
      touchedWindows(env, rows, parseWindowSizes('1h'), ['mood_score']).map((k) => k.metric),
      ['mood_score'],
      'only the metrics named',
    );
  });

  it('locates iot-temp per room and In/Out, and long-format rows by their metric column', () => {
    const temp = metricSource('temperature_readings')!;
    const ts = '2018-12-08T09:30:00Z';
    assert.deepEqual(
      touchedWindows(
        temp,
        [{ room_id: 'Room Admin', out_in: 'In', ts, temp: 29 }],
        parseWindowSizes('1h'),
      ).map((k) => [k.location_id, k.metric]),
      [['Room Admin/In', 'temp']],
    );
    const long = metricSource('silver.readings')!;
    assert.deepEqual(
      touchedWindows(
        long,
        [
          { location_id: 'office', metric: 'co2', ts, value: 700 },
          { location_id: 'office', metric: 'co2', ts, value: null },
        ],
        parseWindowSizes('1d'),
      ).map((k) => k.metric),
      ['co2'],
    );
    assert.equal(metricSource('silver.quarantine'), undefined);
    assert.equal(metricSource(null), undefined);
  });

  it('recomputes from the configured silver schema, with percentiles only when asked', () => {
    const sql = recomputeSql(metricSource('readings')!, { ...DEFAULT_SCHEMAS, silver: 'plant_a' }, false);
    assert.match(sql, /FROM "plant_a"\."readings" s/);
    assert.match(
      sql,
      /stddev_samp\(x\.value ORDER BY x\.value\)/,
      'summed in value order: the same bits whatever the row order',
    );
    assert.doesNotMatch(sql, /percentile_cont/);
    assert.match(
      recomputeSql(metricSource('readings')!, { ...DEFAULT_SCHEMAS }, true),
      /percentile_cont\(0\.95\)/,
    );
  });

  it("reads silver in ranges: meeting windows of a series merged, a late reading's windows apart", () => {
    const at = (iso: string) => new Date(iso);
    const key = (location_id: string, metric: string, start: string, end: string) => ({
      location_id,
      metric,
      window_start: at(start),
      window_end: at(end),
    });
    const ranges = touchedRanges([
      key('101', 't', '2024-05-01T09:00:00Z', '2024-05-01T10:00:00Z'),
      key('101', 't', '2024-05-01T08:00:00Z', '2024-05-01T09:00:00Z'),
      key('101', 't', '2024-05-01T00:00:00Z', '2024-05-02T00:00:00Z'),
      // a late reading a month before
      key('101', 't', '2024-04-01T08:00:00Z', '2024-04-01T09:00:00Z'),
      key('102', 't', '2024-05-01T08:00:00Z', '2024-05-01T09:00:00Z'),
      key('101', 'h', '2024-05-01T08:00:00Z', '2024-05-01T09:00:00Z'),
    ]);
    assert.deepEqual(
      ranges.map((r) => [r.location_id, r.metric, r.window_start.toISOString(), r.window_end.toISOString()]),
      [
        ['101', 't', '2024-04-01T08:00:00.000Z', '2024-04-01T09:00:00.000Z'],
        ['101', 't', '2024-05-01T00:00:00.000Z', '2024-05-02T00:00:00.000Z'],
        ['102', 't', '2024-05-01T08:00:00.000Z', '2024-05-01T09:00:00.000Z'],
        ['101', 'h', '2024-05-01T08:00:00.000Z', '2024-05-01T09:00:00.000Z'],
      ],
    );
  });
});
