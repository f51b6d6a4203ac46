/**
 * A publisher in its own process, as a gateway is: `<broker url> <topic prefix> <count>`
 * publishes `count` campus readings (100 locations, one JSON reading per QoS 1 message)
 * at full speed to `<prefix>/sensors/<location>/readings`: prints `start <count>` when
 * the messages are made and it begins, `published <count>` once the broker has them all.
 */
import { randomBytes } from 'node:crypto';
import { connectAsync, type MqttClient } from 'mqtt';
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

/**
 * QoS 1 publishing with at most `max` messages unacknowledged (packet ids run out at
 * 65 535): wait for `free()`, then `send`. A
 * message the broker has not acknowledged when the connection drops is sent again by
 * MQTT.js once reconnected. Counted with callbacks: racing thousands of pending promises
 * once per message would keep a reaction per promise per race (out of memory while the
 * broker is away).
 */
export function windowed(client: MqttClient, max = 10_000) {
  let unacked = 0;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const settled = (err?: Error) => {
    unacked--;
    failure ??= err;
    wake?.();
  };
  const slot = () => new Promise<void>((resolve) => (wake = resolve));
  return {
    /** Resolves once fewer than `max` messages are unacknowledged. */
    async free(): Promise<void> {
      while (unacked >= max) await slot();
      if (failure) throw failure;
    },
    /** Hands `text` to MQTT.js at QoS 1 (after `free()`). */
    send(topic: string, text: string): void {
      unacked++;
      client.publish(topic, text, { qos: 1 }, (err) => settled(err ?? undefined));
    },
    /** Resolves once the broker has acknowledged every message published. */
    async drained(): Promise<void> {
      while (unacked > 0) await slot();
      if (failure) throw failure;
    },
  };
}

/** Publishes at full speed. */
export async function publishAll(url: string, messages: ReadonlyArray<{ topic: string; text: string }>) {
  const pub = await connectAsync(url, { clientId: `burst-pub-${randomBytes(4).toString('hex')}` });
  const window = windowed(pub);
  for (const m of messages) {
    await window.free();
    window.send(m.topic, m.text);
  }
  await window.drained();
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
