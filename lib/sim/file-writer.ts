/**
 * Files written into a landing folder the way devices write them: whole, through a
 * hidden temporary file renamed into place, or slowly under the final name, so that a
 * reader may see a half-written file.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { sleep } from '../retry';
import { compactTimestamp } from './time-text';

export interface WrittenFile {
  path: string;
  name: string;
  bytes: number;
  /** Written slowly under its final name (a reader could see it incomplete). */
  halfWritten: boolean;
}

export interface DeviceWriteOptions {
  slow?: { chunks: number; intervalMs: number };
  signal?: AbortSignal;
}

async function writeWhole(path: string, data: Buffer): Promise<void> {
  const file = await open(path, 'wx');
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
}

async function writeSlowly(
  path: string,
  data: Buffer,
  slow: NonNullable<DeviceWriteOptions['slow']>,
  signal?: AbortSignal,
): Promise<void> {
  const chunks = Math.max(1, Math.floor(slow.chunks));
  const size = Math.ceil(data.length / chunks);
  const file = await open(path, 'w');
  try {
    let at = 0;
    while (at < data.length) {
      const end = signal?.aborted ? data.length : Math.min(data.length, at + size);
      await file.write(data, at, end - at, at);
      at = end;
      if (at < data.length) await sleep(slow.intervalMs, signal);
    }
  } finally {
    await file.close();
  }
}

/**
 * Writes `text` into `folder/name` the way devices do: into a hidden temp file
 * `.<name>.<random>.tmp` in the same folder, then renamed (atomic). With `slow` set,
 * writes straight to the final name in `slow.chunks` pieces `slow.intervalMs` apart,
 * resolving when the last chunk is written and the file closed; `signal` stops a slow
 * write early by writing the rest at once (never leaving a truncated file).
 */
export async function writeLikeADevice(
  folder: string,
  name: string,
  text: string,
  opts: DeviceWriteOptions = {},
): Promise<WrittenFile> {
  if (!name || basename(name) !== name || name === '.' || name === '..') {
    throw new Error(`a file name without a folder is needed, not "${name}"`);
  }
  const path = join(folder, name);
  const data = Buffer.from(text, 'utf8');
  if (opts.slow) {
    await writeSlowly(path, data, opts.slow, opts.signal);
  } else {
    const temp = join(folder, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await writeWhole(temp, data);
      await rename(temp, path);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }
  return { path, name, bytes: data.length, halfWritten: Boolean(opts.slow) };
}

/** A file name for the n-th file of a simulator: `<prefix>-<yyyymmddTHHMMSS>-<n padded to 6>.csv` (UTC of `at`). */
export function simFileName(prefix: string, at: number, n: number): string {
  return `${prefix}-${compactTimestamp(at)}-${String(n).padStart(6, '0')}.csv`;
}
