/**
 * The landing folder and its three subfolders, and the file operations that must not
 * lose or overwrite anything: a move never replaces an existing file, an error file
 * appears whole or not at all, and a file counts as complete only when its size and
 * modification time have stayed the same over several polls.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { link, mkdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { basename, extname, isAbsolute, join, resolve } from 'node:path';

export interface LandingFolders {
  landing: string;
  processing: string;
  processed: string;
  quarantine: string;
}

/**
 * A folder from a node's form: relative to the Node-RED user directory unless absolute,
 * `fallback` when empty. A `${VAR}` left in it means Node-RED found no such variable.
 */
export function resolveFolder(setting: string | undefined, fallback: string, userDir: string): string {
  const folder = (setting ?? '').trim() || fallback;
  const unresolved = /\$\{(\w+)\}/.exec(folder);
  if (unresolved) {
    throw new Error(`the folder refers to the environment variable ${unresolved[1]}, which is not set`);
  }
  return isAbsolute(folder) ? folder : resolve(userDir, folder);
}

export function landingFolders(landing: string): LandingFolders {
  return {
    landing,
    processing: join(landing, 'processing'),
    processed: join(landing, 'processed'),
    quarantine: join(landing, 'quarantine'),
  };
}

export async function ensureFolders(f: LandingFolders): Promise<void> {
  for (const dir of [f.landing, f.processing, f.processed, f.quarantine])
    await mkdir(dir, { recursive: true });
}

/** `name` in `dir` if free, else `base~2.ext`, `base~3.ext`, … */
export function freeName(dir: string, name: string): string {
  // a leftover error report counts as taken: it must not be overwritten
  const free = (candidate: string) =>
    !existsSync(join(dir, candidate)) && !existsSync(join(dir, `${candidate}.error.json`));
  if (free(name)) return name;
  const ext = extname(name);
  const base = name.slice(0, name.length - ext.length);
  for (let n = 2; ; n++) {
    const candidate = `${base}~${n}${ext}`;
    if (free(candidate)) return candidate;
  }
}

/** Where a hard link cannot be made: the folder's file system has none (some network shares). */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK']);

/**
 * Moves `path` into `dir` without replacing anything there, even when another process
 * (another Node-RED instance on a shared folder) moves a file of the same name into `dir`
 * at the same moment; returns the new path. The file is linked under a free name (a link
 * fails where the name is taken, a rename would replace), then its old name is removed.
 * Where two processes move the same file, one keeps it and the other gets ENOENT. On a
 * file system without hard links it is renamed, the name checked just before.
 */
export async function moveInto(path: string, dir: string, name = basename(path)): Promise<string> {
  for (;;) {
    const target = join(dir, freeName(dir, name));
    try {
      await link(path, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (code === 'EEXIST') continue; // taken since freeName looked
      if (!NO_LINKS.has(code)) throw err;
      await rename(path, target);
      return target;
    }
    try {
      await unlink(path);
    } catch (err) {
      // someone else moved it meanwhile: theirs is the move, ours is undone
      await unlink(target).catch(() => undefined);
      throw err;
    }
    return target;
  }
}

/** Writes a file atomically: a temporary file beside it, then a rename. */
export function writeAtomically(path: string, content: string): Promise<void> {
  return writeAllAtomically([[path, content]]);
}

/**
 * Writes files that belong together: every one to a temporary file beside it, then the
 * renames. A failed write (a full disk, no permission) removes the temporary files, so
 * none of them appears, and nothing half-written is left behind.
 */
export async function writeAllAtomically(files: ReadonlyArray<readonly [string, string]>): Promise<void> {
  const tmps = files.map(([path]) => `${path}.${process.pid}.tmp`);
  try {
    for (const [i, [, content]] of files.entries()) await writeFile(tmps[i], content);
  } catch (err) {
    await Promise.all(tmps.map((tmp) => rm(tmp, { force: true }).catch(() => undefined)));
    throw err;
  }
  for (const [i, [path]] of files.entries()) await rename(tmps[i], path);
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path, { highWaterMark: 1024 * 1024 })
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/**
 * Tells when a file is complete: after its size and mtime were seen unchanged on
 * `polls` consecutive polls following the first sighting.
 */
export class StabilityTracker {
  private readonly seen = new Map<string, { size: number; mtimeMs: number; same: number }>();

  constructor(private readonly polls: number) {}

  /** Records one poll of `name`; true when it has been stable long enough. */
  observe(name: string, size: number, mtimeMs: number): boolean {
    const prev = this.seen.get(name);
    if (!prev || prev.size !== size || prev.mtimeMs !== mtimeMs) {
      this.seen.set(name, { size, mtimeMs, same: 0 });
      return false;
    }
    prev.same++;
    return prev.same >= this.polls;
  }

  forget(name: string): void {
    this.seen.delete(name);
  }

  /** Drops names no longer present. */
  retain(present: Set<string>): void {
    for (const name of this.seen.keys()) if (!present.has(name)) this.seen.delete(name);
  }

  get watching(): number {
    return this.seen.size;
  }
}
