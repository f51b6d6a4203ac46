import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { NodeMessage } from 'node-red';
import type { FileOutcome } from '../../lib/files/landing-watcher';
import type { RecordError } from '../../lib/validate/compile';
import pgConfigNode from '../../nodes/pg-config/pg-config';
import pgWriteNode from '../../nodes/pg-write/pg-write';
import validateNode from '../../nodes/validate/validate';
import watchFolderNode from '../../nodes/watch-folder/watch-folder';
import { DATASETS, expectCampus, expectedRun, expectIotTemp } from '../support/datasets';
import { createTestDatabase, query, type TestDatabase } from '../support/db';
import { helper, nextMessage, statuses, waitFor } from '../support/flow';
import { landingFlow, pgWrite } from '../support/landing-flow';
import { poll } from '../support/processes';

type Outcome = NodeMessage & { payload: FileOutcome };
type Caught = NodeMessage & { error: { message: string } };

/** The run is complete once every batch is in silver and in quarantine (the bundled flow's setting). */
const RUN_LAYERS = { completeLayers: 'silver, quarantine' };

/** AirQualityUCI as a custom rule set: decimal commas, Date + Time joined, -200 as missing. */
const AIR_QUALITY = {
  name: 'air-quality-uci',
  version: 'air-quality-uci/1',
  // the station's clock: UTC here, so no hour is ambiguous (Europe/Rome repeats one each October)
  timezone: 'UTC',
  key: ['ts', 'location_id'],
  fields: [
    { field: 'ts', join: ['Date', 'Time'], type: 'timestamp', formats: ['dd/mm/yyyy HH.MM.SS'] },
    { field: 'location_id', constant: 'AirQualityUCI', type: 'string' },
    {
      field: 'co_mg_m3',
      from: 'CO(GT)',
      type: 'number',
      decimalComma: true,
      missing: ['-200'],
      min: 0,
      max: 50,
      metric: true,
      unit: 'mg/m³',
    },
    {
      field: 'temperature_celsius',
      from: 'T',
      type: 'number',
      decimalComma: true,
      missing: ['-200'],
      min: -50,
      max: 60,
      metric: true,
      unit: '°C',
    },
    {
      field: 'humidity_percent',
      from: 'RH',
      type: 'number',
      decimalComma: true,
      missing: ['-200'],
      min: 0,
      max: 100,
      metric: true,
      unit: '%',
    },
  ],
};

