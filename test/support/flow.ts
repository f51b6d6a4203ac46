import type { NodeMessage } from 'node-red';
import helper from 'node-red-node-test-helper';
import { nodeRedDir } from './node-red';
import { poll } from './processes';

helper.init(require.resolve(nodeRedDir()));

export { helper };

/** The next message a helper node receives (rejects after `ms`). */
export function nextMessage<T extends NodeMessage = NodeMessage & Record<string, unknown>>(
  id: string,
  ms = 10_000,
): Promise<T> {
  const node = helper.getNode(id) as unknown as NodeJS.EventEmitter;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no message on ${id} within ${ms} ms`)), ms);
    node.once('input', (msg: T) => {
      clearTimeout(timer);
      resolve(msg);
    });
  });
}

/** `count` messages in arrival order. */
export function messages<T extends NodeMessage = NodeMessage & Record<string, unknown>>(
  id: string,
  count: number,
  ms = 10_000,
): Promise<T[]> {
  const node = helper.getNode(id) as unknown as NodeJS.EventEmitter;
  const got: T[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${got.length} of ${count} messages on ${id} within ${ms} ms`)),
      ms,
    );
    const onInput = (msg: T) => {
      got.push(msg);
      if (got.length === count) {
        clearTimeout(timer);
        node.off('input', onInput);
        resolve(got);
      }
    };
    node.on('input', onInput);
  });
}

interface SpyCall {
  thisValue: unknown;
  args: unknown[];
}

/**
 * The arguments of every `status()` call a node made so far. The helper spies on the
 * Node prototype, so the spy holds every node's calls: keep this node's.
 */
export function statuses(id: string): Array<{ fill?: string; shape?: string; text?: string }> {
  const node = helper.getNode(id) as unknown as { status: { getCalls(): SpyCall[] } };
  return node.status
    .getCalls()
    .filter((c) => c.thisValue === node)
    .map((c) => c.args[0] as { fill?: string; shape?: string; text?: string });
}

/** Waits until `check()` holds (polled every 20 ms). */
export async function waitFor(check: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  await poll(async () => check() || undefined, ms, what, 20);
}
