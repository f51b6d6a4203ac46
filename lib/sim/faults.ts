/**
 * Labelled fault injection: turns fresh readings into the items to emit, at most one
 * fault per reading chosen by the rates, each labelled with what the pipeline must do
 * with it (store, quarantine, or recognise as a copy), so a test can check the outcome.
 */
import { malformed, nullKey, outOfRange, wrongType, type Corruption } from './corrupt';
import { FAULT_KINDS, parseFaultRates, type FaultKind, type FaultRates } from './fault-rates';
import type { Random } from './random';
import type { SimReading, SimRecord, SimSchema } from './readings';

export { malformedJson } from './corrupt';
export { FAULT_KINDS, parseFaultRates, type FaultKind, type FaultRates } from './fault-rates';

/** What the pipeline must do with the item: store it, quarantine it, or recognise it as a copy of one stored. */
export type Expectation = 'stored' | 'quarantined' | 'duplicate';

export interface FaultLabel {
  fault: FaultKind;
  /** The column the fault is in (absent for faults of the whole record). */
  field?: string;
  detail: string;
}

export interface SimItem {
  reading: SimReading;
  /** The fields after the fault. */
  record: SimRecord;
  /** Only for 'malformed': the raw CSV line to write instead of the record (messages use malformedJson). */
  text?: string;
  fault?: FaultLabel;
  expect: Expectation;
  /** reading.key */
  key: string;
}

/** The faults applied to single readings ('half-written' is per file). */
const PER_READING = FAULT_KINDS.filter((k) => k !== 'half-written');

const CORRUPT: Partial<
  Record<FaultKind, (schema: SimSchema, record: SimRecord, random: Random) => Corruption>
> = {
  'null-key': nullKey,
  'out-of-range': outOfRange,
  'wrong-type': wrongType,
  malformed,
};

interface Held {
  item: SimItem;
  due: number;
}

const MAX_DELAY = 5;

export class FaultInjector {
  /** Faults injected so far. */
  readonly counts: Record<FaultKind, number>;
  private readonly rates: FaultRates;
  private held: Held[] = [];
  private calls = 0;

  constructor(
    private readonly schema: SimSchema,
    rates: FaultRates,
    private readonly random: Random,
  ) {
    this.rates = parseFaultRates(rates);
    this.counts = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  }

  /**
   * The items to emit now for these fresh readings, in emission order: each reading
   * (a duplicate's copy right after it; late ones held back), then the late readings
   * that are due, held back 1–5 calls.
   */
  apply(readings: readonly SimReading[]): SimItem[] {
    this.calls++;
    const out: SimItem[] = [];
    for (const reading of readings) {
      const kind = this.choose();
      const plain: SimItem = { reading, record: reading.record, expect: 'stored', key: reading.key };
      if (kind) this.counts[kind]++;
      const corrupt = kind ? CORRUPT[kind] : undefined;
      if (kind && corrupt) {
        const c = corrupt(this.schema, reading.record, this.random);
        out.push({
          ...plain,
          record: c.record,
          ...(c.text !== undefined ? { text: c.text } : {}),
          fault: { fault: kind, ...(c.field !== undefined ? { field: c.field } : {}), detail: c.detail },
          expect: 'quarantined',
        });
      } else if (kind === 'duplicate') {
        out.push(plain, {
          ...plain,
          record: { ...reading.record },
          fault: { fault: 'duplicate', detail: `second copy of ${reading.key}` },
          expect: 'duplicate',
        });
      } else if (kind === 'late') {
        const delay = 1 + this.random.int(MAX_DELAY);
        this.held.push({
          item: {
            ...plain,
            fault: {
              fault: 'late',
              detail: `event time ${new Date(reading.ts).toISOString()} held back ${delay} tick(s)`,
            },
          },
          due: this.calls + delay,
        });
      } else out.push(plain);
    }
    const due = this.held.filter((h) => h.due <= this.calls);
    this.held = this.held.filter((h) => h.due > this.calls);
    return [...out, ...due.map((h) => h.item)];
  }

  /** Held-back late readings, now (on stop). */
  flush(): SimItem[] {
    const items = this.held.map((h) => h.item);
    this.held = [];
    return items;
  }

  /** At most one fault for a reading; rates summing over 1 are scaled to sum 1. */
  private choose(): FaultKind | undefined {
    const total = PER_READING.reduce((sum, k) => sum + (this.rates[k] ?? 0), 0);
    if (total <= 0) return undefined;
    let u = this.random.next() * Math.max(1, total);
    for (const kind of PER_READING) {
      u -= this.rates[kind] ?? 0;
      if (u < 0) return kind;
    }
    return undefined;
  }
}
