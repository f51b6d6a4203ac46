/**
 * MQTT messages as bronze records: one record per reading (a message holds one JSON
 * reading or an array of them), with the bytes as received, the parsed fields, and a
 * stable idempotency key, so a QoS 1 redelivery of the same reading lands on the same
 * bronze, silver and quarantine keys and never makes a second row.
 */
import { createHash } from 'node:crypto';

export interface ReadingRecord {
  /** The reading's idempotency key (bronze and silver lineage `source_key`). */
  source_key: string;
  /** 1 for a single reading; the position (1-based) in an array message. */
  line_no: number;
  /** The payload as received; for an element of an array, its JSON text. */
  raw: Buffer;
  /** The reading's fields; absent when the payload is not a JSON object. */
  fields?: Record<string, unknown>;
  /** Why the reading is not usable (not JSON, not an object). */
  error?: string;
}

export interface KeyOptions {
  /** Fields that identify a reading (a message id, or device + timestamp); empty: automatic. */
  keyFields: readonly string[];
}

/** Fields read as a message id, in this order, when no key fields are configured. */
export const ID_FIELDS = ['message_id', 'msg_id', 'id'] as const;
/** Fields naming the device when a gateway publishes several on one topic. */
export const DEVICE_FIELDS = ['device_id', 'device', 'sensor_id', 'location_id'] as const;
/** Fields holding the reading's event time. */
export const TIME_FIELDS = ['ts', 'timestamp', 'time', 'noted_date'] as const;

const present = (v: unknown) => v !== undefined && v !== null && String(v).trim() !== '';

function digest(topic: string, raw: Buffer): string {
  return createHash('sha256').update(topic).update('\0').update(raw).digest('hex');
}

/**
 * The key of one reading: the configured fields; else a message id field; else the
 * topic with the device fields and the event time; else (no event time) the content
 * hash of topic and bytes, which a redelivery repeats.
 */
export function readingKey(
  topic: string,
  fields: Record<string, unknown> | undefined,
  raw: Buffer,
  options: KeyOptions,
): string {
  if (fields && options.keyFields.length) {
    const parts = options.keyFields.map((f) => fields[f]);
    if (parts.every(present)) return `mqtt:${parts.map(String).join('|')}`;
  } else if (fields) {
    const id = ID_FIELDS.find((f) => present(fields[f]));
    if (id) return `mqtt:${id}:${String(fields[id])}`;
    const time = TIME_FIELDS.find((f) => present(fields[f]));
    if (time) {
      const device = DEVICE_FIELDS.filter((f) => present(fields[f])).map((f) => String(fields[f]));
      return `mqtt:${[topic, ...device, String(fields[time])].join('|')}`;
    }
  }
  return `mqtt:sha256:${digest(topic, raw)}`;
}

function asBuffer(payload: unknown): Buffer {
  if (Buffer.isBuffer(payload)) return payload;
  if (payload instanceof Uint8Array) return Buffer.from(payload);
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  return Buffer.from(JSON.stringify(payload) ?? String(payload), 'utf8');
}

function record(
  topic: string,
  raw: Buffer,
  value: unknown,
  line_no: number,
  options: KeyOptions,
): ReadingRecord {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const what = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    return {
      source_key: readingKey(topic, undefined, raw, options),
      line_no,
      raw,
      error: `reading ${line_no} on ${topic} is ${what}, not a JSON object`,
    };
  }
  const fields = value as Record<string, unknown>;
  return { source_key: readingKey(topic, fields, raw, options), line_no, raw, fields };
}

/**
 * The readings of one message. The payload may be bytes or text (parsed as JSON once
 * here), or already an object or array (a message from another node).
 */
export function readingsOf(topic: string, payload: unknown, options: KeyOptions): ReadingRecord[] {
  const raw = asBuffer(payload);
  let value: unknown = payload;
  if (typeof payload === 'string' || Buffer.isBuffer(payload) || payload instanceof Uint8Array) {
    try {
      value = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      return [
        {
          source_key: readingKey(topic, undefined, raw, options),
          line_no: 1,
          raw,
          error: `the message on ${topic} is not JSON (${(err as Error).message})`,
        },
      ];
    }
  }
  if (!Array.isArray(value)) return [record(topic, raw, value, 1, options)];
  return value.map((v, i) => record(topic, asBuffer(v), v, i + 1, options));
}
