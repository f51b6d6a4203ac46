/**
 * MQTT for tests: the shared Mosquitto (127.0.0.1:1883, never stopped or reconfigured
 * by a test), a private Mosquitto on a free port for tests that stop or restart the
 * broker, and MQTT.js clients to publish with and to clear the sessions a test left.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { pgWrite, type FlowNode } from './landing-flow';
import { freePort, poll, spawnCollecting, type Spawned } from './processes';

export const SHARED_MQTT_URL = process.env.TEST_MQTT_URL ?? 'mqtt://127.0.0.1:1883';

export function client(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return connectAsync(url, { reconnectPeriod: 200, connectTimeout: 5000, ...options });
}

/** Ends the persistent session `clientId` left on the broker (a clean connect drops it). */
export async function clearSession(url: string, clientId: string): Promise<void> {
  const c = await client(url, { clientId, clean: true, reconnectPeriod: 0 });
  await c.endAsync();
}

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface PrivateMosquitto {
  url: string;
  port: number;
  /** Graceful stop (SIGTERM): Mosquitto saves its persistence file and exits. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  dispose(): Promise<void>;
}

/**
 * A Mosquitto of the test's own, on a free port, with `persistence true` (started as
 * root, it also needs `user root` to write its database file) and `extra` lines.
 */
export async function privateMosquitto(extra: string[] = []): Promise<PrivateMosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'medallion-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${dir}/`,
      `log_dest file ${join(dir, 'mosquitto.log')}`,
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      ...extra,
      '',
    ].join('\n'),
  );
  let proc: Spawned | undefined;
  const start = async () => {
    proc = spawnCollecting('mosquitto', ['-c', conf], {});
    await poll(async () => (await accepting(port)) || undefined, 10_000, `mosquitto on ${port}`, 50);
  };
  const stop = async () => {
    if (!proc || proc.child.exitCode !== null) return;
    proc.child.kill('SIGTERM');
    await proc.exited(10_000);
  };
  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    start,
    stop,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The MQTT branch in its smallest form, for tests and benchmarks: `input` (mqtt ingest
 * acknowledging at silver, or core `mqtt in` → mqtt batch) → pg-write bronze → validate
 * (auto) → pg-write silver.environment_readings, on the database `databaseUrl`.
 */
export function mqttToSilver(o: {
  databaseUrl: string;
  brokerUrl: string;
  clientId: string;
  topic: string;
  input: 'core' | 'ingest';
  z?: string;
}): FlowNode[] {
  const z = o.z ? { z: o.z } : {};
  const input: FlowNode[] =
    o.input === 'core'
      ? [
          {
            id: 'broker',
            type: 'mqtt-broker',
            broker: o.brokerUrl,
            clientid: o.clientId,
            cleansession: false,
            protocolVersion: '4',
            autoUnsubscribe: false,
          },
          {
            id: 'in',
            type: 'mqtt in',
            ...z,
            topic: o.topic,
            qos: '1',
            datatype: 'buffer',
            broker: 'broker',
            wires: [['batch']],
          },
          { id: 'batch', type: 'medallion-mqtt-batch', ...z, size: 1000, timeout: 500, wires: [['pgb']] },
        ]
      : [
          {
            id: 'in',
            type: 'medallion-mqtt-ingest',
            ...z,
            pgConfig: 'cfg',
            url: o.brokerUrl,
            clientId: o.clientId,
            topics: o.topic,
            receiveMaximum: 5000,
            batchSize: 1000,
            batchTimeout: 500,
            sessionExpiry: 3600,
            commitLayer: 'silver',
            wires: [['pgb'], []],
          },
        ];
  return [
    { id: 'cfg', type: 'medallion-pg-config', connection: 'url', url: o.databaseUrl, poolSize: 10 },
    ...input,
    {
      ...pgWrite('pgb', 'bronze.records', 'bronze'),
      ...z,
      columns: 'source_kind, source_key, source_name, line_no, raw, run_id, batch',
      wires: [['v'], []],
    },
    { id: 'v', type: 'medallion-validate', ...z, profile: 'auto', wires: [['pgs'], []] },
    { ...pgWrite('pgs', 'silver.environment_readings', 'silver'), ...z },
  ];
}
