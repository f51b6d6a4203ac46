/**
 * The pack's MQTT input without Node-RED: readings received at the client's speed,
 * parsed once each, batched (N readings or T ms, and never more than the broker's
 * window of unacknowledged messages), and acknowledged only once the batch holding
 * them is committed in every layer named (bronze; or silver and quarantine, so that a
 * crash between the layers is healed by the redelivery too), in arrival order. A
 * reading not yet committed when the connection or the process dies was never
 * acknowledged, so the broker delivers it again; its idempotency key makes the second
 * delivery a duplicate, not a row.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { detectProfile } from '../validate/profiles';
import type { AckClient, ConnectInfo, Incoming } from './ack-client';
import { Batcher } from './batcher';
import { readingsOf, type KeyOptions, type ReadingRecord } from './readings';

export interface IngestOptions extends KeyOptions {
  batchSize: number;
  batchTimeoutMs: number;
  /** The session's name prefix (`msg.source.name`). */
  name: string;
  /** The layers a batch must be committed in (its progress rows) before its messages are acknowledged. */
  ackLayers: string[];
}

export interface IngestBatch {
  topic: string;
  payload: ReadingRecord[];
  source: { kind: 'mqtt'; name: string; key: string; batch: number; last: false; lineStart: 1 };
}

export interface IngestStats {
  connected: boolean;
  /** Messages received and readings sent on in batches, since the start. */
  messages: number;
  readings: number;
  batches: number;
  /** Messages held for the next batch, and sent on but not yet committed. */
  held: number;
  unacked: number;
  /** What the broker sends at most before it waits for acknowledgements. */
  window: number;
  /** Age of the oldest message not yet acknowledged (ms), 0 when none. */
  oldestMs: number;
}

interface Pending {
  seq: number;
  /** The batch it went out in; undefined while held. */
  batch?: number;
  at: number;
}

interface Held {
  record: ReadingRecord;
  seq: number;
}

/** Events: `batch` (IngestBatch), `connect` (ConnectInfo), `disconnect` ({reason, dropped}), `error` (Error). */
export class MqttIngest extends EventEmitter {
  readonly key: string;
  readonly name: string;
  private readonly batcher: Batcher<Held>;
  private pending: Pending[] = [];
  private readonly committedBatches = new Set<number>();
  /** The ack layers each batch has reached so far. */
  private readonly reached = new Map<number, Set<string>>();
  private connection = 0;
  private window = 0;
  private nextBatch = 0;
  private readonly totals = { messages: 0, readings: 0, batches: 0 };

  constructor(
    private readonly client: AckClient,
    private readonly options: IngestOptions,
    now: Date = new Date(),
  ) {
    super();
    const stamp = now
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    this.name = `${options.name.replace(/[^\w-]+/g, '_') || 'mqtt'}-${stamp}`;
    this.key = `${this.name}-${randomBytes(4).toString('hex')}`;
    this.batcher = new Batcher<Held>(
      { size: options.batchSize, timeoutMs: options.batchTimeoutMs },
      (_group, held) => this.send(held),
    );
    client.on('connect', (info: ConnectInfo) => {
      this.connection = info.connection;
      this.window = info.window;
      this.emit('connect', info);
    });
    client.on('message', (m: Incoming) => this.receive(m));
    client.on('disconnect', (info: { reason: string; dropped: number }) => {
      // the broker delivers every unacknowledged message again: what is held need not go on
      this.batcher.drop();
      this.pending = [];
      this.reached.clear();
      this.committedBatches.clear();
      this.emit('disconnect', info);
    });
    client.on('error', (err: Error) => this.emit('error', err));
  }

  start(): void {
    this.client.start();
  }

  /** Disconnects keeping the session: what is held or not yet committed is delivered again on the next start. */
  async close(): Promise<void> {
    this.batcher.drop();
    this.pending = [];
    await this.client.close();
  }

  /**
   * Batch `batch` of this session was committed in `layer`: once it is in every ack
   * layer, acknowledge what is now committed, in order.
   */
  committed(batch: number, layer: string): void {
    if (!this.options.ackLayers.includes(layer) || this.committedBatches.has(batch)) return;
    let reached = this.reached.get(batch);
    if (!reached) this.reached.set(batch, (reached = new Set()));
    reached.add(layer);
    if (reached.size < this.options.ackLayers.length) return;
    this.reached.delete(batch);
    this.committedBatches.add(batch);
    let through = 0;
    while (this.pending.length && this.pending[0].batch !== undefined) {
      const head = this.pending[0];
      if (!this.committedBatches.has(head.batch!)) break;
      through = head.seq;
      this.pending.shift();
    }
    if (through) this.client.ackThrough(this.connection, through);
    // a batch none of whose messages waits any more is not looked up again
    const waiting = new Set(this.pending.map((p) => p.batch));
    for (const b of this.committedBatches) if (!waiting.has(b)) this.committedBatches.delete(b);
  }

  /** Batches sent on and not yet committed in `layer`. */
  uncommitted(layer: string): number[] {
    const out = new Set<number>();
    for (const p of this.pending) {
      const b = p.batch;
      if (b !== undefined && !this.committedBatches.has(b) && !this.reached.get(b)?.has(layer)) out.add(b);
    }
    return [...out];
  }

  stats(now = Date.now()): IngestStats {
    return {
      connected: this.client.isConnected,
      ...this.totals,
      held: this.batcher.held,
      unacked: this.pending.length,
      window: this.window,
      oldestMs: this.pending.length ? now - this.pending[0].at : 0,
    };
  }

  private receive(m: Incoming): void {
    if (m.connection !== this.connection) return;
    this.totals.messages++;
    this.pending.push({ seq: m.seq, at: Date.now() });
    const records = readingsOf(m.topic, m.payload, this.options);
    const first = records.find((r) => r.fields);
    // a message's readings stay together, in a batch of their kind (validate's `auto` fits each batch)
    const group = first?.fields ? (detectProfile(Object.keys(first.fields)) ?? '') : '';
    this.batcher.push(
      group,
      records.map((record) => ({ record, seq: m.seq })),
    );
    // the window is full: the broker sends no more until something is acknowledged, so what is
    // held goes now (once, as the window fills: a broker sending a few more must not make batches of one)
    if (this.pending.length === this.window) this.batcher.flushAll();
  }

  private send(held: Held[]): void {
    const batch = this.nextBatch++;
    const seqs = new Set(held.map((h) => h.seq));
    for (const p of this.pending) if (seqs.has(p.seq)) p.batch = batch;
    this.totals.readings += held.length;
    this.totals.batches++;
    this.emit('batch', {
      topic: this.name,
      payload: held.map((h) => h.record),
      source: { kind: 'mqtt', name: this.name, key: this.key, batch, last: false, lineStart: 1 },
    } satisfies IngestBatch);
  }
}
