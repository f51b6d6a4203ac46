/**
 * Rows per second over a sliding window, for node status ("12.3k rows/s").
 * Keeps one bucket per second, so memory stays constant however fast rows arrive.
 */
export class RateMeter {
  private readonly buckets = new Map<number, number>();
  total = 0;

  constructor(
    private readonly windowSeconds = 5,
    private readonly now: () => number = Date.now,
  ) {}

  add(count: number): void {
    this.total += count;
    const second = Math.floor(this.now() / 1000);
    this.buckets.set(second, (this.buckets.get(second) ?? 0) + count);
    this.prune(second);
  }

  /** Average per second over the window (the current, partial second included). */
  perSecond(): number {
    const nowMs = this.now();
    const second = Math.floor(nowMs / 1000);
    this.prune(second);
    let sum = 0;
    for (const n of this.buckets.values()) sum += n;
    const oldest = Math.min(second, ...this.buckets.keys());
    const spanSeconds = Math.max(1, Math.min(this.windowSeconds, nowMs / 1000 - oldest));
    return sum / spanSeconds;
  }

  private prune(second: number): void {
    for (const s of this.buckets.keys()) if (s <= second - this.windowSeconds) this.buckets.delete(s);
  }
}
