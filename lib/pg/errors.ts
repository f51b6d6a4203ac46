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
