/**
 * A batch's lineage as column values: where its records came from (`msg.source`)
 * and which run read them (`msg.run`), and the batch number of its progress key.
 * pg-write writes them into the target's `source_kind`, `source_key`, `source_name`,
 * `run_id` and `batch` columns when the table has them and the records do not carry
 * those fields themselves (bronze keeps `batch`, so a run can be replayed from it).
 */
import type { MessageSource, ProgressKey } from './progress';
import type { ColumnDefaults } from './write-plan';

export const LINEAGE_COLUMNS: readonly string[] = [
  'source_kind',
  'source_key',
  'source_name',
  'run_id',
  'batch',
];

export function lineageOf(
  source: MessageSource | undefined,
  run: { id?: unknown } | undefined,
  progress: ProgressKey | undefined,
): ColumnDefaults {
  const out: Record<string, unknown> = {};
  if (source?.kind) out.source_kind = source.kind;
  const key = progress?.sourceKey ?? source?.key ?? source?.sha256;
  if (key) out.source_key = key;
  if (source?.name) out.source_name = source.name;
  const runId = progress?.runId ?? run?.id;
  if (runId !== undefined && runId !== null) out.run_id = runId;
  if (progress) out.batch = progress.batch;
  return out;
}
