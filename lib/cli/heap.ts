/**
 * The V8 heap `medallion ingest` runs Node-RED under. Measured (bench/memory.ts): the file
 * branch's live heap is flat at ~110 MB however large the file (watch-folder's read-ahead
 * bounds the batches in flight), but with the default heap limit of a machine with plenty of
 * memory V8 lets the old space grow to about four times the live set before a full collection,
 * so the process peaked at 600–660 MB. A limit well above the live set makes V8 collect sooner
 * (its growing factor shrinks with the limit) at no measurable cost. V8 reads the limit only at
 * start, so the CLI starts itself again with it. Pure: arguments and environment in, arguments out.
 */
import { UsageError } from './args';

/** Old-space limit at the default batch size (5 000 records), MB: ~2.3 × the measured live heap (at 384 a 256 MiB file still peaked at 339 MB). */
export const DEFAULT_HEAP_MB = 256;
const DEFAULT_BATCH = 5000;

/** Set in the relaunched process's environment, so it does not relaunch again. */
export const RELAUNCHED_ENV = 'MEDALLION_HEAP_RELAUNCHED';

const LIMIT_FLAG = /(^|\s)--max-(old-space|heap)-size(=|\s|$)/;

/** The limit for a batch size (the batches in flight grow with it); MEDALLION_HEAP_MB overrides, 0 turns it off. */
export function heapLimitMb(batchSize: number | undefined, override?: string): number {
  if (override !== undefined && override.trim() !== '') {
    const mb = Number(override);
    if (!Number.isInteger(mb) || mb < 0) {
      throw new UsageError(`MEDALLION_HEAP_MB must be a whole number of MB (0: no limit), not "${override}"`);
    }
    return mb;
  }
  return Math.max(
    DEFAULT_HEAP_MB,
    Math.ceil((DEFAULT_HEAP_MB * (batchSize ?? DEFAULT_BATCH)) / DEFAULT_BATCH),
  );
}

/**
 * The node arguments to start the CLI again under the limit, or undefined when it runs as it
 * is: already relaunched, a limit given by the user (node flags or NODE_OPTIONS), or turned off.
 */
export function heapRelaunch(
  script: string,
  argv: readonly string[],
  execArgv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  batchSize: number | undefined,
): string[] | undefined {
  if (env[RELAUNCHED_ENV]) return undefined;
  if (execArgv.some((a) => LIMIT_FLAG.test(a)) || LIMIT_FLAG.test(env.NODE_OPTIONS ?? '')) return undefined;
  const mb = heapLimitMb(batchSize, env.MEDALLION_HEAP_MB);
  if (mb === 0) return undefined;
  return [...execArgv, `--max-old-space-size=${mb}`, script, ...argv];
}
