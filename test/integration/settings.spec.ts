/** The Node-RED settings `npm start` and the Docker image use: safe defaults, driven by env. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const settingsFile = resolve(__dirname, '..', '..', 'dist', 'bin', 'settings.js');

interface Loaded {
  settings: {
    uiHost: string;
    uiPort: number;
    credentialSecret: string;
    adminAuth?: { type: string; users: Array<{ username: string; password: string; permissions: string }> };
  };
  stderr: string;
}

/** Loads the settings module as Node-RED does, in a fresh process with `--userDir`. */
function load(userDir: string, env: NodeJS.ProcessEnv = {}): Loaded {
  const clean = { ...process.env };
  for (const k of [
    'HOST',
    'PORT',
    'NODE_RED_CREDENTIAL_SECRET',
    'NODE_RED_ADMIN_PASSWORD_HASH',
    'NODE_RED_ADMIN_USER',
  ]) {
    delete clean[k];
  }
  const code = `process.stdout.write(JSON.stringify(require(${JSON.stringify(settingsFile)})))`;
  const run = spawnSync(process.execPath, ['-e', code, '--', '--userDir', userDir], {
    env: { ...clean, ...env },
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  return { settings: JSON.parse(run.stdout) as Loaded['settings'], stderr: run.stderr };
}

describe('Node-RED settings (bin/settings.ts)', () => {
  let work: string;
  beforeEach(() => {
    assert.ok(existsSync(settingsFile), 'dist/ is missing: `npm test` builds it (npm run build)');
    work = mkdtempSync(join(tmpdir(), 'medallion-settings-'));
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it('listens on loopback without a login, and keeps a generated credential key with a warning', () => {
    const userDir = join(work, 'user');
    const first = load(userDir);
    assert.equal(first.settings.uiHost, '127.0.0.1');
    assert.equal(first.settings.uiPort, 1880);
    assert.equal(first.settings.adminAuth, undefined);
    assert.match(first.settings.credentialSecret, /^[0-9a-f]{64}$/);
    const keyFile = join(userDir, '.medallion-credential-secret');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.match(
      first.stderr,
      /NODE_RED_CREDENTIAL_SECRET is not set: credentials are encrypted with the key in/,
    );
    assert.equal(
      load(userDir).settings.credentialSecret,
      first.settings.credentialSecret,
      'the same key next time',
    );
  });

  it('takes the key, the address and a login from the environment', () => {
    const userDir = join(work, 'user');
    const { settings, stderr } = load(userDir, {
      NODE_RED_CREDENTIAL_SECRET: 'from-env',
      HOST: '0.0.0.0',
      PORT: '1999',
      NODE_RED_ADMIN_PASSWORD_HASH: '$2b$08$abcdefghijklmnopqrstuv',
      NODE_RED_ADMIN_USER: 'operator',
    });
    assert.equal(settings.credentialSecret, 'from-env');
    assert.equal(existsSync(join(userDir, '.medallion-credential-secret')), false);
    assert.equal(settings.uiHost, '0.0.0.0');
    assert.equal(settings.uiPort, 1999);
    assert.deepEqual(settings.adminAuth, {
      type: 'credentials',
      users: [{ username: 'operator', password: '$2b$08$abcdefghijklmnopqrstuv', permissions: '*' }],
    });
    assert.doesNotMatch(stderr, /without a login/);
  });

  it('warns when the editor is exposed without a login', () => {
    const { stderr } = load(join(work, 'user'), { HOST: '0.0.0.0', NODE_RED_CREDENTIAL_SECRET: 'k' });
    assert.match(
      stderr,
      /the editor listens on 0\.0\.0\.0 without a login: set NODE_RED_ADMIN_PASSWORD_HASH/,
    );
  });
});
