/**
 * Gold checked against silver, independently of lib/gold: SQL written here from the
 * definition (tumbling windows aligned to the epoch, count/min/max/avg/stddev_samp
 * per location × metric) compared with every row of gold.metric_windows.
 */
import { query } from './db';

const ENVIRONMENT = [
  'temperature_celsius',
  'humidity_percent',
  'air_quality_index',
  'noise_level_db',
  'lighting_lux',
  'crowd_density',
  'stress_level',
  'sleep_hours',
  'mood_score',
];

/** Every silver value as (location_id, metric, ts, value). */
const LONG = `
  SELECT location_id, metric, ts, value FROM silver.readings
  UNION ALL
  SELECT room_id || '/' || out_in, 'temp', ts, temp FROM silver.temperature_readings
  UNION ALL
  ${ENVIRONMENT.map((m) => `SELECT location_id, '${m}', ts, ${m} FROM silver.environment_readings`).join('\nUNION ALL\n')}`;

/**
 * The windows of `sizes` (seconds) that silver says gold must have, and every
 * difference from gold: a window missing on either side, or a statistic off by more
 * than `relative` (stddev NULL on both sides for one value).
 */
export async function goldMismatches(url: string, sizes: number[], relative = 1e-9) {
  const rows = await query<Record<string, unknown>>(
    url,
    `WITH long AS (${LONG}),
     expected AS (
       SELECT l.location_id, l.metric, to_timestamp(floor(extract(epoch FROM l.ts) / s) * s) AS window_start,
              to_timestamp(floor(extract(epoch FROM l.ts) / s) * s + s) AS window_end,
              count(*)::int AS count, min(l.value) AS min, max(l.value) AS max, avg(l.value) AS avg,
              stddev_samp(l.value) AS stddev
         FROM long l CROSS JOIN unnest($1::int[]) s
        WHERE l.value IS NOT NULL
        GROUP BY 1, 2, 3, 4)
     SELECT e.location_id AS e_location, g.location_id AS g_location, coalesce(e.metric, g.metric) AS metric,
            coalesce(e.window_start, g.window_start) AS window_start, e.count AS e_count, g.count AS g_count,
            e.min AS e_min, g.min AS g_min, e.max AS e_max, g.max AS g_max, e.avg AS e_avg, g.avg AS g_avg,
            e.stddev AS e_stddev, g.stddev AS g_stddev
       FROM expected e
       FULL JOIN gold.metric_windows g USING (location_id, metric, window_start, window_end)
      WHERE e.location_id IS NULL OR g.location_id IS NULL OR e.count <> g.count OR e.min <> g.min OR e.max <> g.max
         OR abs(e.avg - g.avg) > $2 * greatest(abs(e.avg), 1e-300)
         OR (e.stddev IS NULL) <> (g.stddev IS NULL)
         OR abs(e.stddev - g.stddev) > $2 * greatest(abs(e.stddev), 1e-300)`,
    [sizes, relative],
  );
  const [{ windows }] = await query<{ windows: number }>(
    url,
    'SELECT count(*)::int AS windows FROM gold.metric_windows',
  );
  return { mismatches: rows, windows };
}

/**
 * `goldMismatches` once gold has caught up: gold is written after silver commits (an MQTT
 * batch is acknowledged at silver), so the newest windows may lag silver for a moment.
 * Asks again until there is no mismatch or `ms` have passed; the last answer's first five.
 */
export async function goldMismatchesSettled(url: string, sizes: number[], ms = 30_000) {
  const until = Date.now() + ms;
  for (;;) {
    const { mismatches } = await goldMismatches(url, sizes);
    if (!mismatches.length || Date.now() > until) return mismatches.slice(0, 5);
    await new Promise((r) => setTimeout(r, 500));
  }
}
