/**
 * Node status without flooding the editor: a node may call `set` for every message;
 * the editor sees at most one update per interval (the latest wins), except that a
 * change of colour or shape (e.g. green → red) shows at once.
 */

import { describeError } from './pg/errors';
import type { RetryInfo } from './retry';

export type StatusFill = 'red' | 'green' | 'yellow' | 'blue' | 'grey';

export interface StatusValue {
  fill?: StatusFill;
  shape?: 'ring' | 'dot';
  text?: string;
}

/** A database retry as a node shows it: yellow ring, `retry <n>: <reason>`. */
export function retryingStatus(info: RetryInfo): StatusValue {
  return { fill: 'yellow', shape: 'ring', text: `retry ${info.retry}: ${describeError(info.error)}` };
}

export interface StatusTarget {
  status(status: StatusValue): void;
}

export interface ThrottledStatus {
  set(status: StatusValue): void;
  /** Clears the status now and drops anything pending (use in `close`). */
  clear(): void;
}

export function throttledStatus(
  node: StatusTarget,
  intervalMs = 1000,
  now: () => number = Date.now,
): ThrottledStatus {
  let last: StatusValue | undefined;
  let lastAt = -Infinity;
  let pending: StatusValue | undefined;
  let timer: NodeJS.Timeout | undefined;

  const emit = (s: StatusValue) => {
    last = s;
    lastAt = now();
    pending = undefined;
    node.status(s);
  };

  return {
    set(s) {
      const kindChanged = !last || last.fill !== s.fill || last.shape !== s.shape;
      if (kindChanged || now() - lastAt >= intervalMs) {
        clearTimeout(timer);
        timer = undefined;
        emit(s);
        return;
      }
      pending = s;
      if (!timer) {
        timer = setTimeout(
          () => {
            timer = undefined;
            if (pending) emit(pending);
          },
          Math.max(0, intervalMs - (now() - lastAt)),
        );
        timer.unref?.();
      }
    },
    clear() {
      clearTimeout(timer);
      timer = undefined;
      pending = undefined;
      last = undefined;
      lastAt = -Infinity;
      node.status({});
    },
  };
}

/** 1234567 → "1.23M", 12345 → "12.3k", 999 → "999". */
export function compactNumber(n: number): string {
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${(n / 1e9).toPrecision(3)}G`;
  if (abs >= 1e6) return `${(n / 1e6).toPrecision(3)}M`;
  if (abs >= 1e4) return `${(n / 1e3).toPrecision(3)}k`;
  return String(Math.round(n));
}
