/**
 * Anomaly scores: each reading of a series (location × metric, in event-time order)
 * against a baseline of the `k` readings before it — the mean and sample standard
 * deviation (z-score), or the median and median absolute deviation (the modified
 * z-score of Iglewicz and Hoaglin, 0.6745·(x − median)/MAD). The baseline is a
 * function of the series alone, not of the order readings arrived in. Pure.
 */
import type * as SimpleStatistics from 'simple-statistics' with { 'resolution-mode': 'import' };

// simple-statistics is an ES module with a CommonJS build ("require" in its exports); its types are ESM only
/* eslint-disable @typescript-eslint/no-require-imports */
const { mean, median, medianAbsoluteDeviation, sampleStandardDeviation } =
  require('simple-statistics') as typeof SimpleStatistics;
/* eslint-enable @typescript-eslint/no-require-imports */

export const METHODS = ['zscore', 'mad'] as const;
export type AnomalyMethod = (typeof METHODS)[number];

/** The usual cut-offs: |z| > 3, |modified z| > 3.5. */
export const DEFAULT_THRESHOLD: Readonly<Record<AnomalyMethod, number>> = { zscore: 3, mad: 3.5 };

export interface SeriesPoint {
  ts: Date;
  /** Orders points with the same `ts` (a reading id), else ''. */
  tiebreak: string;
  value: number;
}

export interface Score<P extends SeriesPoint = SeriesPoint> {
  point: P;
  /** The baseline's centre: the mean (z-score) or the median (MAD). */
  baseline: number;
  score: number;
}

/** Event-time order: ts, then the tiebreak by code unit (as PostgreSQL's `COLLATE "C"` orders ASCII ids). */
export function compareSeries(a: SeriesPoint, b: SeriesPoint): number {
  return a.ts.getTime() - b.ts.getTime() || (a.tiebreak < b.tiebreak ? -1 : a.tiebreak > b.tiebreak ? 1 : 0);
}

export interface ScoreOptions {
  method: AnomalyMethod;
  /** Readings in the baseline: the `k` before the scored one. */
  k: number;
  /** Fewer readings before it than this, and a reading is not scored. */
  min: number;
}

/**
 * The points of `series` (sorted by `compareSeries`) whose score a new point can
 * change: each point of `touched` (by `key`) and the `k` after it.
 */
export function affected(series: readonly SeriesPoint[], touched: ReadonlySet<string>, k: number): number[] {
  const out: number[] = [];
  let until = -1;
  for (let i = 0; i < series.length; i++) {
    if (touched.has(pointKey(series[i]))) until = i + k;
    if (i <= until) out.push(i);
  }
  return out;
}

/** A point's identity in its series. */
export function pointKey(p: { ts: Date; tiebreak: string }): string {
  return `${p.ts.getTime()}|${p.tiebreak}`;
}

/**
 * Scores the points of `series` (sorted by `compareSeries`) at `indices`, each
 * against the up to `k` points before it. A point with fewer than `min` points
 * before it, or whose baseline has no spread (all values equal), gets no score.
 */
export function scoreSeries<P extends SeriesPoint>(
  series: readonly P[],
  indices: Iterable<number>,
  o: ScoreOptions,
): Score<P>[] {
  const out: Score<P>[] = [];
  // one array for every baseline: tens of thousands of points a batch, k values each
  const before: number[] = [];
  for (const i of indices) {
    before.length = 0;
    for (let j = Math.max(0, i - o.k); j < i; j++) before.push(series[j].value);
    if (before.length < Math.max(o.min, 2)) continue;
    const x = series[i].value;
    if (o.method === 'zscore') {
      const centre = mean(before);
      const spread = sampleStandardDeviation(before);
      if (spread > 0) out.push({ point: series[i], baseline: centre, score: (x - centre) / spread });
    } else {
      const centre = median(before);
      const mad = medianAbsoluteDeviation(before);
      if (mad > 0) out.push({ point: series[i], baseline: centre, score: (0.6745 * (x - centre)) / mad });
    }
  }
  return out;
}
