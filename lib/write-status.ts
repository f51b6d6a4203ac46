/**
 * The status line of a node that writes to PostgreSQL: connection state, rate and
 * totals while flowing, the retry under way, the last failure. Throttled (see status.ts).
 */
import type { PgState } from './pg/service';
import { RateMeter } from './rate-meter';
import { compactNumber, type ThrottledStatus } from './status';

export class WriteStatus {
  private readonly meter = new RateMeter();
  private refused = 0;

  constructor(
    private readonly status: ThrottledStatus,
    /** What to show before anything was written, e.g. the table name. */
    private readonly idleText: string,
  ) {}

  private flowing(): string {
    if (!this.meter.total) return this.idleText;
    const refused = this.refused ? ` · ${compactNumber(this.refused)} refused` : '';
    return `${compactNumber(this.meter.perSecond())} rows/s · ${compactNumber(this.meter.total)} rows${refused}`;
  }

  connection(s: PgState): void {
    if (s.state === 'ready') {
      this.status.set({ fill: 'green', shape: this.meter.total ? 'dot' : 'ring', text: this.flowing() });
    } else if (s.state === 'connecting')
      this.status.set({ fill: 'yellow', shape: 'ring', text: 'connecting…' });
    else if (s.state === 'error') this.status.set({ fill: 'red', shape: 'ring', text: s.message });
  }

  stored(rows: number, refused: number): void {
    this.meter.add(rows);
    this.refused += refused;
    this.status.set({ fill: 'green', shape: 'dot', text: this.flowing() });
  }

  retrying(retry: number, delayMs: number, reason: string): void {
    this.status.set({
      fill: 'yellow',
      shape: 'ring',
      text: `retry ${retry} in ${(delayMs / 1000).toFixed(1)} s: ${reason}`,
    });
  }

  failed(reason: string): void {
    this.status.set({ fill: 'red', shape: 'ring', text: reason });
  }

  clear(): void {
    this.status.clear();
  }
}
