import assert from 'node:assert/strict';
import { RetryAbortedError } from '../../lib/retry';
import { WriteQueue, type QueueJob, type WriteQueueOptions } from '../../lib/write-queue';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Harness {
  queue: WriteQueue<number, string, number>;
  written: number[][];
  done: Array<{ origins: string[]; result: number }>;
  failed: Array<{ origins: string[]; err: unknown }>;
  retries: number[];
}

function harness(
  options: Partial<WriteQueueOptions> = {},
  write?: (job: QueueJob<number, string>) => Promise<number>,
): Harness {
  const h: Harness = { written: [], done: [], failed: [], retries: [] } as unknown as Harness;
  h.queue = new WriteQueue<number, string, number>(
    {
      batchSize: 3,
      batchTimeoutMs: 50,
      retry: { initialMs: 5, maxMs: 10, maxAttempts: Infinity },
      closeTimeoutMs: 200,
      ...options,
    },
    {
      write:
        write ??
        (async (job) => {
          h.written.push(job.records);
          return job.records.length;
        }),
      transient: (e) => (e as Error).message === 'transient',
      done: (job, result) => h.done.push({ origins: job.origins, result }),
      failed: (job, err) => h.failed.push({ origins: job.origins, err }),
      retrying: (_job, info) => h.retries.push(info.retry),
    },
  );
  return h;
}

describe('lib/write-queue', () => {
  it('writes batches one at a time, in order', async () => {
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const h = harness({}, async (job) => {
      running++;
      most = Math.max(most, running);
      await sleep(5);
      order.push(job.records[0]);
      running--;
      return 1;
    });
    for (let i = 0; i < 5; i++) h.queue.pushBatch([i], `m${i}`);
    await h.queue.close();
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
    assert.equal(most, 1);
    assert.deepEqual(
      h.done.map((d) => d.origins),
      [['m0'], ['m1'], ['m2'], ['m3'], ['m4']],
    );
  });

  it('gathers single records and flushes at the batch size', async () => {
    const h = harness({ batchTimeoutMs: 10_000 });
    for (let i = 1; i <= 7; i++) h.queue.pushRecord(i, `m${i}`);
    await sleep(10);
    assert.deepEqual(h.written, [
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.deepEqual(h.done[0].origins, ['m1', 'm2', 'm3']);
    await h.queue.close();
    assert.deepEqual(h.written[2], [7], 'close flushes what is held');
  });

  it('flushes held records after the timeout', async () => {
    const h = harness({ batchSize: 100, batchTimeoutMs: 40 });
    h.queue.pushRecord(1, 'a');
    h.queue.pushRecord(2, 'b');
    await sleep(20);
    assert.deepEqual(h.written, []);
    await sleep(50);
    assert.deepEqual(h.written, [[1, 2]]);
    await h.queue.close();
  });

  it('keeps arrival order between held records and a batch', async () => {
    const h = harness({ batchTimeoutMs: 10_000 });
    h.queue.pushRecord(1, 'a');
    h.queue.pushBatch([10, 11], 'b');
    h.queue.pushRecord(2, 'c');
    await h.queue.close();
    assert.deepEqual(h.written, [[1], [10, 11], [2]]);
  });

  it('retries transient failures of a job and answers it once', async () => {
    let calls = 0;
    const h = harness({}, async (job) => {
      if (++calls < 3) throw new Error('transient');
      return job.records.length;
    });
    h.queue.pushBatch([1, 2], 'm');
    await h.queue.close();
    assert.deepEqual(h.retries, [1, 2]);
    assert.deepEqual(h.done, [{ origins: ['m'], result: 2 }]);
    assert.deepEqual(h.failed, []);
  });

  it('fails a job at once on a permanent error and goes on with the next', async () => {
    const h = harness({}, async (job) => {
      if (job.records[0] === 1) throw new Error('bad table');
      return 1;
    });
    h.queue.pushBatch([1], 'a');
    h.queue.pushBatch([2], 'b');
    await h.queue.close();
    assert.equal((h.failed[0].err as Error).message, 'bad table');
    assert.deepEqual(h.done[0].origins, ['b']);
  });

  it('gives up retrying when closing takes longer than its timeout', async () => {
    const h = harness({ closeTimeoutMs: 50 }, async () => {
      throw new Error('transient');
    });
    h.queue.pushRecord(1, 'held');
    const started = Date.now();
    await h.queue.close();
    assert.ok(Date.now() - started < 1000);
    assert.equal(h.failed.length, 1);
    assert.deepEqual(h.failed[0].origins, ['held']);
    assert.ok(h.failed[0].err instanceof RetryAbortedError);
  });
});
