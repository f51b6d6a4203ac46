import assert from 'node:assert/strict';
import { UsageError } from '../../lib/cli/args';
import { DEFAULT_HEAP_MB, heapLimitMb, heapRelaunch, RELAUNCHED_ENV } from '../../lib/cli/heap';

describe('lib/cli/heap', () => {
  const script = '/pack/dist/bin/medallion.js';
  const argv = ['ingest', 'big.csv', '--once'];

  it('relaunches ingest under the old-space limit, keeping node flags and arguments', () => {
    assert.deepEqual(heapRelaunch(script, argv, ['--trace-gc'], {}, undefined), [
      '--trace-gc',
      `--max-old-space-size=${DEFAULT_HEAP_MB}`,
      script,
      ...argv,
    ]);
  });

  it('grows the limit with the batch size, never below the default', () => {
    assert.equal(heapLimitMb(undefined), DEFAULT_HEAP_MB);
    assert.equal(heapLimitMb(1000), DEFAULT_HEAP_MB);
    assert.equal(heapLimitMb(20_000), DEFAULT_HEAP_MB * 4);
    assert.equal(
      heapRelaunch(script, argv, [], {}, 10_000)?.[0],
      `--max-old-space-size=${DEFAULT_HEAP_MB * 2}`,
    );
  });

  it('runs as it is when relaunched already, given a limit by the user, or told not to', () => {
    assert.equal(heapRelaunch(script, argv, [], { [RELAUNCHED_ENV]: '1' }, undefined), undefined);
    assert.equal(heapRelaunch(script, argv, ['--max-old-space-size=2048'], {}, undefined), undefined);
    assert.equal(heapRelaunch(script, argv, ['--max-heap-size=900'], {}, undefined), undefined);
    assert.equal(
      heapRelaunch(script, argv, [], { NODE_OPTIONS: '--max-old-space-size=900' }, undefined),
      undefined,
    );
    assert.equal(heapRelaunch(script, argv, [], { MEDALLION_HEAP_MB: '0' }, undefined), undefined);
    assert.equal(
      heapRelaunch(script, argv, [], { MEDALLION_HEAP_MB: '200' }, 50_000)?.[0],
      '--max-old-space-size=200',
    );
    // a flag that only starts like one is not a limit
    assert.ok(heapRelaunch(script, argv, [], { NODE_OPTIONS: '--max-old-space-sizes' }, undefined));
  });

  it('refuses a MEDALLION_HEAP_MB that is not a whole number of MB', () => {
    for (const bad of ['x', '-1', '1.5']) {
      assert.throws(() => heapLimitMb(undefined, bad), UsageError);
    }
  });
});
