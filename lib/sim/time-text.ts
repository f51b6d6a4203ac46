/** Event times (ms since the epoch) written as the simulated sources write them, in UTC. */

/** `yyyy-mm-ddTHH:MM:SS` of an instant. */
function iso(ts: number): string {
  return new Date(ts).toISOString().slice(0, 19);
}

/** `dd-mm-yyyy HH:MM`, the Kaggle IOT-temp `noted_date`. */
export function notedDate(ts: number): string {
  const t = iso(ts);
  return `${t.slice(8, 10)}-${t.slice(5, 7)}-${t.slice(0, 4)} ${t.slice(11, 16)}`;
}

/** `yyyy-mm-dd HH:MM:SS`, the campus sensors' `timestamp`. */
export function sqlTimestamp(ts: number): string {
  return iso(ts).replace('T', ' ');
}

/** `yyyymmddTHHMMSS`, for file names. */
export function compactTimestamp(ts: number): string {
  return iso(ts).replace(/[-:]/g, '');
}
