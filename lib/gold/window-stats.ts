/**
 * A gold window's statistics from the values silver holds for it, computed the way
 * PostgreSQL computes `count`, `min`, `max`, `avg`, `stddev_samp` and `percentile_cont`
 * over double precision, step for step, so a window is what the SQL definition says to
 * the last bit: the values are taken in ascending order (as `avg(v ORDER BY v)`), so the
 * result is the same whatever order silver returned them in; the running sums are those
 * of PostgreSQL's `float8_accum` (the Youngs–Cramer update, exact 0 for equal values,
 * where a two-pass mean can leave a few ulps of spread); the percentiles interpolate
 * between the two nearest values as `percentile_cont` does. simple-statistics' `mean`
 * and `sampleStandardDeviation` agree to ~1e-15 but not to the bit, and its quantiles
 * are not `percentile_cont`'s, so this is the one place gold does its own arithmetic.
 * Pure.
 */

export interface WindowStats {
  count: number;
  min: number;
  max: number;
  avg: number;
  /** NULL (null) for one value, as `stddev_samp`. */
  stddev: number | null;
  median: number | null;
  p95: number | null;
}

/** `percentile_cont(p) WITHIN GROUP (ORDER BY v)` of ascending `sorted` (PostgreSQL's `float8_lerp`). */
export function percentileCont(sorted: Float64Array, p: number): number {
  const pos = p * (sorted.length - 1);
  const first = Math.floor(pos);
  const second = Math.ceil(pos);
  const lo = sorted[first];
  return first === second ? lo : lo + (sorted[second] - lo) * (pos - first);
}

/** The statistics of `values` (at least one), with the median and 95th percentile when asked. */
export function windowStats(values: ArrayLike<number>, percentiles: boolean): WindowStats {
  // a typed array sorts numerically, NaN last, as PostgreSQL orders double precision
  const sorted = Float64Array.from(values).sort();
  let n = 0;
  let sx = 0;
  let sxx = 0;
  for (const x of sorted) {
    n += 1;
    sx += x;
    if (n > 1) {
      const t = x * n - sx;
      sxx += (t * t) / (n * (n - 1));
    }
  }
  return {
    count: n,
    min: sorted[0],
    max: sorted[n - 1],
    avg: sx / n,
    stddev: n > 1 ? Math.sqrt(sxx / (n - 1)) : null,
    median: percentiles ? percentileCont(sorted, 0.5) : null,
    p95: percentiles ? percentileCont(sorted, 0.95) : null,
  };
}
