import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { get, request, type IncomingMessage } from 'node:http';

export { freePort } from '../../bin/embedded-postgres';

/** A child process whose stdout+stderr are collected, with a way to wait for a line. */
export interface Spawned {
  child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp, ms: number): Promise<RegExpMatchArray>;
  exited(ms: number): Promise<number | null>;
}

export function spawnCollecting(cmd: string, args: string[], options: SpawnOptions): Spawned {
  const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (c: Buffer) => {
    out += c.toString();
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let exitCode: number | null | undefined;
  child.on('exit', (code) => {
    exitCode = code;
    for (const l of listeners) l();
  });
  return {
    child,
    output: () => out,
    waitFor(pattern, ms) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(pattern);
          if (m) {
            done();
            resolve(m);
          } else if (exitCode !== undefined) {
            done();
            reject(new Error(`process exited (${exitCode}) before ${pattern}:\n${out}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${pattern} within ${ms} ms:\n${out}`));
        }, ms);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    exited(ms) {
      return new Promise((resolve, reject) => {
        if (exitCode !== undefined) return resolve(exitCode);
        const timer = setTimeout(() => reject(new Error(`still running after ${ms} ms:\n${out}`)), ms);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
    },
  };
}

/** PIDs of live processes whose command line contains `text`. */
export function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (cmdline.includes(text) && !/\) Z /.test(stat)) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/** PIDs of the live children, grandchildren, … of `pid`. */
export function descendantsOf(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] !== 'Z') parentOf.set(Number(entry), Number(fields[1]));
    } catch {
      // the process ended while we looked
    }
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    for (const [child, parent] of parentOf) {
      if (parent === p) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

/** The PIDs of `pids` that are still alive (zombies count as gone). */
export function alive(pids: number[]): number[] {
  return pids.filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    } catch {
      return false;
    }
  });
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Resolves with a response's status, headers and whole body. */
function collect(resolve: (r: HttpResponse) => void): (res: IncomingMessage) => void {
  return (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (body += c));
    res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
  };
}

export function httpGet(url: string, headers: Record<string, string> = {}): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, collect(resolve)).on('error', reject);
  });
}

export function httpPost(
  url: string,
  json: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResponse> {
  const data = JSON.stringify(json);
  const type = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) };
  return new Promise((resolve, reject) => {
    request(url, { method: 'POST', headers: { ...type, ...headers } }, collect(resolve))
      .on('error', reject)
      .end(data);
  });
}

/** Calls `fn` every `everyMs` until it returns a value (errors count as "not yet"); gives up after `ms`. */
export async function poll<T>(
  fn: () => Promise<T | undefined>,
  ms: number,
  what: string | (() => string),
  everyMs = 250,
): Promise<T> {
  const until = Date.now() + ms;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > until)
      throw new Error(
        `timed out waiting for ${typeof what === 'function' ? what() : what}${lastError ? `: ${lastError}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
