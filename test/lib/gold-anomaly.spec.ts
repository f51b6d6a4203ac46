import assert from 'node:assert/strict';
import fc from 'fast-check';
import { affected, compareSeries, pointKey, scoreSeries, type SeriesPoint } from '../../lib/gold/anomaly';

const series = (values: number[]): SeriesPoint[] =>
  values.map((value, i) => ({ ts: new Date(Date.UTC(2024, 0, 1, 0, i)), tiebreak: '', value }));

describe('lib/gold/anomaly', () => {
  it('scores a reading against the mean and sample deviation of the k before it (z-score)', () => {
    const s = series([10, 12, 14, 12, 10, 30]);
    const scores = scoreSeries(s, [5], { method: 'zscore', k: 5, min: 3 });
    // mean 11.6, sample stddev sqrt(11.2 / 4) of [10, 12, 14, 12, 10]
    assert.equal(scores.length, 1);
    assert.equal(scores[0].baseline, 11.6);
    assert.ok(Math.abs(scores[0].score - (30 - 11.6) / Math.sqrt(2.8)) < 1e-12);
  });

  it('scores against the median and MAD with the modified z-score, robust to a spike in the baseline', () => {
    const s = series([10, 11, 12, 11, 500, 10, 11, 13]);
    const [last] = scoreSeries(s, [7], { method: 'mad', k: 7, min: 3 });
    // baseline [10, 11, 12, 11, 500, 10, 11]: median 11, MAD 1
    assert.deepEqual([last.baseline, Math.round(last.score * 1e6) / 1e6], [11, 1.349]);
  });

  it('leaves unscored a reading with too short or flat a baseline, and uses at most k before it', () => {
    const s = series([5, 5, 5, 5, 9, 1, 2, 3]);
    const scores = scoreSeries(s, s.keys(), { method: 'zscore', k: 3, min: 3 });
    assert.deepEqual(
      scores.map((x) => x.point.value),
      [9, 1, 2, 3].slice(1),
      '5s: fewer than 3 before or no spread; 9 has a flat baseline [5, 5, 5]',
    );
    assert.equal(scores[0].baseline, (5 + 5 + 9) / 3, 'the 3 before 1');
  });

  it('rescores a new reading and the k after it, no more', () => {
    const s = series([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(affected(s, new Set([pointKey(s[2]), pointKey(s[3])]), 2), [2, 3, 4, 5]);
    assert.deepEqual(affected(s, new Set([pointKey(s[8])]), 5), [8, 9]);
    assert.deepEqual(affected(s, new Set(), 5), []);
  });

  it('depends only on the series, not on the order its points were gathered in (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.record({
            minute: fc.integer({ min: 0, max: 500 }),
            value: fc.double({ min: -100, max: 100, noNaN: true }),
          }),
          {
            selector: (p) => p.minute,
            minLength: 1,
            maxLength: 80,
          },
        ),
        fc.integer(),
        (points, seed) => {
          const make = (ps: typeof points) =>
            ps.map((p) => ({
              ts: new Date(Date.UTC(2024, 0, 1, 0, p.minute)),
              tiebreak: '',
              value: p.value,
            }));
          const sorted = make(points).sort(compareSeries);
          const shuffled = make(
            [...points].sort((a, b) => Math.sin(seed + a.minute) - Math.sin(seed + b.minute)),
          ).sort(compareSeries);
          const o = { method: 'zscore' as const, k: 10, min: 3 };
          assert.deepEqual(scoreSeries(shuffled, shuffled.keys(), o), scoreSeries(sorted, sorted.keys(), o));
        },
      ),
    );
  });
});
