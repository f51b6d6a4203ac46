import assert from 'node:assert/strict';
import { untilReachable } from '../../lib/pg/retry-db';
import { Serial } from '../../lib/serial';

describe('lib/serial', () => {
  it('runs tasks one at a time in call order, a failure not stopping the next', async () => {
    const serial = new Serial();
    const log: string[] = [];
    const task =
      (name: string, ms: number, fail = false) =>
      async () => {
        log.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, ms));
        log.push(`end ${name}`);
        if (fail) throw new Error(name);
        return name;
      };
    const results = await Promise.allSettled([
      serial.run(task('a', 20)),
      serial.run(task('b', 1, true)),
      serial.run(task('c', 1)),
    ]);
    assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
  });
});

describe('lib/pg/retry-db', () => {
  it('retries while the database is unreachable, and fails at once on anything else', async () => {
    let calls = 0;
    const retries: number[] = [];
    const value = await untilReachable(
      async () => {
        if (++calls < 2) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        return 'ok';
      },
      { maxMs: 1, onRetry: (i) => retries.push(i.retry) },
    );
    assert.deepEqual([value, calls, retries], ['ok', 2, [1]]);
    await assert.rejects(
      untilReachable(async () => {
        throw Object.assign(new Error('syntax error'), { code: '42601' });
      }),
      /syntax error/,
    );
  });
});
