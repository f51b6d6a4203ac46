import assert from 'node:assert/strict';
import { withoutHelperSpies } from '../../bench/support';
import { helper } from '../support/flow';

type Spied = { send?: { args?: unknown[] }; receive(msg: object): void };

describe('bench/support withoutHelperSpies', () => {
  afterEach(() => helper.unload());

  it('leaves no node of the loaded flow sending through the helper spy, which keeps every message', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const changeNode = require(
      require.resolve('@node-red/nodes/core/function/15-change.js', { paths: [process.cwd()] }),
    );
    const flow = [
      { id: 'c1', type: 'change', rules: [], wires: [['h1']] },
      { id: 'h1', type: 'helper' },
    ] as Parameters<typeof helper.load>[1];
    await helper.load(changeNode, flow);
    const c1 = helper.getNode('c1') as unknown as Spied;
    assert.ok(
      Array.isArray(c1.send?.args),
      'the helper spies on send while it loads (Node-RED copies it onto the node)',
    );
    withoutHelperSpies(helper);
    assert.equal(c1.send?.args, undefined);
    const got = new Promise((resolve) =>
      (helper.getNode('h1') as unknown as NodeJS.EventEmitter).once('input', resolve),
    );
    c1.receive({ payload: [1, 2, 3] });
    assert.deepEqual(((await got) as { payload: unknown }).payload, [1, 2, 3]);
  });
});
