import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import mqttIngestNode from '../../nodes/mqtt-ingest/mqtt-ingest';
import pgConfigNode from '../../nodes/pg-config/pg-config';
import pgWriteNode from '../../nodes/pg-write/pg-write';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { helper, statuses, waitFor } from '../support/flow';
import { pgWrite, type FlowNode } from '../support/landing-flow';
import { clearSession, client, SHARED_MQTT_URL } from '../support/mqtt';
import { freePort, poll } from '../support/processes';

/* eslint-disable-next-line @typescript-eslint/no-require-imports -- Node-RED's core MQTT nodes are CommonJS */
const coreMqtt = require('@node-red/nodes/core/network/10-mqtt.js');

describe('medallion-mqtt-ingest node (real Mosquitto, real PostgreSQL)', function () {
  this.timeout(30_000);
  let db: TestDatabase;
  let clientId: string;
  let topic: string;

  beforeEach(async () => {
    db = await createTestDatabase('mqtt_ingest');
    clientId = `ingest-node-${randomBytes(4).toString('hex')}`;
    topic = `t${randomBytes(4).toString('hex')}/sensors`;
  });
  afterEach(async () => {
    await helper.unload();
    await clearSession(SHARED_MQTT_URL, clientId).catch(() => undefined);
    await db.drop();
  });

  const flow = (ingest: Record<string, unknown>): FlowNode[] => [
    { id: 'cfg', type: 'medallion-pg-config', connection: 'url', url: db.url, poolSize: 2 },
    {
      id: 'in',
      type: 'medallion-mqtt-ingest',
      pgConfig: 'cfg',
      url: SHARED_MQTT_URL,
      clientId,
      topics: `${topic}/+/readings`,
      batchSize: 10,
      batchTimeout: 100,
      commitLayer: 'bronze',
      wires: [['pgb'], ['metrics']],
      ...ingest,
    },
    { id: 'metrics', type: 'helper' },
    {
      ...pgWrite('pgb', 'bronze.records', 'bronze'),
      columns: 'source_kind, source_key, source_name, line_no, raw, run_id, batch',
    },
  ];

  it('takes the address from a core mqtt-broker node (never connecting that node), stores and then acknowledges', async () => {
    await helper.load(
      [coreMqtt, pgConfigNode, pgWriteNode, mqttIngestNode],
      [
        ...flow({ url: '', broker: 'core' }),
        {
          id: 'core',
          type: 'mqtt-broker',
          broker: '127.0.0.1',
          port: '1883',
          clientid: 'never-used',
          protocolVersion: '4',
        },
      ],
    );
    await waitFor(() => statuses('in').some((s) => s.fill === 'green'), 10_000, 'connected');
    const pub = await client(SHARED_MQTT_URL);
    for (let i = 0; i < 3; i++) {
      await pub.publishAsync(
        `${topic}/7/readings`,
        JSON.stringify({ id: `r${i}`, ts: '2026-11-24T08:00:00Z' }),
        { qos: 1 },
      );
    }
    await pub.endAsync();
    const rows = await poll(
      async () => {
        const r = await query<{ source_key: string }>(
          db.url,
          'SELECT source_key FROM bronze.records ORDER BY 1',
        );
        return r.length === 3 ? r : undefined;
      },
      10_000,
      'three readings in bronze',
    );
    assert.deepEqual(
      rows.map((r) => r.source_key),
      ['mqtt:id:r0', 'mqtt:id:r1', 'mqtt:id:r2'],
    );
    // the metrics output: everything received was acknowledged once bronze had it
    const metrics = await poll(
      () =>
        new Promise<Record<string, number | boolean> | undefined>((resolve) =>
          (helper.getNode('metrics') as unknown as NodeJS.EventEmitter).once(
            'input',
            (m: { payload: Record<string, number | boolean> }) =>
              resolve(m.payload.messages === 3 && m.payload.unacked === 0 ? m.payload : undefined),
          ),
        ),
      15_000,
      'metrics with three messages, none unacknowledged',
    );
    assert.deepEqual(
      {
        connected: metrics.connected,
        readings: metrics.readings,
        held: metrics.held,
        window: metrics.window,
      },
      { connected: true, readings: 3, held: 0, window: 5000 },
    );
    assert.equal((helper.getNode('core') as unknown as { connected?: boolean }).connected, false);
  });

  it('shows an unreachable broker as disconnected and keeps trying, without crashing', async () => {
    const port = await freePort(0);
    await helper.load([pgConfigNode, pgWriteNode, mqttIngestNode], flow({ url: `mqtt://127.0.0.1:${port}` }));
    await waitFor(
      () => statuses('in').some((s) => s.fill === 'yellow' && /^disconnected/.test(s.text ?? '')),
      5000,
      'yellow: disconnected',
    );
    // reconnect attempts (after 1 s, 2 s, …) fail too: still yellow, never connected
    await new Promise((r) => setTimeout(r, 2500));
    assert.match(statuses('in').at(-1)?.text ?? '', /^disconnected/);
    assert.ok(!statuses('in').some((s) => s.fill === 'green'));
  });

  it('reads the broker URL and the client id from environment variables: typed env, or ${VAR} text as before', async () => {
    process.env.MEDALLION_TEST_MQTT_URL = SHARED_MQTT_URL;
    process.env.MEDALLION_TEST_CLIENT_ID = clientId;
    try {
      for (const typed of [
        {
          url: 'MEDALLION_TEST_MQTT_URL',
          urlType: 'env',
          clientId: 'MEDALLION_TEST_CLIENT_ID',
          clientIdType: 'env',
        },
        { url: '${MEDALLION_TEST_MQTT_URL}', clientId: '${MEDALLION_TEST_CLIENT_ID}' },
      ]) {
        await helper.load([pgConfigNode, pgWriteNode, mqttIngestNode], flow(typed));
        await waitFor(
          () => statuses('in').some((s) => s.fill === 'green'),
          10_000,
          `connected with ${typed.url}`,
        );
        await helper.unload();
      }
    } finally {
      delete process.env.MEDALLION_TEST_MQTT_URL;
      delete process.env.MEDALLION_TEST_CLIENT_ID;
    }
  });

  it('names an unset environment variable of an env-typed client id', async () => {
    delete process.env.MEDALLION_TEST_UNSET;
    await helper.load(
      [pgConfigNode, pgWriteNode, mqttIngestNode],
      flow({ clientId: 'MEDALLION_TEST_UNSET', clientIdType: 'env' }),
    );
    await waitFor(() => statuses('in').some((s) => s.fill === 'red'), 5000, 'red status');
    assert.equal(
      statuses('in').find((s) => s.fill === 'red')!.text,
      'client id: the environment variable MEDALLION_TEST_UNSET is not set',
    );
  });

  it('refuses a client id that is not fixed, on its status and as an error', async () => {
    await helper.load([pgConfigNode, pgWriteNode, mqttIngestNode], flow({ clientId: '${MQTT_CLIENT_ID}' }));
    await waitFor(() => statuses('in').some((s) => s.fill === 'red'), 5000, 'red status');
    assert.match(statuses('in').find((s) => s.fill === 'red')!.text!, /a fixed client id is needed/);
  });
});
