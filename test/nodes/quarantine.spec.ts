import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeMessage } from 'node-red';
import type { FileOutcome } from '../../lib/files/landing-watcher';
import pgConfigNode from '../../nodes/pg-config/pg-config';
import pgWriteNode from '../../nodes/pg-write/pg-write';
import quarantineNode from '../../nodes/quarantine/quarantine';
import validateNode from '../../nodes/validate/validate';
import watchFolderNode from '../../nodes/watch-folder/watch-folder';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { helper, nextMessage, statuses, waitFor } from '../support/flow';
import { landingFlow, pgWrite } from '../support/landing-flow';
import { poll } from '../support/processes';

type Outcome = NodeMessage & { payload: FileOutcome };
type Caught = NodeMessage & { error: { message: string } };

const ROWS = [
  'id,room_id/id,noted_date,temp,out/in',
  'ok-1,Room A,08-12-2018 09:30,29,In',
  'hot,Room A,08-12-2018 09:30,61,In',
  'bad-date,"=HYPERLINK(""http://evil"")",31-02-2024 10:00,20,Out',
  'ok-2,Room B,09-12-2018 10:00,-3.5,Out',
];

/** iot-temp with a hotter limit: what a replay through changed rules looks like. */
const HOTTER = {
  name: 'iot-temp',
  version: 'iot-temp/2',
  table: 'temperature_readings',
  key: ['id'],
  fields: [
    { field: 'id', type: 'string', required: true },
    { field: 'room_id', from: 'room_id/id', type: 'string', required: true },
    { field: 'ts', from: 'noted_date', type: 'timestamp', required: true, formats: ['dd-mm-yyyy HH:MM'] },
    { field: 'temp', type: 'number', required: true, min: -50, max: 80, metric: true },
    { field: 'out_in', from: 'out/in', type: 'string', required: true, enum: ['In', 'Out'] },
  ],
};

