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
import { EventEmitter } from 'node:events';
import type { AckClient, ConnectInfo, Incoming } from './ack-client';
import { MessageBatches, type MessageBatchesOptions, type ReadingBatch } from './message-batches';

export interface IngestOptions extends MessageBatchesOptions {
  /** The layers a batch must be committed in (its progress rows) before its messages are acknowledged. */
  ackLayers: string[];
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

/** Events: `batch` (ReadingBatch), `connect` (ConnectInfo), `disconnect` ({reason, dropped}), `error` (Error). */
export class MqttIngest extends EventEmitter {
  private readonly batches: MessageBatches<number>;
  private pending: Pending[] = [];
  private readonly committedBatches = new Set<number>();
  /** Messages of each batch sent on and not yet acknowledged. */
  private readonly inFlight = new Map<number, number>();
  /** The ack layers each batch has reached so far. */
  private readonly reached = new Map<number, Set<string>>();
  private connection = 0;
  private window = 0;
  private messages = 0;

  constructor(
    private readonly client: AckClient,
    private readonly options: IngestOptions,
    now: Date = new Date(),
  ) {
    super();
    this.batches = new MessageBatches<number>(options, (batch, seqs) => this.send(batch, seqs), now);
    client.on('connect', (info: ConnectInfo) => {
      this.connection = info.connection;
      this.window = info.window;
      this.emit('connect', info);
    });
    client.on('message', (m: Incoming) => this.receive(m));
    client.on('disconnect', (info: { reason: string; dropped: number }) => {
      // the broker delivers every unacknowledged message again: what is held need not go on
      this.batches.drop();
      this.pending = [];
      this.reached.clear();
      this.committedBatches.clear();
      this.inFlight.clear();
      this.emit('disconnect', info);
    });
    client.on('error', (err: Error) => this.emit('error', err));
  }

  start(): void {
    this.client.start();
  }

  /** Disconnects keeping the session: what is held or not yet committed is delivered again on the next start. */
  /** The session's name and key (`msg.source`). */
  get name(): string {
    return this.batches.name;
  }

  get key(): string {
    return this.batches.key;
  }

  async close(): Promise<void> {
    this.batches.drop();
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
    // none of its messages waits (a batch of an earlier connection: the broker sends them again)
    if (!this.inFlight.has(batch)) return;
    this.committedBatches.add(batch);
    let n = 0;
    for (; n < this.pending.length; n++) {
      const b = this.pending[n].batch;
      if (b === undefined || !this.committedBatches.has(b)) break;
    }
    if (!n) return;
    const acked = this.pending.splice(0, n);
    this.client.ackThrough(this.connection, acked[n - 1].seq);
    // a batch none of whose messages waits any more is not looked up again
    for (const { batch: b } of acked) {
      const left = this.inFlight.get(b!)! - 1;
      if (left) this.inFlight.set(b!, left);
      else {
        this.inFlight.delete(b!);
        this.committedBatches.delete(b!);
      }
    }
  }

  /**
   * Commits not heard of in-process (a pg-write on another connection node): once a
   * message has waited `minAgeMs`, asks `find` which of the batches waiting in each ack
   * layer are committed there, and takes them as committed.
   */
  async lookUpCommits(
    find: (layer: string, batches: number[]) => Promise<number[]>,
    minAgeMs: number,
  ): Promise<void> {
    if (this.stats().oldestMs < minAgeMs) return;
    for (const layer of this.options.ackLayers) {
      const waiting = this.uncommitted(layer);
      if (!waiting.length) continue;
      for (const b of await find(layer, waiting)) this.committed(b, layer);
    }
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
      messages: this.messages,
      ...this.batches.totals,
      held: this.batches.held,
      unacked: this.pending.length,
      window: this.window,
      oldestMs: this.pending.length ? now - this.pending[0].at : 0,
    };
  }

  private receive(m: Incoming): void {
    if (m.connection !== this.connection) return;
    this.messages++;
    this.pending.push({ seq: m.seq, at: Date.now() });
    this.batches.push(m.topic, m.payload, m.seq);
    // the window is full: the broker sends no more until something is acknowledged, so what is
    // held goes now (once, as the window fills: a broker sending a few more must not make batches of one)
    if (this.pending.length === this.window) this.batches.flushAll();
  }

  private send(batch: ReadingBatch, seqs: number[]): void {
    const of = new Set(seqs);
    let n = 0;
    for (const p of this.pending) {
      if (of.has(p.seq)) {
        p.batch = batch.source.batch;
        n++;
      }
    }
    if (n) this.inFlight.set(batch.source.batch, n);
    this.emit('batch', batch);
  }
}
