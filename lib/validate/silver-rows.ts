/**
 * Valid records as rows of their silver table: a built-in profile's typed table (one
 * row per record), or `silver.readings` in long format (one row per metric that has a
 * value). Each row carries its quality score, the rule-set version and its line, so
 * that it links back to its bronze row (source key and run come from the message,
 * unless the record has its own key, as an MQTT reading does).
 */
import type { ValidRecord } from './compile';
import type { RuleSet } from './rules';

export type SilverRow = Record<string, unknown>;

export function silverRows(rules: RuleSet, records: readonly ValidRecord[]): SilverRow[] {
  const common = (r: ValidRecord) => ({
    quality_score: r.quality,
    rule_version: rules.version,
    ...(r.line !== undefined ? { line_no: r.line } : {}),
    ...(r.key !== undefined ? { source_key: r.key } : {}),
  });
  if (rules.table !== 'readings') return records.map((r) => ({ ...r.values, ...common(r) }));
  const metrics = rules.fields.filter((f) => f.metric);
  const rows: SilverRow[] = [];
  for (const r of records) {
    for (const m of metrics) {
      const value = r.values[m.field];
      if (value === null || value === undefined) continue;
      rows.push({
        ts: r.values[rules.time],
        location_id: String(r.values[rules.location]),
        metric: m.field,
        value,
        unit: m.unit ?? null,
        ...common(r),
      });
    }
  }
  return rows;
}
