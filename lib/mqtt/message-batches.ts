/**
 * MQTT messages as batches for bronze, for both MQTT inputs (mqtt batch behind core
 * `mqtt in`, and mqtt ingest): each message's readings with their idempotency keys,
 * gathered by profile (so validate's `auto` fits every batch), numbered under a session key of their own, so every start numbers its
 * batches afresh without meeting an earlier session's progress rows.
 */
import { randomBytes } from 'node:crypto';
import { detectProfile } from '../validate/profiles';
import { Batcher } from './batcher';
import { readingsOf, type KeyOptions, type ReadingRecord } from './readings';

export interface MessageBatchesOptions extends KeyOptions {
  /** The session's name prefix (`msg.source.name`). */
  name: string;
  batchSize: number;
  batchTimeoutMs: number;
  /**
   * Batch each reading of an array by its own profile (mqtt batch); otherwise a message's
   * readings stay in one batch, of the first one's profile (mqtt ingest: a message is
   * acknowledged once its one batch is stored).
   */
  splitMessages?: boolean;
}

/** A batch as the nodes send it: the readings and their progress key. */
export interface ReadingBatch {
  topic: string;
  payload: ReadingRecord[];
  source: { kind: 'mqtt'; name: string; key: string; batch: number; last: false; lineStart: 1 };
}

/** The built-in profile a reading's columns fit; '' for none (custom, or unreadable). */
function profileOf(record: ReadingRecord): string {
  return record.fields ? (detectProfile(Object.keys(record.fields)) ?? '') : '';
}

interface Held<T> {
  record: ReadingRecord;
  tag: T;
}

export class MessageBatches<T = undefined> {
  readonly name: string;
  readonly key: string;
  readonly totals = { readings: 0, batches: 0 };
  private readonly batcher: Batcher<Held<T>>;
  private next = 0;

  /** `emit` gets each batch with the tags of its readings' messages (one per reading). */
  constructor(
    private readonly options: MessageBatchesOptions,
    emit: (batch: ReadingBatch, tags: T[]) => void,
    now: Date = new Date(),
  ) {
    const stamp = now
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    this.name = `${options.name.replace(/[^\w-]+/g, '_') || 'mqtt'}-${stamp}`;
    this.key = `${this.name}-${randomBytes(4).toString('hex')}`;
    this.batcher = new Batcher<Held<T>>(
      { size: options.batchSize, timeoutMs: options.batchTimeoutMs },
      (_g, held) => {
        const batch = this.next++;
        this.totals.readings += held.length;
        this.totals.batches++;
        emit(
          {
            topic: this.name,
            payload: held.map((h) => h.record),
            source: { kind: 'mqtt', name: this.name, key: this.key, batch, last: false, lineStart: 1 },
          },
          held.map((h) => h.tag),
        );
      },
    );
  }

  /** Readings held for the next batch. */
  get held(): number {
    return this.batcher.held;
  }

  /** Adds one message's readings (tagged `tag`); returns them (an unreadable one has `error`). */
  push(topic: string, payload: unknown, tag: T): ReadingRecord[] {
    const records = readingsOf(topic, payload, this.options);
    if (this.options.splitMessages) {
      for (const record of records) this.batcher.push(profileOf(record), [{ record, tag }]);
    } else {
      const first = records.find((r) => r.fields);
      this.batcher.push(
        first ? profileOf(first) : '',
        records.map((record) => ({ record, tag })),
      );
    }
    return records;
  }

  /** Sends everything held now. */
  flushAll(): void {
    this.batcher.flushAll();
  }

  /** Drops what is held (the flow stops, or the connection was lost); returns how many readings. */
  drop(): number {
    return this.batcher.drop();
  }
}
