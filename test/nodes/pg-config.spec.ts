import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
import pgConfigNode from '../../nodes/pg-config/pg-config';
import type { PgConfigNode } from '../../nodes/pg-config/pg-config-node';
import pgWriteNode from '../../nodes/pg-write/pg-write';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { helper, nextMessage, statuses, waitFor } from '../support/flow';
import type { FlowNode } from '../support/landing-flow';

interface RuntimeInternals {
  _redNodes: {
    getFlows(): { flows: unknown[] };
    getCredentialDefinition(type: string): Record<string, { type: string }>;
  };
}
const runtime = helper as unknown as RuntimeInternals;

describe('medallion-pg-config node', () => {
  let db: TestDatabase;
  before(async () => (db = await createTestDatabase('pg_config_node')));
  after(async () => db.drop());
  afterEach(async () => helper.unload());

  it('keeps the password in credentials, never in the flow', async () => {
    const flow = [
      {
        id: 'cfg',
        type: 'medallion-pg-config',
        connection: 'fields',
        host: '127.0.0.1',
        port: 5432,
        database: db.name,
        user: 'postgres',
      },
    ];
    await helper.load([pgConfigNode], flow, { cfg: { password: 'hunter2' } });
    assert.deepEqual(runtime._redNodes.getCredentialDefinition('medallion-pg-config'), {
      password: { type: 'password' },
    });
    const cfg = helper.getNode('cfg') as PgConfigNode;
    assert.equal(cfg.credentials.password, 'hunter2');
    assert.equal(cfg.service?.pool.options.password, 'hunter2');
    assert.doesNotMatch(JSON.stringify(runtime._redNodes.getFlows().flows), /hunter2|password/);
  });

  it('builds the pool from the form: size, application name, TLS, schema names', async () => {
    const flow = [
      {
        id: 'cfg',
        type: 'medallion-pg-config',
        connection: 'url',
        url: db.url,
        poolSize: '7',
        applicationName: 'plant-7',
        ssl: 'require',
        schemaMedallion: 'ops',
        schemaBronze: 'raw',
        schemaSilver: '',
        schemaGold: 'mart',
      },
    ];
    await helper.load([pgConfigNode], flow);
    const service = (helper.getNode('cfg') as PgConfigNode).service;
    assert.ok(service);
    assert.equal(service.pool.options.max, 7);
    assert.equal(service.pool.options.application_name, 'plant-7');
    assert.deepEqual(service.pool.options.ssl, { rejectUnauthorized: false });
    assert.deepEqual(service.schemas, { medallion: 'ops', bronze: 'raw', silver: 'silver', gold: 'mart' });
  });

  it('connects to the URL an env-typed field names; an unset variable is an invalid configuration', async () => {
    process.env.MEDALLION_TEST_DATABASE_URL = db.url;
    try {
      const typed = (url: string): FlowNode[] => [
        { id: 'cfg', type: 'medallion-pg-config', connection: 'url', urlType: 'env', url },
      ];
      await helper.load([pgConfigNode], typed('MEDALLION_TEST_DATABASE_URL'));
      const service = (helper.getNode('cfg') as PgConfigNode).service;
      assert.ok(service);
      await service.ready();
      assert.equal(service.state.state, 'ready');
      await helper.unload();

      delete process.env.MEDALLION_TEST_UNSET;
      await helper.load([pgConfigNode], typed('MEDALLION_TEST_UNSET'));
      const cfg = helper.getNode('cfg') as PgConfigNode;
      assert.equal(cfg.service, undefined);
      assert.match(cfg.configError ?? '', /URL: the environment variable MEDALLION_TEST_UNSET is not set$/);
    } finally {
      delete process.env.MEDALLION_TEST_DATABASE_URL;
    }
  });

  it('reports an invalid configuration on every node that uses it', async () => {
    const flow = [
      { id: 'cfg', type: 'medallion-pg-config', connection: 'url', url: db.url, schemaBronze: 'bad name' },
      { id: 'w', type: 'medallion-pg-write', pgConfig: 'cfg', table: 'bronze.records', wires: [[]] },
      { id: 'c', type: 'catch', scope: ['w'], uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ];
    await helper.load([pgConfigNode, pgWriteNode], flow);
    assert.equal((helper.getNode('cfg') as PgConfigNode).service, undefined);
    await waitFor(() =>
      statuses('w').some((s) => s.fill === 'red' && /bronze schema name/.test(s.text ?? '')),
    );
    const caught = nextMessage<NodeMessage & { error: { message: string } }>('caught');
    helper.getNode('w').receive({ payload: [] } as NodeMessage);
    assert.match((await caught).error.message, /invalid bronze schema name "bad name"/);
  });

  it('commits a write that is under way before the pool closes on redeploy', async () => {
    const flow = [
      { id: 'cfg', type: 'medallion-pg-config', connection: 'url', url: db.url },
      { id: 'w', type: 'medallion-pg-write', pgConfig: 'cfg', table: 'bronze.records', wires: [['out']] },
      { id: 'out', type: 'helper' },
    ];
    await helper.load([pgConfigNode, pgWriteNode], flow);
    const records = Array.from({ length: 20_000 }, (_, i) => ({
      source_kind: 'file',
      source_key: 'close-test',
      line_no: i,
      raw: 'x'.repeat(200),
    }));
    helper.getNode('w').receive({ payload: records } as NodeMessage);
    const service = (helper.getNode('cfg') as PgConfigNode).service;
    await helper.unload();
    assert.equal(service?.pool.ending, true);
    assert.equal(service?.pool.totalCount, 0);
    const { Client } = await import('pg');
    const c = new Client({ connectionString: db.url });
    await c.connect();
    const { rows } = await c.query(
      `SELECT count(*)::int AS n FROM bronze.records WHERE source_key = 'close-test'`,
    );
    await c.end();
    assert.equal(rows[0].n, 20_000);
  });
});
