/**
 * What `medallion ingest` hears from the running flow — batches reaching bronze, file
 * outcomes, log entries — kept for the summary and shown as progress on stderr: a
 * bar redrawn in place on a terminal, else a line per tenth of each file, and a line
 * per finished file; nothing with `--json`.
 */
import type { FileOutcome, FileSource } from '../files/watch-types';
import { outcomeLine, progressBar } from './summary';

export type ProgressMode = 'bar' | 'lines' | 'quiet';

/** A Node-RED log entry, as its logging handlers receive it (20 is error, 30 warn). */
export interface LogEntry {
  level: number;
  msg: unknown;
  type?: string;
  name?: string;
}

const ERROR = 20;
const CLEAR_LINE = '\r\x1b[2K';

export class IngestReporter {
  readonly outcomes: FileOutcome[] = [];
  /** Writes that failed for good (errors of the nodes other than watch-folder). */
  readonly errors: string[] = [];
  /** watch-folder's errors: a file's outcome tells them, unless there was none. */
  readonly fileErrors: string[] = [];
  /** Content whose batches were seen and whose outcome was not yet. */
  readonly pending = new Set<string>();
  private readonly files = new Map<string, { rows: number; shown: number; drawn: number }>();

  constructor(
    private readonly mode: ProgressMode,
    private readonly write: (text: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  batch(source: FileSource | undefined, rows: number): void {
    if (!source?.sha256) return;
    this.pending.add(source.sha256);
    const f = this.files.get(source.sha256) ?? { rows: 0, shown: -1, drawn: -Infinity };
    this.files.set(source.sha256, f);
    f.rows += rows;
    if (this.mode === 'quiet' || !source.size) return;
    if (this.mode === 'bar') {
      if (this.now() - f.drawn < 100 && !source.last) return;
      f.drawn = this.now();
      this.write(`${CLEAR_LINE}${progressBar(source.name, source.bytes ?? 0, source.size, f.rows)}`);
      return;
    }
    const tenth = source.last ? 10 : Math.min(9, Math.floor((10 * (source.bytes ?? 0)) / source.size));
    if (tenth === f.shown) return;
    f.shown = tenth;
    this.write(`${source.name}: ${tenth * 10} %, ${f.rows.toLocaleString('en-US')} rows sent\n`);
  }

  outcome(o: FileOutcome): void {
    this.outcomes.push(o);
    if (o.sha256) this.pending.delete(o.sha256);
    if (this.mode === 'quiet') return;
    this.write(`${this.mode === 'bar' ? CLEAR_LINE : ''}${outcomeLine(o)}\n`);
  }

  log(entry: LogEntry): void {
    // the runtime's own start-up warnings (projects off, credentials) are not the user's business here
    if (entry.level > ERROR && !entry.type) return;
    const text = `${entry.type ? `[${entry.type}${entry.name ? `:${entry.name}` : ''}] ` : ''}${String(entry.msg)}`;
    if (entry.level <= ERROR && entry.type === 'medallion-watch-folder') {
      this.fileErrors.push(text);
      return;
    }
    if (entry.level <= ERROR) this.errors.push(text);
    this.write(
      `${this.mode === 'bar' ? CLEAR_LINE : ''}${entry.level <= ERROR ? 'error' : 'warn'}: ${text}\n`,
    );
  }
}
