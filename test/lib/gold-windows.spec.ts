import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_SCHEMAS } from '../../lib/pg/identifiers';
import {
  metricSource,
  parseWindowSizes,
  rangeParams,
  readSql,
  WindowBins,
  WindowConfigError,
  windowStart,
  type MetricSource,
  type WindowSize,
} from '../../lib/gold/windows';

/** The windows `rows` touch, computed from `rows` themselves as silver. */
const touchedWindows = (
  source: MetricSource,
  rows: Record<string, unknown>[],
  sizes: WindowSize[],
  only?: string[],
) => new WindowBins(source, sizes, only).touch(rows).fill(rows).windows(false);

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
          const start = windowStart(ts, size);
          const end = start + size;
          assert.ok(start <= ts && ts < end);
          assert.equal(((start % size) + size) % size, 0);
          assert.equal(windowStart(start, size), start);
          assert.equal(windowStart(end - 1, size), start);
          assert.equal(windowStart(end, size), end);
        },
      ),
    );
  });

  it('lists the windows a batch touches once, per metric with a value and per size, in key order', () => {
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
        '101 temperature_celsius 2024-05-01T00:00:00.000Z→2024-05-02T00:00:00.000Z',
        '101 temperature_celsius 2024-05-01T08:00:00.000Z→2024-05-01T09:00:00.000Z',
        '102 mood_score 2024-05-01T00:00:00.000Z→2024-05-02T00:00:00.000Z',
        '102 mood_score 2024-05-01T08:00:00.000Z→2024-05-01T09:00:00.000Z',
        '102 temperature_celsius 2024-05-01T00:00:00.000Z→2024-05-02T00:00:00.000Z',
        '102 temperature_celsius 2024-05-01T08:00:00.000Z→2024-05-01T09:00:00.000Z',
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

  it('reads silver back from the configured schema, by range, with ts in epoch milliseconds', () => {
    const sql = readSql(metricSource('readings')!, { ...DEFAULT_SCHEMAS, silver: 'plant_a' });
    assert.match(sql, /FROM "plant_a"\."readings" s/);
    assert.match(sql, /s\.metric = w\.metric AND s\.ts >= w\.lo AND s\.ts < w\.hi/);
    assert.match(sql, /\(extract\(epoch FROM s\.ts\) \* 1000\)::float8 AS ts/);
    assert.deepEqual(rangeParams([{ location_id: '101', metric: '', lo: 0, hi: 3_600_000 }]), [
      ['101'],
      [''],
      [new Date(0)],
      [new Date(3_600_000)],
    ]);
  });

  it("reads silver in ranges: meeting windows merged, a late reading's windows apart, per location", () => {
    const env = metricSource('environment_readings')!;
    const hours = parseWindowSizes('1h');
    const ranges = (source: MetricSource, rows: Record<string, unknown>[], sizes = hours) =>
      new WindowBins(source, sizes)
        .touch(rows)
        .ranges()
        .map((r) => [r.location_id, r.metric, new Date(r.lo).toISOString(), new Date(r.hi).toISOString()]);
    const reading = (location_id: string, ts: string, more: Record<string, unknown> = {}) => ({
      location_id,
      ts,
      temperature_celsius: 20,
      ...more,
    });
    assert.deepEqual(
      ranges(env, [
        reading('101', '2024-05-01T09:10:00Z'),
        reading('101', '2024-05-01T08:20:00Z', { humidity_percent: 50 }),
        // a late reading a month before
        reading('101', '2024-04-01T08:00:00Z'),
        reading('102', '2024-05-01T08:30:00Z'),
      ]),
      [
        ['101', '', '2024-04-01T08:00:00.000Z', '2024-04-01T09:00:00.000Z'],
        ['101', '', '2024-05-01T08:00:00.000Z', '2024-05-01T10:00:00.000Z'],
        ['102', '', '2024-05-01T08:00:00.000Z', '2024-05-01T09:00:00.000Z'],
      ],
      'a wide row holds every metric: one range per location',
    );
    assert.deepEqual(
      ranges(env, [reading('101', '2024-05-01T09:10:00Z')], parseWindowSizes('1h, 1d')),
      [['101', '', '2024-05-01T00:00:00.000Z', '2024-05-02T00:00:00.000Z']],
      'the day holds the hour',
    );
    const long = metricSource('readings')!;
    assert.deepEqual(
      ranges(long, [
        { location_id: 'office', metric: 'co2', ts: '2024-05-01T08:00:00Z', value: 700 },
        { location_id: 'office', metric: 'rh', ts: '2024-05-01T09:00:00Z', value: 40 },
      ]),
      [
        ['office', 'co2', '2024-05-01T08:00:00.000Z', '2024-05-01T09:00:00.000Z'],
        ['office', 'rh', '2024-05-01T09:00:00.000Z', '2024-05-01T10:00:00.000Z'],
      ],
      'long format: per location and metric',
    );
  });

  it("fills the touched windows with silver's values only, and computes each from them", () => {
    const env = metricSource('environment_readings')!;
    const bins = new WindowBins(env, parseWindowSizes('1h')).touch([
      { location_id: '101', ts: Date.parse('2024-05-01T08:15:00Z'), temperature_celsius: 99, mood_score: 1 },
    ]);
    const at = (iso: string) => Date.parse(iso);
    bins.fill([
      // silver's values (the batch's 99 lost to an earlier reading with the same key: silver wins)
      { location_id: '101', ts: at('2024-05-01T08:15:00Z'), temperature_celsius: 20, mood_score: null },
      { location_id: '101', ts: at('2024-05-01T08:45:00Z'), temperature_celsius: 22, mood_score: 3 },
      // outside the touched windows: another hour, another location
      { location_id: '101', ts: at('2024-05-01T09:00:00Z'), temperature_celsius: 50 },
      { location_id: '102', ts: at('2024-05-01T08:30:00Z'), temperature_celsius: 50 },
    ]);
    assert.deepEqual(
      bins.windows(false).map((w) => [w.metric, w.window_start.toISOString(), w.count, w.avg, w.stddev]),
      [
        ['mood_score', '2024-05-01T08:00:00.000Z', 1, 3, null],
        ['temperature_celsius', '2024-05-01T08:00:00.000Z', 2, 21, Math.SQRT2],
      ],
    );
    const empty = new WindowBins(env, parseWindowSizes('1h')).touch([
      { location_id: '101', ts: at('2024-05-01T08:15:00Z'), temperature_celsius: 1 },
    ]);
    assert.deepEqual(empty.windows(true), [], 'no window where silver holds no value');
  });
});
