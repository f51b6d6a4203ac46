import { RetryAbortedError } from '../retry';

/** Classifying and describing errors from `pg` for status text, logs and retries. */

interface PgLikeError extends Error {
  code?: string;
  detail?: string;
  errors?: unknown[];
}

/**
 * SQLSTATEs and socket codes that mean "the connection or server is not usable right
 * now" rather than "this statement is wrong": class 08 (connection exception), 57P0x
 * (admin/crash shutdown, cannot connect now), 53300 (too many connections) and the
 * Node socket errors.
 */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

export function isConnectionError(err: unknown): boolean {
  if (err instanceof RetryAbortedError) return isConnectionError(err.lastError);
  const e = err as PgLikeError | undefined;
  if (!e || typeof e !== 'object') return false;
  const code = e.code ?? '';
  if (SOCKET_CODES.has(code)) return true;
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') {
    return true;
  }
  if (Array.isArray(e.errors) && e.errors.some(isConnectionError)) return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(
    e.message ?? '',
  );
}

/**
 * Worth retrying the whole transaction unchanged: the connection or server was
 * unavailable, or the transaction lost a race (serialization failure, deadlock,
 * lock not available).
 */
export function isTransientError(err: unknown): boolean {
  const code = (err as PgLikeError | undefined)?.code;
  return isConnectionError(err) || code === '40001' || code === '40P01' || code === '55P03';
}

/**
 * An error caused by the values of some row (class 22 data exception, class 23
 * integrity violation, 54000 a value too large to index): the rest of the batch can
 * be stored without the rows that cause it.
 */
export function isRowError(err: unknown): boolean {
  const code = (err as PgLikeError | undefined)?.code ?? '';
  return code.startsWith('22') || code.startsWith('23') || code === '54000';
}

/** The column a row error names: `column` from the server, or the COPY context ("…, column ts: …"). */
export function errorColumn(err: unknown): string | undefined {
  const e = err as (PgLikeError & { column?: string; where?: string }) | undefined;
  if (e?.column) return e.column;
  return e?.where ? /\bcolumn (\w+)/.exec(e.where)?.[1] : undefined;
}

/** Why a write finally failed: its error, or for retries given up, how and the last error. */
export function describeFailure(err: unknown): string {
  if (err instanceof RetryAbortedError) return `${err.message}: ${describeError(err.lastError)}`;
  return describeError(err);
}

/** One line: the server's message, its SQLSTATE and detail; for sockets the addresses tried. */
export function describeError(err: unknown): string {
  const e = err as PgLikeError | undefined;
  if (!e || typeof e !== 'object') return String(err);
  let message = e.message;
  if (!message && Array.isArray(e.errors) && e.errors.length) {
    message = e.errors.map((x) => (x as Error).message).join('; ');
  }
  message = message || e.name || 'unknown error';
  const parts = [message];
  if (e.code && /^[0-9A-Z]{5}$/.test(e.code)) parts.push(`(SQLSTATE ${e.code})`);
  if (e.detail) parts.push(`— ${e.detail}`);
  return parts.join(' ');
}