describe('medallion-validate node (real PostgreSQL, the real datasets)', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let landing: string;

  beforeEach(async () => {
    db = await createTestDatabase('validate');
    landing = mkdtempSync(join(tmpdir(), 'medallion-validate-'));
  });
  afterEach(async () => {
    await helper.unload();
    rmSync(landing, { recursive: true, force: true });
    await db.drop();
  });

  function flow(
    validate: Record<string, unknown> = {},
    silverTable = 'silver.temperature_readings',
    watch: Record<string, unknown> = {},
  ) {
    const [cfg, wf, bronze] = landingFlow({ url: db.url, landing, filesTo: 'files', watch });
    return [
      cfg,
      wf,
      { ...bronze, wires: [['v'], []] },
      {
        id: 'v',
        type: 'medallion-validate',
        profile: 'iot-temp',
        rules: '',
        wires: [['pgs'], ['pgq']],
        ...validate,
      },
      pgWrite('pgs', silverTable, 'silver', 'stored'),
      pgWrite('pgq', 'silver.quarantine', 'quarantine', 'quarantined'),
      { id: 'files', type: 'helper' },
      { id: 'stored', type: 'helper' },
      { id: 'quarantined', type: 'helper' },
      { id: 'c', type: 'catch', scope: ['v'], uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ];
  }

  const load = (
    validate: Record<string, unknown> = {},
    silverTable?: string,
    watch?: Record<string, unknown>,
  ) =>
    helper.load(
      [pgConfigNode, pgWriteNode, watchFolderNode, validateNode],
      flow(validate, silverTable, watch),
    );

  /** The run as medallion.runs has it. */
  async function runOf(runId: string) {
    const [run] = await query<Record<string, string | number>>(
      db.url,
      `SELECT status, rows_read::int, rows_skipped::int, rows_inserted::int, rows_duplicate::int, rows_quarantined::int
         FROM medallion.runs WHERE run_id = $1`,
      [runId],
    );
    return run;
  }

  async function layerCounts(layer: string) {
    const [row] = await query<{ batches: number; rows_in: number; inserted: number; duplicate: number }>(
      db.url,
      `SELECT count(*)::int AS batches, coalesce(sum(rows_in), 0)::int AS rows_in,
              coalesce(sum(inserted), 0)::int AS inserted, coalesce(sum(duplicate), 0)::int AS duplicate
         FROM medallion.batches WHERE layer = $1`,
      [layer],
    );
    return row;
  }

  it('lands IOT-temp.csv in silver and quarantine as the rules say, and a second drop changes nothing', async () => {
    const source = join(DATASETS, 'IOT-temp.csv');
    const expected = expectIotTemp(source);
    await load();
    const done = nextMessage<Outcome>('files', 50_000);
    copyFileSync(source, join(landing, 'IOT-temp.csv'));
    const { payload: file } = await done;
    assert.equal(file.state, 'loaded');
    await poll(
      async () => {
        const [s, q] = [await layerCounts('silver'), await layerCounts('quarantine')];
        return s.batches === file.batches && q.batches === file.batches ? true : undefined;
      },
      30_000,
      'silver and quarantine progress for every batch',
    );
    const silver = await layerCounts('silver');
    assert.deepEqual(
      { rows: silver.rows_in, inserted: silver.inserted, duplicate: silver.duplicate },
      { rows: expected.valid, inserted: expected.distinct, duplicate: expected.valid - expected.distinct },
    );
    const [{ n: silverRows }] = await query<{ n: number }>(
      db.url,
      'SELECT count(*)::int AS n FROM silver.temperature_readings',
    );
    assert.equal(silverRows, expected.distinct);
    const [{ n: quarantined }] = await query<{ n: number }>(
      db.url,
      'SELECT count(*)::int AS n FROM silver.quarantine',
    );
    assert.equal(quarantined, expected.invalid);
    assert.equal(expected.valid + expected.invalid, file.rowsRead, 'every record is accounted for');

    const [lineage] = await query(
      db.url,
      `SELECT count(*)::int AS n FROM silver.temperature_readings s
         JOIN bronze.records b ON b.source_key = s.source_key AND b.line_no = s.line_no
        WHERE s.run_id = b.run_id AND s.rule_version = 'iot-temp/1' AND s.quality_score BETWEEN 0 AND 1`,
    );
    assert.equal(lineage.n, expected.distinct, 'each silver row links back to its bronze row');

    const again = nextMessage<Outcome>('files', 30_000);
    copyFileSync(source, join(landing, 'again.csv'));
    assert.equal((await again).payload.state, 'duplicate');
    const [{ n: after }] = await query<{ n: number }>(
      db.url,
      'SELECT count(*)::int AS n FROM silver.temperature_readings',
    );
    assert.equal(after, expected.distinct);
  });

  it('with the run complete in silver and quarantine, tells the file done once both have every batch: read = inserted + duplicate + quarantined', async () => {
    const source = join(DATASETS, 'IOT-temp.csv');
    const expected = expectIotTemp(source);
    await load({}, undefined, { completeLayers: 'silver, quarantine', batchSize: 2000, readAhead: 2 });
    const done = nextMessage<Outcome>('files', 50_000);
    copyFileSync(source, join(landing, 'IOT-temp.csv'));
    const { payload: file } = await done;
    assert.equal(file.state, 'loaded');
    const [silver, quarantine] = [await layerCounts('silver'), await layerCounts('quarantine')];
    assert.equal(silver.batches, file.batches, 'every batch reached silver before the file was reported');
    assert.equal(quarantine.batches, file.batches);
    assert.deepEqual(await runOf(file.runId!), expectedRun(expected));
  });

  const REPLAY_WATCH = { ...RUN_LAYERS, batchSize: 5000, readAhead: 100 };

  /**
   * Loads `source` as if Node-RED stopped between bronze and silver: validate's outputs
   * lead nowhere, the file is archived, its run left running. Returns the run.
   */
  async function archiveWithoutSilver(source: string, bronze: Record<string, unknown> = {}): Promise<string> {
    const cut = flow({}, undefined, REPLAY_WATCH).map((n) =>
      n.id === 'v' ? { ...n, wires: [[], []] } : n.id === 'pgw' ? { ...n, ...bronze } : n,
    );
    await helper.load([pgConfigNode, pgWriteNode, watchFolderNode, validateNode], cut);
    copyFileSync(source, join(landing, basename(source)));
    await poll(
      async () => existsSync(join(landing, 'processed', basename(source))) || undefined,
      30_000,
      'the file archived once in bronze',
    );
    const [{ runId, status }] = await query<{ runId: string; status: string }>(
      db.url,
      `SELECT run_id AS "runId", status FROM medallion.runs`,
    );
    assert.equal(status, 'running');
    assert.equal((await layerCounts('silver')).batches, 0);
    await helper.unload();
    return runId;
  }

  it('fails a run it cannot replay (bronze without batch numbers), naming why, and stays up', async () => {
    const runId = await archiveWithoutSilver(join(DATASETS, 'university_mental_health_iot_dataset.csv'), {
      columns: 'source_kind, source_key, source_name, line_no, raw, run_id',
    });
    await load({}, undefined, REPLAY_WATCH);
    const { payload: file } = await nextMessage<Outcome>('files', 30_000);
    assert.equal(file.state, 'failed');
    assert.match(
      file.error!,
      /^university_mental_health_iot_dataset\.csv: the run cannot be completed from bronze\.records: batch 0 has no rows there \(does the bronze pg-write write the batch column\?\)$/,
    );
    const [run] = await query(db.url, 'SELECT status, error FROM medallion.runs WHERE run_id = $1', [runId]);
    assert.deepEqual(run, { status: 'failed', error: file.error });
    // the node goes on: a new file loads
    const next = nextMessage<Outcome>('files', 30_000);
    writeFileSync(
      join(landing, 'next.csv'),
      'id,room_id/id,noted_date,temp,out/in\nn1,Room A,08-12-2018 09:30,29,In\n',
    );
    assert.equal((await next).payload.state, 'loaded');
  });

  it('completes a run left incomplete after its file was archived by replaying it from bronze on start', async () => {
    const source = join(DATASETS, 'IOT-temp.csv');
    const expected = expectIotTemp(source);
    const runId = await archiveWithoutSilver(source);
    await load({}, undefined, REPLAY_WATCH);
    const { payload: file } = await nextMessage<Outcome>('files', 50_000);
    assert.equal(file.state, 'loaded');
    assert.equal(file.runId, runId);
    assert.equal(file.replayed, file.batches);
    assert.equal(file.batches, Math.ceil(file.rowsRead! / 5000));
    assert.deepEqual(await runOf(runId), expectedRun(expected));
    const [counts] = await query(
      db.url,
      `SELECT (SELECT count(*)::int FROM bronze.records) AS bronze,
              (SELECT count(*)::int FROM silver.temperature_readings) AS silver,
              (SELECT count(*)::int FROM silver.quarantine) AS quarantine`,
    );
    assert.deepEqual(counts, {
      bronze: expected.valid + expected.invalid,
      silver: expected.distinct,
      quarantine: expected.invalid,
    });
    const events = await query<{ event: string; detail: string }>(
      db.url,
      `SELECT event, detail FROM medallion.file_events WHERE event = 'replay'`,
    );
    assert.deepEqual(events, [
      { event: 'replay', detail: `${file.batches} of ${file.batches} batches from bronze.records` },
    ]);
  });

  it('quarantines malformed rows with the field and rule named, and lands the rest', async () => {
    await load();
    const rows = [
      'id,room_id/id,noted_date,temp,out/in',
      'ok-1,Room A,08-12-2018 09:30,29,In',
      'bad-date,Room A,31-02-2024 10:00,29,In',
      'bad-temp,Room A,08-12-2018 09:30,NaN,In',
      'inf-temp,Room A,08-12-2018 09:30,Infinity,Out',
      ',Room A,08-12-2018 09:30,21,In',
      'hot,Room A,08-12-2018 09:30,61,In',
      'where,Room A,08-12-2018 09:30,20,Inside',
      'ragged,Room A,08-12-2018 09:30',
      'ok-2,Room B,09-12-2018 10:00,-3.5,Out',
    ];
    const quarantined = nextMessage<NodeMessage & { payload: unknown[]; errors: RecordError[] }>(
      'quarantined',
      30_000,
    );
    const stored = nextMessage<NodeMessage & { payload: unknown[] }>('stored', 30_000);
    writeFileSync(join(landing, 'malformed.csv'), `${rows.join('\n')}\n`);
    assert.equal((await stored).payload.length, 2);
    const { errors } = await quarantined;
    assert.deepEqual(
      errors.map((e) => [e.line, e.field, e.rule]),
      [
        [3, 'ts', 'format'],
        [4, 'temp', 'type'],
        [5, 'temp', 'type'],
        [6, 'id', 'required'],
        [7, 'temp', 'max'],
        [8, 'out_in', 'enum'],
        [9, 'temp', 'required'],
        [9, 'out_in', 'required'],
      ],
    );
    const stored2 = await query<{ line_no: number; errors: RecordError[]; record: Record<string, string> }>(
      db.url,
      'SELECT line_no::int, errors, record FROM silver.quarantine ORDER BY line_no',
    );
    assert.deepEqual(
      stored2.map((r) => r.line_no),
      [3, 4, 5, 6, 7, 8, 9],
    );
    assert.equal(stored2[0].record.noted_date, '31-02-2024 10:00', 'the record as received');
    assert.match(
      stored2[0].errors[0].message,
      /^line 3: ts is "31-02-2024 10:00", expected a date as dd-mm-yyyy HH:MM/,
    );
    const silver = await query<{ id: string; temp: number }>(
      db.url,
      'SELECT id, temp FROM silver.temperature_readings ORDER BY id',
    );
    assert.deepEqual(silver, [
      { id: 'ok-1', temp: 29 },
      { id: 'ok-2', temp: -3.5 },
    ]);
  });

  it('lands AirQualityUCI in silver.readings through a custom rule set: decimal commas, Date + Time, -200 as missing', async () => {
    await load({ profile: 'custom', rules: JSON.stringify(AIR_QUALITY) }, 'silver.readings', RUN_LAYERS);
    const done = nextMessage<Outcome>('files', 50_000);
    copyFileSync(join(DATASETS, 'AirQualityUCI.csv'), join(landing, 'air.csv'));
    const { payload: file } = await done;
    // independently: each data line's three measurements, -200 and empty meaning none
    const lines = readFileSync(join(DATASETS, 'AirQualityUCI.csv'), 'latin1').split(/\r?\n/).slice(1);
    if (lines[lines.length - 1] === '') lines.pop(); // the file's last line end
    let values = 0;
    let records = 0;
    let empty = 0;
    for (const line of lines) {
      const f = line.split(';');
      if (f.join('').trim() === '') continue;
      records++;
      const here = [2, 12, 13].filter((i) => f[i] !== '' && Number(f[i].replace(',', '.')) !== -200).length;
      values += here;
      if (here === 0) empty++;
    }
    const [{ n }] = await query<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM silver.readings');
    assert.equal(n, values, 'one row per measurement with a value');
    assert.ok(empty > 0, 'the file has lines where every sensor was out (-200)');
    // the run counts records (lines), not rows: lines with no measurement at all are quarantined
    assert.deepEqual(await runOf(file.runId!), {
      status: 'complete',
      rows_read: records,
      rows_skipped: lines.length - records,
      rows_inserted: records - empty,
      rows_duplicate: 0,
      rows_quarantined: empty,
    });
    const [{ q }] = await query<{ q: number }>(
      db.url,
      `SELECT count(*)::int AS q FROM silver.quarantine WHERE errors @> '[{"rule": "empty"}]'`,
    );
    assert.equal(q, empty);
    const [first] = await query<{ ts: Date; value: number }>(
      db.url,
      `SELECT ts, value FROM silver.readings WHERE metric = 'co_mg_m3' ORDER BY ts LIMIT 1`,
    );
    assert.deepEqual(first, { ts: new Date('2004-03-10T18:00:00Z'), value: 2.6 });
  });

  it('lands the campus sensors in silver.environment_readings, out-of-range rows in quarantine', async () => {
    const source = join(DATASETS, 'university_mental_health_iot_dataset.csv');
    const { valid } = expectCampus(source);
    await load({ profile: 'iot-environment' }, 'silver.environment_readings', RUN_LAYERS);
    const done = nextMessage<Outcome>('files', 50_000);
    copyFileSync(source, join(landing, 'campus.csv'));
    await done;
    const [{ n }] = await query<{ n: number }>(
      db.url,
      'SELECT count(*)::int AS n FROM silver.environment_readings',
    );
    const [{ q }] = await query<{ q: number }>(db.url, 'SELECT count(*)::int AS q FROM silver.quarantine');
    assert.equal(n, valid);
    assert.equal(q, 1000 - valid);
    const rules = await query<{ rule: string; field: string }>(
      db.url,
      `SELECT DISTINCT e->>'rule' AS rule, e->>'field' AS field FROM silver.quarantine, jsonb_array_elements(errors) e ORDER BY 1, 2`,
    );
    assert.ok(
      rules.length > 0 && rules.every((r) => r.rule === 'min' || r.rule === 'max'),
      JSON.stringify(rules),
    );
  });

  it('lands occupancy_datatraining.txt (a header one name short) in silver.readings', async () => {
    const rules = {
      name: 'office-occupancy',
      version: 'office-occupancy/1',
      key: ['ts'],
      fields: [
        { field: 'ts', from: 'date', type: 'timestamp', formats: ['yyyy-mm-dd HH:MM:SS'] },
        { field: 'location_id', constant: 'office', type: 'string' },
        { field: 'row', from: '_row', type: 'integer', required: true },
        {
          field: 'temperature',
          from: 'Temperature',
          type: 'number',
          min: -50,
          max: 60,
          metric: true,
          unit: '°C',
        },
        { field: 'co2', from: 'CO2', type: 'number', min: 0, max: 10000, metric: true, unit: 'ppm' },
        { field: 'occupied', from: 'Occupancy', type: 'boolean' },
      ],
    };
    await load({ profile: 'custom', rules: JSON.stringify(rules) }, 'silver.readings', RUN_LAYERS);
    const done = nextMessage<Outcome>('files', 50_000);
    copyFileSync(join(DATASETS, 'occupancy_datatraining.txt'), join(landing, 'occupancy.csv'));
    const { payload: file } = await done;
    const lines = readFileSync(join(DATASETS, 'occupancy_datatraining.txt'), 'utf8')
      .split('\n')
      .slice(1)
      .filter(Boolean);
    const [{ n, metrics }] = await query<{ n: number; metrics: string[] }>(
      db.url,
      'SELECT count(*)::int AS n, array_agg(DISTINCT metric ORDER BY metric) AS metrics FROM silver.readings',
    );
    assert.deepEqual(metrics, ['co2', 'temperature']);
    assert.equal(n, 2 * lines.length, 'two metrics per line, every line valid');
    assert.deepEqual(await runOf(file.runId!), {
      status: 'complete',
      rows_read: lines.length,
      rows_skipped: 0,
      rows_inserted: lines.length,
      rows_duplicate: 0,
      rows_quarantined: 0,
    });
  });

  it('picks the profile by the columns with auto, and quarantines a batch no profile fits', async () => {
    await load({ profile: 'auto' }, 'silver.environment_readings');
    const done = nextMessage<Outcome>('files', 50_000);
    // the campus file's own quarantine batch is acknowledged before the next message is watched for
    const quarantined = nextMessage('quarantined', 50_000);
    copyFileSync(join(DATASETS, 'university_mental_health_iot_dataset.csv'), join(landing, 'campus.csv'));
    const { payload: file } = await done;
    await poll(
      async () => ((await layerCounts('silver')).batches === file.batches ? true : undefined),
      30_000,
      'silver progress',
    );
    await quarantined;
    const [{ n }] = await query<{ n: number }>(
      db.url,
      'SELECT count(*)::int AS n FROM silver.environment_readings',
    );
    assert.ok(n > 900, `${n} campus rows`);

    const kept = nextMessage<NodeMessage & { errors: RecordError[] }>('quarantined');
    helper.getNode('v').receive({
      payload: [
        { line_no: 2, raw: Buffer.from('10/03/2004;2,6'), fields: { Date: '10/03/2004', 'CO(GT)': '2,6' } },
      ],
      source: { kind: 'file', name: 'air.csv', key: 'air-example', batch: 0, last: true },
    } as NodeMessage);
    const { errors } = await kept;
    assert.deepEqual(
      errors.map((e) => [e.line, e.rule]),
      [[2, 'profile']],
    );
    assert.match(
      errors[0].message,
      /^line 2: no built-in profile has the columns of this batch \(Date, CO\(GT\)\)/,
    );
    const [row] = await query(
      db.url,
      `SELECT rule_version, line_no::int FROM silver.quarantine WHERE source_key = 'air-example'`,
    );
    assert.deepEqual(row, { rule_version: 'auto', line_no: 2 }, 'kept in quarantine, not lost');
  });

  it('refuses a rule set that cannot work at deploy, and an unknown msg.profile per message', async () => {
    await load({
      profile: 'custom',
      rules: '{"name":"x","version":"1","key":["nope"],"fields":[{"field":"a","type":"string"}]}',
    });
    await waitFor(() => statuses('v').some((s) => s.fill === 'red'), 3000, 'red status');
    assert.match(statuses('v').pop()?.text ?? '', /key field "nope" is not one of the fields/);
    await helper.unload();

    await load();
    const caught = nextMessage<Caught>('caught');
    helper.getNode('v').receive({ payload: [{ id: 'x' }], profile: 'nope' } as NodeMessage);
    assert.match((await caught).error.message, /unknown profile "nope"/);
  });
});

