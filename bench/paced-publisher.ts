/**
 * A publisher in its own process, as a gateway is, at a steady rate:
 * `<broker url> <topic prefix> <rate> <seconds> <out file>` publishes rate × seconds
 * campus readings (those of burst-publisher: 100 locations, one JSON reading per QoS 1
 * message) on a schedule of `rate` messages a second, and notes each one's wall-clock
 * time (Date.now(), ms) just before it is handed to MQTT.js. It prints `start <count>`
 * when the messages are made and it begins, and `published <count>` once the broker has
 * them all and `<out file>` holds every reading's key and publish time (PublishedFile).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { connectAsync } from 'mqtt';
import { burstMessages, windowed } from '../test/support/burst-publisher';

/** A reading as published: its silver key (location_id, ts in ms) and when it was published (ms). */
export type PublishedReading = [locationId: string, tsMs: number, publishedMs: number];

export interface PublishedFile {
  rate: number;
  /** In publish order. */
  readings: PublishedReading[];
}

/** Publishes `messages` in order, `rate` a second on a schedule from the first; resolves with each one's publish time. */
async function publishPaced(
  url: string,
  messages: ReadonlyArray<{ topic: string; text: string }>,
  rate: number,
): Promise<number[]> {
  const pub = await connectAsync(url, { clientId: `paced-pub-${randomBytes(4).toString('hex')}` });
  const window = windowed(pub);
  const publishedAt: number[] = [];
  const started = performance.now();
  while (publishedAt.length < messages.length) {
    const due = Math.min(messages.length, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
    while (publishedAt.length < due) {
      await window.free();
      const m = messages[publishedAt.length];
      publishedAt.push(Date.now());
      window.send(m.topic, m.text);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await window.drained();
  await pub.endAsync();
  return publishedAt;
}

async function main(): Promise<void> {
  const [url, prefix, rateArg, secondsArg, out] = process.argv.slice(2);
  const rate = Number(rateArg);
  const messages = burstMessages(prefix, rate * Number(secondsArg));
  // the campus sensors' `timestamp` is `yyyy-mm-dd HH:MM:SS` in UTC
  const keys = messages.map((m) => {
    const r = JSON.parse(m.text) as { location_id: string; timestamp: string };
    return [r.location_id, Date.parse(`${r.timestamp.replace(' ', 'T')}Z`)] as const;
  });
  console.log(`start ${messages.length}`);
  const publishedAt = await publishPaced(url, messages, rate);
  const file: PublishedFile = {
    rate,
    readings: keys.map(([location, ts], i) => [location, ts, publishedAt[i]]),
  };
  writeFileSync(out, JSON.stringify(file));
  console.log(`published ${messages.length}`);
}

if (require.main === module) {
  main().catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
