/**
 * A publisher in its own process, as a gateway is: `<broker url> <topic prefix> <count>`
 * publishes `count` campus readings (100 locations, one JSON reading per QoS 1 message)
 * at full speed to `<prefix>/sensors/<location>/readings`: prints `start <count>` when
 * the messages are made and it begins, `published <count>` once the broker has them all.
 */
import { randomBytes } from 'node:crypto';
import { connectAsync } from 'mqtt';
import { Simulator } from '../../lib/sim/simulator';

export function burstMessages(prefix: string, count: number, start = Date.now()) {
  const sim = new Simulator(
    {
      mode: 'messages',
      schema: 'iot-environment',
      locations: Array.from({ length: 100 }, (_, i) => String(1000 + i)),
      rate: 100,
      seed: 99,
      faults: {},
      topic: `${prefix}/sensors/{device}/readings`,
      arrays: false,
    },
    start,
  );
  return sim
    .messages(sim.burst(count, start))
    .map((m) => ({ topic: m.topic, text: JSON.stringify(m.payload) }));
}

/** Publishes at full speed (at most 10 000 unacknowledged: QoS 1 packet ids run out at 65 535). */
export async function publishAll(url: string, messages: ReadonlyArray<{ topic: string; text: string }>) {
  const pub = await connectAsync(url, { clientId: `burst-pub-${randomBytes(4).toString('hex')}` });
  const unacked = new Set<Promise<unknown>>();
  for (const m of messages) {
    const p: Promise<unknown> = pub
      .publishAsync(m.topic, m.text, { qos: 1 })
      .finally(() => unacked.delete(p));
    unacked.add(p);
    if (unacked.size >= 10_000) await Promise.race(unacked);
  }
  await Promise.all(unacked);
  await pub.endAsync();
}

if (require.main === module) {
  const [url, prefix, count] = process.argv.slice(2);
  const messages = burstMessages(prefix, Number(count));
  console.log(`start ${messages.length}`);
  publishAll(url, messages).then(
    () => console.log(`published ${messages.length}`),
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
