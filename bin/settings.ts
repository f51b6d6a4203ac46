/**
 * Node-RED settings used by `npm start` and the Docker image, driven by environment
 * variables so the same file serves both:
 *
 *   HOST, PORT                        where the editor listens (default 127.0.0.1:1880)
 *   NODE_RED_CREDENTIAL_SECRET        key for flows_cred.json; generated and kept in the
 *                                     userDir (with a warning) when unset
 *   NODE_RED_ADMIN_USER               editor login name (default admin) …
 *   NODE_RED_ADMIN_PASSWORD_HASH      … and its bcrypt hash; login is required when set
 *   LOG_LEVEL                         Node-RED console log level (default info)
 *   MQTT_URL                          the broker of the flow's MQTT nodes (default
 *                                     mqtt://127.0.0.1:1883; `npm start` sets it)
 *   MQTT_CLIENT_ID                    this instance's MQTT client id (default
 *                                     medallion-<MEDALLION_INSTANCE or host name>)
 *   MQTT_SHARE_GROUP                  subscribe as a member of $share/<group>/ (scale-out)
 *   MQTT_TOPIC                        what the flow subscribes to (default sensors/+/readings,
 *                                     in the share group when one is set)
 *
 * The flow reads the MQTT values as ${…} references, so they are set here when unset.
 * Loaded by Node-RED with `--settings`; it must only need Node's built-in modules.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';

function userDirFromArgs(argv: string[]): string {
  const i = argv.findIndex((a) => a === '--userDir' || a === '-u');
  if (i >= 0 && argv[i + 1]) return argv[i + 1];
  return process.env.MEDALLION_USER_DIR || join(homedir(), '.node-red');
}

function credentialSecret(userDir: string): string {
  const fromEnv = process.env.NODE_RED_CREDENTIAL_SECRET;
  if (fromEnv) return fromEnv;
  const file = join(userDir, '.medallion-credential-secret');
  if (!existsSync(file)) {
    mkdirSync(userDir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  }
  console.warn(
    `[medallion] NODE_RED_CREDENTIAL_SECRET is not set: credentials are encrypted with the key in ${file}. ` +
      'Keep that file with flows_cred.json, or set the variable to manage the key yourself.',
  );
  return readFileSync(file, 'utf8').trim();
}

/** Defaults for the flow's MQTT references: Node-RED leaves `${VAR}` as text when VAR is unset. */
function mqttDefaults(env: NodeJS.ProcessEnv): void {
  env.MQTT_URL ||= 'mqtt://127.0.0.1:1883';
  env.MQTT_CLIENT_ID ||= `medallion-${env.MEDALLION_INSTANCE || hostname()}`;
  const topic = 'sensors/+/readings';
  env.MQTT_TOPIC ||= env.MQTT_SHARE_GROUP ? `$share/${env.MQTT_SHARE_GROUP}/${topic}` : topic;
}
mqttDefaults(process.env);

const uiHost = process.env.HOST || '127.0.0.1';
const passwordHash = process.env.NODE_RED_ADMIN_PASSWORD_HASH;
const loopback = uiHost === '127.0.0.1' || uiHost === 'localhost' || uiHost === '::1';
if (!passwordHash && !loopback) {
  console.warn(
    `[medallion] the editor listens on ${uiHost} without a login: set NODE_RED_ADMIN_PASSWORD_HASH ` +
      '(make one with `npx node-red admin hash-pw`)',
  );
}

const settings = {
  uiHost,
  uiPort: Number(process.env.PORT || 1880),
  flowFile: 'flows.json',
  flowFilePretty: true,
  credentialSecret: credentialSecret(userDirFromArgs(process.argv)),
  ...(passwordHash
    ? {
        adminAuth: {
          type: 'credentials',
          users: [
            {
              username: process.env.NODE_RED_ADMIN_USER || 'admin',
              password: passwordHash,
              permissions: '*',
            },
          ],
        },
      }
    : {}),
  diagnostics: { enabled: true, ui: true },
  runtimeState: { enabled: false, ui: false },
  telemetry: { enabled: false },
  logging: { console: { level: process.env.LOG_LEVEL || 'info', metrics: false, audit: false } },
  exportGlobalContextKeys: false,
  externalModules: {},
  editorTheme: {
    projects: { enabled: false },
    tours: false,
    page: { title: 'Node-RED · IoT medallion' },
    header: { title: 'Node-RED · IoT medallion' },
  },
  functionExternalModules: false,
  debugMaxLength: 1000,
  mqttReconnectTime: 15000,
  serialReconnectTime: 15000,
};

export = settings;