describe('medallion-validate rule editor endpoints', () => {
  afterEach(() => helper.unload());

  const flow = [{ id: 'v', type: 'medallion-validate', profile: 'iot-temp', rules: '' }];
  const load = () => helper.load(validateNode, flow);

  it('gives the editor the built-in profiles with their defaults, the field types, conversions and tables', async () => {
    await load();
    const { body } = await helper.request().get('/medallion-validate/profiles').expect(200);
    assert.deepEqual(Object.keys(body.profiles), ['iot-temp', 'iot-environment']);
    const env = body.profiles['iot-environment'];
    assert.equal(env.version, 'iot-environment/1');
    assert.equal(env.timezone, 'UTC', 'the default filled in');
    assert.deepEqual(env.key, ['location_id', 'ts']);
    assert.deepEqual(env.fields[2], {
      field: 'temperature_celsius',
      type: 'number',
      required: false,
      min: -50,
      max: 60,
      metric: true,
      unit: '°C',
    });
    assert.deepEqual(body.profiles['iot-temp'].fields[2].formats, ['dd-mm-yyyy HH:MM']);
    assert.deepEqual(body.types, ['number', 'integer', 'string', 'timestamp', 'boolean']);
    assert.deepEqual(body.conversions, ['F->C', 'K->C', 'C->F', 'C->K']);
    assert.deepEqual(body.tables, ['temperature_readings', 'environment_readings', 'readings']);
  });

  it('checks a rule set as the runtime does and says exactly what is wrong', async () => {
    await load();
    const check = async (ruleSet: object) =>
      (await helper.request().post('/medallion-validate/check').send(ruleSet).expect(200)).body;

    assert.deepEqual(await check(AIR_QUALITY), { ok: true });
    const [ts, location, co] = AIR_QUALITY.fields;
    assert.deepEqual(await check({ ...AIR_QUALITY, fields: [ts, location, { ...co, min: 60 }] }), {
      ok: false,
      error: 'invalid rule set at fields.2: min is greater than max',
    });
    assert.deepEqual(await check({ ...AIR_QUALITY, key: ['ts', 'station'] }), {
      ok: false,
      error: 'invalid rule set: key field "station" is not one of the fields',
    });
    assert.deepEqual(await check({ ...AIR_QUALITY, timezone: 'Mars/Olympus' }), {
      ok: false,
      error: 'field "ts": unknown time zone "Mars/Olympus" (use an IANA name such as Europe/Rome, or UTC)',
    });
    assert.deepEqual(
      await check({ ...AIR_QUALITY, fields: [{ ...ts, formats: ['yyyy-qq-dd'] }, location, co] }),
      {
        ok: false,
        error: 'field "ts": date format "yyyy-qq-dd": unknown letter "q" (use yyyy yy mm dd HH MM SS)',
      },
    );
    const empty = await check({});
    assert.equal(empty.ok, false);
    assert.match(empty.error, /^invalid rule set at name: /);
  });
});
