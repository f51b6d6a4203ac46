/**
 * Readings arriving one message at a time, gathered into batches of one kind (a group:
 * the profile their columns fit), each emitted when it holds `size` readings or
 * `timeoutMs` after its first one arrived, whichever comes first. The readings of one
 * message are never split between batches.
 */
export interface BatcherOptions {
  size: number;
  timeoutMs: number;
}

interface Pending<T> {
  items: T[];
  timer?: NodeJS.Timeout;
}

export class Batcher<T> {
  private readonly groups = new Map<string, Pending<T>>();

  constructor(
    private readonly options: BatcherOptions,
    private readonly emit: (group: string, items: T[]) => void,
  ) {}

  /** Readings held now, in every group. */
  get held(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.items.length;
    return n;
  }

  /** Adds `items` (one message's readings: they stay in one batch) and emits the group once it is full. */
  push(group: string, items: readonly T[]): void {
    let pending = this.groups.get(group);
    if (!pending) {
      pending = { items: [] };
      this.groups.set(group, pending);
    }
    for (const item of items) pending.items.push(item);
    if (pending.items.length >= this.options.size) this.emitGroup(group);
    else if (!pending.timer) {
      pending.timer = setTimeout(() => this.emitGroup(group), this.options.timeoutMs);
      pending.timer.unref?.();
    }
  }

  /** Emits every group now. */
  flushAll(): void {
    for (const group of [...this.groups.keys()]) this.emitGroup(group);
  }

  /** Drops what is held and stops the timers (the flow stops); returns how many readings were held. */
  drop(): number {
    const held = this.held;
    for (const pending of this.groups.values()) clearTimeout(pending.timer);
    this.groups.clear();
    return held;
  }

  private emitGroup(group: string): void {
    const pending = this.groups.get(group);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.groups.delete(group);
    if (pending.items.length) this.emit(group, pending.items);
  }
}