describe('medallion-quarantine node (real PostgreSQL, real files)', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let work: string;

  beforeEach(async () => {
    db = await createTestDatabase('quarantine');
    work = mkdtempSync(join(tmpdir(), 'medallion-quarantine-'));
    mkdirSync(join(work, 'landing'));
  });
  afterEach(async () => {
    await helper.unload();
    rmSync(work, { recursive: true, force: true });
    await db.drop();
  });

  function flow() {
    const [cfg, wf, bronze] = landingFlow({ url: db.url, landing: join(work, 'landing'), filesTo: 'files' });
    return [
      cfg,
      wf,
      { ...bronze, wires: [['v'], []] },
      { id: 'v', type: 'medallion-validate', profile: 'iot-temp', wires: [['pgs'], ['q']] },
      pgWrite('pgs', 'silver.temperature_readings', 'silver', 'stored'),
      {
        id: 'q',
        type: 'medallion-quarantine',
        pgConfig: 'cfg',
        folder: join(work, 'rejected'),
        wires: [['pgq'], ['v2']],
      },
      pgWrite('pgq', 'silver.quarantine', 'quarantine', 'kept'),
      {
        id: 'v2',
        type: 'medallion-validate',
        profile: 'custom',
        rules: JSON.stringify(HOTTER),
        wires: [['pgs2'], []],
      },
      pgWrite('pgs2', 'silver.temperature_readings', '', 'restored'),
      { id: 'files', type: 'helper' },
      { id: 'stored', type: 'helper' },
      { id: 'restored', type: 'helper' },
      { id: 'kept', type: 'helper' },
      { id: 'c', type: 'catch', scope: ['q'], uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ];
  }

  const load = () =>
    helper.load([pgConfigNode, pgWriteNode, watchFolderNode, validateNode, quarantineNode], flow());

  it('keeps a rejected batch as a CSV (formulas neutralized) and an error file, and in silver.quarantine', async () => {
    await load();
    const kept = nextMessage<NodeMessage & { quarantine: { csv: string; errors: string } }>('kept', 30_000);
    writeFileSync(join(work, 'landing', 'rooms.csv'), `${ROWS.join('\n')}\n`);
    const msg = await kept;
    assert.deepEqual(readdirSync(join(work, 'rejected')).sort(), [
      'rooms.0.errors.json',
      'rooms.0.rejected.csv',
    ]);
    assert.equal(msg.quarantine.csv, join(work, 'rejected', 'rooms.0.rejected.csv'));
    assert.equal(
      readFileSync(msg.quarantine.csv, 'utf8'),
      'line_no,id,room_id/id,noted_date,temp,out/in\r\n' +
        '3,hot,Room A,08-12-2018 09:30,61,In\r\n' +
        `4,bad-date,"'=HYPERLINK(""http://evil"")",31-02-2024 10:00,20,Out\r\n`,
    );
    const detail = JSON.parse(readFileSync(msg.quarantine.errors, 'utf8'));
    assert.equal(detail.source, 'rooms.csv');
    assert.deepEqual(
      detail.rows.map((r: { line: number; errors: Array<{ field: string; rule: string }> }) => [
        r.line,
        r.errors.map((e) => `${e.field}:${e.rule}`).join(' '),
      ]),
      [
        [3, 'temp:max'],
        [4, 'ts:format'],
      ],
    );
    const rows = await query<{ line_no: number; rule_version: string; source_name: string }>(
      db.url,
      'SELECT line_no::int, rule_version, source_name FROM silver.quarantine ORDER BY line_no',
    );
    assert.deepEqual(rows, [
      { line_no: 3, rule_version: 'iot-temp/1', source_name: 'rooms.csv' },
      { line_no: 4, rule_version: 'iot-temp/1', source_name: 'rooms.csv' },
    ]);
  });

  it('replays quarantined records through changed rules: the ones that pass land in silver, once', async () => {
    await load();
    const done = nextMessage<Outcome>('files', 30_000);
    writeFileSync(join(work, 'landing', 'rooms.csv'), `${ROWS.join('\n')}\n`);
    await done;
    await poll(
      async () => ((await query(db.url, 'SELECT 1 FROM silver.quarantine')).length === 2 ? true : undefined),
      10_000,
      'two quarantined rows',
    );
    await poll(
      async () =>
        (await query(db.url, 'SELECT 1 FROM silver.temperature_readings')).length === 2 ? true : undefined,
      10_000,
      'two silver rows',
    );

    const restored = nextMessage<NodeMessage & { payload: Array<{ id: string }> }>('restored', 30_000);
    helper.getNode('q').receive({ replay: true } as NodeMessage);
    assert.deepEqual(
      (await restored).payload.map((r) => r.id),
      ['hot'],
    );
    const silver = await query<{ id: string; line_no: number; rule_version: string; source_name: string }>(
      db.url,
      `SELECT s.id, s.line_no::int, s.rule_version, b.source_name
         FROM silver.temperature_readings s JOIN bronze.records b USING (source_key, line_no) ORDER BY s.id`,
    );
    assert.deepEqual(silver, [
      { id: 'hot', line_no: 3, rule_version: 'iot-temp/2', source_name: 'rooms.csv' },
      { id: 'ok-1', line_no: 2, rule_version: 'iot-temp/1', source_name: 'rooms.csv' },
      { id: 'ok-2', line_no: 5, rule_version: 'iot-temp/1', source_name: 'rooms.csv' },
    ]);
    const [{ left }] = await query<{ left: number }>(
      db.url,
      'SELECT count(*) FILTER (WHERE replayed_at IS NULL)::int AS left FROM silver.quarantine',
    );
    assert.equal(left, 0, 'each record is offered once');

    helper.getNode('q').receive({ replay: true } as NodeMessage);
    await new Promise((r) => setTimeout(r, 300));
    const [{ n }] = await query<{ n: number }>(
      db.url,
      'SELECT count(*)::int AS n FROM silver.temperature_readings',
    );
    assert.equal(n, 3, 'nothing left to replay, nothing stored twice');
  });

  it('writes to the folder an env-typed field names, and counts what it kept in green', async () => {
    process.env.MEDALLION_TEST_QUARANTINE = join(work, 'from-env');
    try {
      const alone = [
        {
          id: 'q',
          type: 'medallion-quarantine',
          folder: 'MEDALLION_TEST_QUARANTINE',
          folderType: 'env',
          wires: [['kept'], []],
        },
        { id: 'kept', type: 'helper' },
      ];
      await helper.load([quarantineNode], alone);
      const kept = nextMessage<NodeMessage & { quarantine: { csv: string } }>('kept');
      helper.getNode('q').receive({
        payload: [{ line_no: 2, record: { temp: '99' }, errors: [], rule_version: 'v' }],
        source: { name: 'env.csv', batch: 0 },
      } as NodeMessage);
      assert.equal((await kept).quarantine.csv, join(work, 'from-env', 'env.0.rejected.csv'));
      assert.deepEqual(readdirSync(join(work, 'from-env')).sort(), [
        'env.0.errors.json',
        'env.0.rejected.csv',
      ]);
      await waitFor(() => statuses('q').some((st) => st.text === '1 kept'), 3000, 'status');
      assert.deepEqual(statuses('q').at(-1), { fill: 'green', shape: 'dot', text: '1 kept' });
    } finally {
      delete process.env.MEDALLION_TEST_QUARANTINE;
    }
  });

  it('names an unset environment variable in its folder, through a catch node', async () => {
    const alone = [
      { id: 'q', type: 'medallion-quarantine', folder: '${MEDALLION_NO_SUCH_FOLDER}', wires: [[], []] },
      { id: 'c', type: 'catch', scope: ['q'], uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ];
    await helper.load([quarantineNode], alone);
    const caught = nextMessage<Caught>('caught');
    helper
      .getNode('q')
      .receive({ payload: [{ line_no: 1, record: {}, errors: [], rule_version: 'v' }] } as NodeMessage);
    assert.match((await caught).error.message, /MEDALLION_NO_SUCH_FOLDER, which is not set/);
    assert.equal(statuses('q')[0].fill, 'red', 'red from the start');
  });
});
