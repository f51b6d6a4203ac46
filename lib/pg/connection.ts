import type { PoolConfig } from 'pg';

/** What the pg-config node (or the CLI) knows about a PostgreSQL connection. */
export interface ConnectionSettings {
  /** `postgres://user@host:port/db?sslmode=…`; when set, host/port/database/user are ignored. */
  url?: string;
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  /** Kept in Node-RED credentials; overrides a password embedded in the URL. */
  password?: string;
  ssl?: 'disable' | 'require' | 'verify-full';
  poolSize?: number;
  applicationName?: string;
  connectTimeoutMs?: number;
}

export class ConnectionConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionConfigError';
  }
}

const UNRESOLVED_ENV = /^\$\{(\S+)\}$/;

/** Node-RED leaves `${VAR}` as literal text when VAR is unset: name the variable instead of failing obscurely. */
function assertResolved(value: string | undefined, field: string): void {
  const m = value ? UNRESOLVED_ENV.exec(value.trim()) : null;
  if (m) {
    throw new ConnectionConfigError(`${field} refers to environment variable ${m[1]}, which is not set`);
  }
}

export function toPoolConfig(s: ConnectionSettings): PoolConfig {
  const poolSize = s.poolSize ?? 10;
  if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 1000) {
    throw new ConnectionConfigError(`pool size must be a whole number from 1 to 1000, got ${s.poolSize}`);
  }
  const common: PoolConfig = {
    max: poolSize,
    application_name: s.applicationName || 'node-red-iot-medallion',
    connectionTimeoutMillis: s.connectTimeoutMs ?? 10_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  };
  if (s.ssl === 'require') common.ssl = { rejectUnauthorized: false };
  if (s.ssl === 'verify-full') common.ssl = { rejectUnauthorized: true };

  const url = s.url?.trim();
  if (url) {
    assertResolved(url, 'URL');
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConnectionConfigError('URL is not a valid postgres:// connection URL');
    }
    if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
      throw new ConnectionConfigError(
        `URL must start with postgres:// or postgresql://, not ${parsed.protocol}//`,
      );
    }
    const config: PoolConfig = { ...common, connectionString: url };
    if (s.password) config.password = s.password;
    return config;
  }
  for (const [field, value] of [
    ['host', s.host],
    ['database', s.database],
    ['user', s.user],
  ] as const) {
    assertResolved(value, field);
  }
  if (!s.host) throw new ConnectionConfigError('set either a URL or a host');
  const port = s.port ?? 5432;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConnectionConfigError(`port must be 1–65535, got ${s.port}`);
  }
  return {
    ...common,
    host: s.host,
    port,
    database: s.database || 'postgres',
    user: s.user || undefined,
    password: s.password || undefined,
  };
}

/** A connection URL with any password replaced, for logs and status text. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
  }
}

/** Short `user@host:port/database` description of where a pool connects (never the password). */
export function describeTarget(config: PoolConfig): string {
  if (config.connectionString) {
    try {
      const u = new URL(config.connectionString);
      const user = u.username ? `${decodeURIComponent(u.username)}@` : '';
      return `${user}${u.hostname || 'localhost'}:${u.port || 5432}${u.pathname || '/'}`;
    } catch {
      return redactUrl(config.connectionString);
    }
  }
  const user = config.user ? `${config.user}@` : '';
  return `${user}${config.host ?? 'localhost'}:${config.port ?? 5432}/${config.database ?? ''}`;
}
