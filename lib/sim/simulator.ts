/**
 * The simulator node's engine: readings at a rate (all devices together), faults
 * injected by their rates, and what to emit — CSV files for a landing folder, or
 * messages for `mqtt out` (one reading each, or one array per tick) — every item
 * labelled with its key, what the pipeline must do with it, and its fault.
 */
import { mkdir } from 'node:fs/promises';
import { renderCsv } from './csv';
import {
  FaultInjector,
  malformedJson,
  type Expectation,
  type FaultLabel,
  type FaultRates,
  type SimItem,
} from './faults';
import { simFileName, writeLikeADevice, type WrittenFile } from './file-writer';
import { Random } from './random';
import { ReadingGenerator, type SimSchema } from './readings';

export interface SimulatorOptions {
  mode: 'files' | 'messages';
  schema: SimSchema;
  locations: readonly string[];
  /** Readings per second, all devices together. */
  rate: number;
  seed: number;
  faults: FaultRates;
  /** Messages: the topic, `{device}` and `{location}` filled in. */
  topic: string;
  /** Messages: the readings due at once as one array (topic with `gateway` for the device) instead of one message each. */
  arrays: boolean;
  /** Files: the name's prefix (default: the schema). */
  prefix?: string;
}

/** What is known of an emitted item: its key, what the pipeline must do with it, its fault. */
export interface ItemLabel {
  key: string;
  expect: Expectation;
  fault?: FaultLabel;
}

export interface SimMessage {
  topic: string;
  /** A reading, an array of readings, or (malformed) text. */
  payload: unknown;
  /** The label of the reading, or of each reading of an array. */
  sim: ItemLabel | ItemLabel[];
}

export interface SimFile {
  name: string;
  text: string;
  rows: number;
  /** Written slowly, in chunks (the half-written fault). */
  halfWritten: boolean;
  /** Every item with its line in the file. */
  labels: Array<ItemLabel & { line: number }>;
}

/** A half-written file is written in this many chunks, this far apart (inside watch-folder's stability window). */
const SLOW = { chunks: 5, intervalMs: 100 };

/** Most readings one call makes (a stalled timer does not turn into an unbounded burst). */
export const MAX_READINGS_PER_CALL = 50_000;

function labelOf(item: SimItem): ItemLabel {
  return item.fault
    ? { key: item.key, expect: item.expect, fault: item.fault }
    : { key: item.key, expect: item.expect };
}

export class Simulator {
  private readonly generator: ReadingGenerator;
  private readonly faults: FaultInjector;
  private readonly random: Random;
  private startedAt = 0;
  private ticks = 0;
  private files = 0;
  readonly totals = { readings: 0, halfWritten: 0 };

  constructor(
    private readonly options: SimulatorOptions,
    now = Date.now(),
  ) {
    if (!(options.rate > 0)) throw new Error(`rate must be above 0 readings per second, got ${options.rate}`);
    this.random = new Random(options.seed);
    this.generator = new ReadingGenerator({
      schema: options.schema,
      locations: options.locations,
      seed: options.seed,
      start: now,
    });
    this.faults = new FaultInjector(options.schema, options.faults, new Random(options.seed + 1));
    this.start(now);
  }

  get devices(): number {
    return this.generator.devices.length;
  }

  /** Wall-clock time between ticks (one reading per device each). */
  get tickMs(): number {
    return (1000 * this.generator.devices.length) / this.options.rate;
  }

  /** Faults injected so far, by kind. */
  get faultCounts() {
    return this.faults.counts;
  }

  /** (Re)starts the clock: readings fall due from `now` on. */
  start(now: number): void {
    this.startedAt = now;
    this.ticks = 0;
  }

  /** The items of the ticks due by `now`. */
  due(now: number): SimItem[] {
    const due = Math.floor((now - this.startedAt) / this.tickMs) + 1 - this.ticks;
    const max = Math.max(1, Math.floor(MAX_READINGS_PER_CALL / this.devices));
    if (due > max) this.ticks += due - max; // skip what cannot be caught up
    return this.run(Math.min(Math.max(due, 0), max), now);
  }

  /** `count` readings now, on top of the rate (rounded up to whole ticks). */
  burst(count: number, now: number): SimItem[] {
    return this.run(Math.ceil(Math.max(0, count) / this.devices), now);
  }

  /** Late readings still held back, now (on stop). */
  flush(): SimItem[] {
    return this.faults.flush();
  }

  private run(ticks: number, now: number): SimItem[] {
    const items: SimItem[] = [];
    for (let i = 0; i < ticks; i++) {
      const at = this.startedAt + (this.ticks + i) * this.tickMs;
      items.push(...this.faults.apply(this.generator.tick(Math.min(at, now))));
    }
    this.ticks += ticks;
    this.totals.readings += items.length;
    return items;
  }

  /** The messages for `items`: one per reading, or one array per tick (a malformed reading alone, as text). */
  messages(items: readonly SimItem[]): SimMessage[] {
    const topicOf = (item: SimItem) =>
      this.options.topic
        .replace(/\{device\}/g, item.reading.device.id)
        .replace(/\{location\}/g, item.reading.device.location);
    const out: SimMessage[] = [];
    const together: SimItem[] = [];
    for (const item of items) {
      if (item.fault?.fault === 'malformed') {
        out.push({ topic: topicOf(item), payload: malformedJson(item.record), sim: labelOf(item) });
      } else if (this.options.arrays) together.push(item);
      else out.push({ topic: topicOf(item), payload: item.record, sim: labelOf(item) });
    }
    if (together.length) {
      out.push({
        topic: this.options.topic.replace(/\{(device|location)\}/g, 'gateway'),
        payload: together.map((i) => i.record),
        sim: together.map(labelOf),
      });
    }
    return out;
  }

  /**
   * Writes the next file of `items` into `folder` the way a device does (created if
   * missing); resolves with what was written and every line's label.
   */
  async writeFile(
    items: readonly SimItem[],
    folder: string,
    now: number,
    signal?: AbortSignal,
  ): Promise<WrittenFile & { rows: number; faults: SimFile['labels'] }> {
    const file = this.file(items, now);
    await mkdir(folder, { recursive: true });
    try {
      const written = await writeLikeADevice(folder, file.name, file.text, {
        slow: file.halfWritten ? SLOW : undefined,
        signal,
      });
      return { ...written, rows: file.rows, faults: file.labels };
    } catch (err) {
      throw new Error(`writing ${file.name} into ${folder}: ${(err as Error).message}`);
    }
  }

  /** The next file for `items`, half-written by the fault's rate. */
  private file(items: readonly SimItem[], now: number): SimFile {
    const { text, lines } = renderCsv(this.options.schema, items);
    const halfWritten = this.random.next() < (this.options.faults['half-written'] ?? 0);
    if (halfWritten) this.totals.halfWritten += 1;
    return {
      name: simFileName(this.options.prefix || this.options.schema, now, ++this.files),
      text,
      rows: items.length,
      halfWritten,
      labels: items.map((item, i) => ({ ...labelOf(item), line: lines[i] })),
    };
  }
}
