import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeMessage } from 'node-red';
import type { ItemLabel } from '../../lib/sim/simulator';
import { Validator } from '../../lib/validate/validator';
import simulatorNode from '../../nodes/simulator/simulator';
import type { FlowNode } from '../support/landing-flow';
import { helper, messages, nextMessage, statuses, waitFor } from '../support/flow';

type Reading = NodeMessage & { payload: Record<string, unknown> | string; sim: ItemLabel };
type Written = NodeMessage & {
  payload: {
    path: string;
    name: string;
    rows: number;
    halfWritten: boolean;
    faults: Array<ItemLabel & { line: number }>;
  };
};

describe('medallion-simulator node', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'medallion-sim-'));
  });
  afterEach(async () => {
    await helper.unload();
    rmSync(dir, { recursive: true, force: true });
  });

  const load = (cfg: Record<string, unknown>) =>
    helper.load(simulatorNode, <FlowNode[]>[
      {
        id: 's',
        type: 'medallion-simulator',
        mode: 'messages',
        schema: 'iot-environment',
        locations: '101, 102',
        rate: 1000,
        seed: 3,
        faults: '',
        topic: 'plant/{device}/readings',
        autoStart: false,
        wires: [['out']],
        ...cfg,
      },
      { id: 'out', type: 'helper' },
    ]);

  it('makes a number of readings on demand, one message each, valid and labelled', async () => {
    await load({});
    const got = messages<Reading>('out', 10);
    helper.getNode('s').receive({ payload: 10 });
    const readings = await got;
    assert.deepEqual([...new Set(readings.map((m) => m.topic))].sort(), [
      'plant/101/readings',
      'plant/102/readings',
    ]);
    assert.ok(readings.every((m) => m.sim.expect === 'stored' && m.sim.fault === undefined));
    const out = new Validator('auto', '').validate(readings.map((m) => m.payload));
    assert.equal(out.table, 'silver.environment_readings');
    assert.equal(out.silver.length, 10);
    assert.deepEqual(
      readings.map((m) => m.sim.key),
      out.silver.map(
        (r) => `${r.location_id}@${(r.ts as Date).toISOString().slice(0, 19).replace('T', ' ')}`,
      ),
    );
  });

  it('starts and stops by message, showing its rate and counts', async () => {
    await load({ rate: 200 });
    const s = helper.getNode('s');
    const got = messages<Reading>('out', 20, 5000);
    s.receive({ payload: 'start' });
    await got;
    s.receive({ payload: 'stop' });
    await waitFor(
      () => /^stopped · \d+ readings · 0 faults$/.test(statuses('s').at(-1)?.text ?? ''),
      3000,
      'stopped',
    );
    assert.ok(statuses('s').some((st) => st.fill === 'green' && /\/s · /.test(st.text ?? '')));
  });

  it('is toggled by its button (an admin endpoint), and refuses an unknown command with a Catch-able error', async () => {
    await load({ rate: 100 });
    await helper.request().post('/medallion-simulator/s/toggle').expect(200);
    await nextMessage<Reading>('out');
    await helper.request().post('/medallion-simulator/s/toggle').expect(200);
    await helper.request().post('/medallion-simulator/nope/toggle').expect(404);
    const s = helper.getNode('s');
    const errors = new Promise<string>((resolve) =>
      (s as unknown as NodeJS.EventEmitter).on('call:error', (call: { args: [string] }) =>
        resolve(String(call.args[0])),
      ),
    );
    s.receive({ payload: 'fast' });
    assert.match(await errors, /msg\.payload must be start, stop, toggle or a number of readings/);
  });

  it('labels every injected fault with what the pipeline must do with it', async () => {
    await load({ faults: 'out-of-range: 0.2, wrong-type: 0.2, malformed: 0.1, duplicate: 0.1' });
    const got = messages<Reading>('out', 200, 5000);
    helper.getNode('s').receive({ payload: 200 });
    const readings = await got;
    const out = new Validator('iot-environment', '');
    for (const m of readings) {
      const payload = typeof m.payload === 'string' ? null : m.payload;
      const valid = payload !== null && out.validate([payload]).silver.length === 1;
      assert.equal(valid, m.sim.expect !== 'quarantined', JSON.stringify(m.sim));
    }
    const faults = new Set(readings.map((m) => m.sim.fault?.fault).filter(Boolean));
    assert.deepEqual([...faults].sort(), ['duplicate', 'malformed', 'out-of-range', 'wrong-type']);
  });

  it('writes CSV files into its folder by renaming a finished temporary file, with the labels on its output', async () => {
    await load({
      mode: 'files',
      schema: 'iot-temp',
      locations: 'Room Admin',
      folder: dir,
      faults: 'null-key: 0.3',
    });
    const got = nextMessage<Written>('out');
    helper.getNode('s').receive({ payload: 40 });
    const { payload: file } = await got;
    assert.deepEqual(readdirSync(dir), [file.name], 'no temporary file left');
    assert.match(file.name, /^iot-temp-\d{8}T\d{6}-000001\.csv$/);
    const lines = readFileSync(file.path, 'utf8').trimEnd().split('\n');
    assert.equal(lines[0], 'id,room_id/id,noted_date,temp,out/in');
    assert.equal(lines.length - 1, file.rows);
    assert.equal(file.rows, 40);
    assert.equal(file.halfWritten, false);
    const faulty = file.faults.filter((f) => f.fault);
    assert.ok(
      faulty.length > 0 && faulty.every((f) => f.fault!.fault === 'null-key' && f.expect === 'quarantined'),
    );
    for (const f of faulty) assert.match(lines[f.line - 1], /^,|,,/, `line ${f.line} has an empty key field`);
  });

  it('writes its files into the folder an env-typed field names', async () => {
    process.env.MEDALLION_TEST_SIM_FOLDER = dir;
    try {
      await load({ mode: 'files', folder: 'MEDALLION_TEST_SIM_FOLDER', folderType: 'env' });
      const got = nextMessage<Written>('out');
      helper.getNode('s').receive({ payload: 5 });
      const { payload: file } = await got;
      assert.equal(file.path, join(dir, file.name));
      assert.deepEqual(readdirSync(dir), [file.name]);
    } finally {
      delete process.env.MEDALLION_TEST_SIM_FOLDER;
    }
  });

  it('names the unset environment variable of an env-typed folder on its status', async () => {
    delete process.env.MEDALLION_TEST_UNSET;
    await load({ mode: 'files', folder: 'MEDALLION_TEST_UNSET', folderType: 'env' });
    await waitFor(() => statuses('s').some((st) => st.fill === 'red'), 2000, 'red status');
    assert.deepEqual(
      statuses('s').find((st) => st.fill === 'red'),
      {
        fill: 'red',
        shape: 'ring',
        text: 'folder: the environment variable MEDALLION_TEST_UNSET is not set',
      },
    );
  });

  it('reports settings it cannot use on its status, and as a Catch-able error per message', async () => {
    await load({ locations: '', rate: 0 });
    await waitFor(() => statuses('s').some((st) => st.fill === 'red'), 2000, 'red status');
    const s = helper.getNode('s');
    const caught = new Promise<string>((resolve) =>
      (s as unknown as NodeJS.EventEmitter).on('call:error', (call: { args: [string] }) =>
        resolve(String(call.args[0])),
      ),
    );
    s.receive({ payload: 'start' });
    assert.match(await caught, /simulator/);
  });
});
