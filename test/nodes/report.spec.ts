import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeMessage } from 'node-red';
import { Pool } from 'pg';
import { DEFAULT_SCHEMAS } from '../../lib/pg/identifiers';
import { migrate } from '../../lib/pg/migrations';
import { REPORT_NAMES } from '../../lib/reports/reports';
import pgConfigNode from '../../nodes/pg-config/pg-config';
import reportNode from '../../nodes/report/report';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { helper, nextMessage, statuses, waitFor } from '../support/flow';
import type { FlowNode } from '../support/landing-flow';

type Rows = NodeMessage & {
  payload: Array<Record<string, unknown>>;
  report: { name: string; params: object; rows: number; durationMs: number };
  filename?: string;
};
type Caught = NodeMessage & { error: { message: string } };

describe('medallion-report node (real PostgreSQL)', function () {
  this.timeout(30_000);
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase('report');
    const pool = new Pool({ connectionString: db.url });
    await migrate(pool, { ...DEFAULT_SCHEMAS }).finally(() => pool.end());
  });
  after(async () => {
    await db.drop();
  });
  afterEach(() => helper.unload());

  function load(report: Record<string, unknown>, url = db.url) {
    const flow: FlowNode[] = [
      { id: 'cfg', type: 'medallion-pg-config', name: 'db', connection: 'url', url, poolSize: 2 },
      { id: 'rep', type: 'medallion-report', pgConfig: 'cfg', wires: [['out']], ...report },
      { id: 'out', type: 'helper' },
      { id: 'c', type: 'catch', scope: ['rep'], uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ];
    return helper.load([pgConfigNode, reportNode], flow);
  }

  it("reads its report into msg.payload, keeping the message's other properties, and says so in its status", async () => {
    await load({ report: 'runs', limit: '5', hours: '' });
    await query(
      db.url,
      `INSERT INTO medallion.runs (run_id, source, source_key, status) VALUES (gen_random_uuid(), 'file:a.csv', 'sha-a', 'running')`,
    );
    const got = nextMessage<Rows>('out');
    helper.getNode('rep').receive({ payload: 'tick', filename: 'runs.csv' } as NodeMessage);
    const msg = await got;
    assert.deepEqual(
      msg.payload.map((r) => [r.source_key, r.status]),
      [['sha-a', 'running']],
    );
    assert.equal(msg.topic, 'runs');
    assert.equal(msg.filename, 'runs.csv');
    assert.deepEqual(msg.report.params, { limit: 5 });
    await waitFor(() =>
      statuses('rep').some((s) => s.fill === 'green' && /^runs: 1 rows · \d+ ms$/.test(String(s.text))),
    );
  });

  it('takes the report from msg.topic when the node names none, and keeps it and the params for a refresh', async () => {
    await load({ report: '' });
    let got = nextMessage<Rows>('out');
    helper.getNode('rep').receive({ topic: 'anomalies', params: { threshold: 5 }, payload: '' });
    assert.deepEqual((await got).report.params, { threshold: 5 });
    got = nextMessage<Rows>('out');
    helper.getNode('rep').receive({ payload: 'refresh' });
    const again = await got;
    assert.deepEqual([again.topic, again.report.params], ['anomalies', { threshold: 5 }]);
  });

  it('refuses a bad report or parameter with a Catch-able error naming it, and goes on reading', async () => {
    await load({ report: '' });
    let caught = nextMessage<Caught>('caught');
    helper.getNode('rep').receive({ topic: 'passwords', payload: '' });
    assert.match(
      (await caught).error.message,
      /report: msg.topic "passwords" is not a report: use one of overview, runs/,
    );
    caught = nextMessage<Caught>('caught');
    helper.getNode('rep').receive({ topic: 'runs', params: { limit: 5000 }, payload: '' });
    assert.match((await caught).error.message, /report: params.limit: .*1000/);
    await waitFor(() => statuses('rep').some((s) => s.fill === 'red'));
    const got = nextMessage<Rows>('out');
    helper.getNode('rep').receive({ topic: 'runs', payload: '' });
    assert.equal((await got).report.name, 'runs');
  });

  it('reports a dead database as an error, not a crash', async () => {
    await load({ report: 'overview' }, 'postgres://postgres@127.0.0.1:1/none');
    const caught = nextMessage<Caught>('caught');
    helper.getNode('rep').receive({ payload: '' });
    assert.match((await caught).error.message, /report: connect ECONNREFUSED/);
    await waitFor(() => statuses('rep').some((s) => s.fill === 'red'));
  });

  it('offers in its form exactly the reports lib knows', () => {
    const form = readFileSync(join(__dirname, '..', '..', 'nodes', 'report', 'report.html'), 'utf8');
    const list = /var REPORTS = \[([^\]]+)\]/.exec(form)![1];
    assert.deepEqual(
      [...list.matchAll(/'([^']+)'/g)].map((m) => m[1]),
      REPORT_NAMES,
    );
  });
});
