/**
 * Node-RED instances as `npm start` runs them (dist/bin/start.js, Node-RED in a child
 * process), several at once on one database, one broker and one landing folder: each
 * with its own home (userDir, flows.json, quarantine folder), its own name
 * (MEDALLION_INSTANCE, so its MQTT client id is `medallion-<name>`) and a member of one
 * shared subscription. For the scale-out tests.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { connectAsync } from 'mqtt';
import { BUNDLED } from './bundled';
import type { FlowNode } from './landing-flow';
import { freePort, spawnCollecting, type Spawned } from './processes';

const LAUNCHER = resolve(__dirname, '..', '..', 'dist', 'bin', 'start.js');

/**
 * The bundled flow as a site runs it on several instances: its simulators off (the test is
 * the only source) and watch-folder's lease `leaseSeconds`.
 */
export function scaleOutFlow(leaseSeconds: number): FlowNode[] {
  return BUNDLED.map((n) => {
    if (n.type === 'medallion-simulator') return { ...n, d: true };
    if (n.type === 'medallion-watch-folder') return { ...n, leaseSeconds };
    return n;
  });
}

export interface InstanceSetup {
  databaseUrl: string;
  mqttUrl: string;
  /** The shared subscription every instance joins, e.g. `$share/medallion/site/sensors/+/readings`. */
  mqttTopic: string;
  landing: string;
  flow: FlowNode[];
}

export interface Instance {
  readonly name: string;
  readonly clientId: string;
  /** Starts it (again, with the same home and name); resolves once its editor answers. */
  start(): Promise<void>;
  /** kill -9 of Node-RED and its launcher. */
  kill(): Promise<void>;
  /** A clean stop (SIGTERM), as Ctrl-C. */
  stop(): Promise<void>;
}

/** An instance named `name` with its home under `work`; not started. */
export function instance(name: string, work: string, setup: InstanceSetup): Instance {
  const home = join(work, `instance-${name}`);
  mkdirSync(join(home, 'node-red'), { recursive: true });
  writeFileSync(join(home, 'node-red', 'flows.json'), JSON.stringify(setup.flow));
  let run: Spawned | undefined;
  const ended = async (signal: NodeJS.Signals, ms: number) => {
    if (!run || run.child.exitCode !== null || run.child.signalCode !== null) return;
    process.kill(-run.child.pid!, signal);
    await run.exited(ms);
  };
  return {
    name,
    clientId: `medallion-${name}`,
    async start() {
      const port = await freePort();
      run = spawnCollecting(process.execPath, [LAUNCHER], {
        // its own process group, so a kill reaches Node-RED too
        detached: true,
        env: {
          // nothing the flow reads is inherited (a test's leftovers): all of it is set here; which
          // Node-RED install to run (MEDALLION_NODE_RED) is
          ...Object.fromEntries(
            Object.entries(process.env).filter(
              ([k]) => !/^(MEDALLION_(?!NODE_RED$)|MQTT_|DATABASE_URL$|PORT$|HOST$)/.test(k),
            ),
          ),
          MEDALLION_HOME: home,
          MEDALLION_INSTANCE: name,
          MEDALLION_LANDING: setup.landing,
          MEDALLION_QUARANTINE: join(home, 'quarantine'),
          DATABASE_URL: setup.databaseUrl,
          MQTT_URL: setup.mqttUrl,
          MQTT_TOPIC: setup.mqttTopic,
          MQTT_CLIENT_ID: `medallion-${name}`,
          HOST: '127.0.0.1',
          PORT: String(port),
          NODE_RED_CREDENTIAL_SECRET: 'scale-out-test',
        },
      });
      await run.waitFor(/\[medallion\] editor: http/, 120_000);
    },
    kill: () => ended('SIGKILL', 10_000),
    stop: () => ended('SIGTERM', 40_000),
  };
}

/**
 * Makes the persistent MQTT session of each client id, subscribed to `topic`, as the
 * instance's own first connection would: the broker deals the shared subscription's
 * messages to it (queued while it is away) from now on, not only once its Node-RED is up.
 */
export async function joinShare(url: string, clientIds: string[], topic: string): Promise<void> {
  for (const clientId of clientIds) {
    const c = await connectAsync(url, {
      clientId,
      clean: false,
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 3600 },
      reconnectPeriod: 0,
    });
    await c.subscribeAsync(topic, { qos: 1 });
    await c.endAsync();
  }
}
