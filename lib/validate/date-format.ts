/**
 * Timestamps written the way sensors and spreadsheets write them: a format such as
 * `dd-mm-yyyy HH:MM` or `dd/mm/yyyy` + `HH.MM.SS`, compiled once to a matcher that
 * checks the calendar (no 31-02), and read in a time zone when the text has none
 * (naive timestamps; default UTC). ISO 8601 with an offset is always accepted.
 */

export interface DateFormat {
  /** The format as written, for messages. */
  text: string;
  /** UTC milliseconds, or undefined when `value` does not match or is not a real date. */
  parse(value: string, timeZone: string): number | undefined;
}

const TOKENS: Record<string, { re: string; part: keyof Parts }> = {
  yyyy: { re: '(\\d{4})', part: 'year' },
  yy: { re: '(\\d{2})', part: 'year2' },
  mm: { re: '(\\d{1,2})', part: 'month' },
  dd: { re: '(\\d{1,2})', part: 'day' },
  HH: { re: '(\\d{1,2})', part: 'hour' },
  MM: { re: '(\\d{2})', part: 'minute' },
  SS: { re: '(\\d{2}(?:[.,]\\d{1,9})?)', part: 'second' },
};

interface Parts {
  year: number;
  year2: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export class DateFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DateFormatError';
  }
}

const ISO = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** `Date.UTC` for any year: it reads years 0–99 as 1900–1999. */
function utc(year: number, month: number, day: number, h = 0, m = 0, s = 0, ms = 0): number {
  const d = new Date(Date.UTC(2000, month - 1, day, h, m, s, ms));
  d.setUTCFullYear(year, month - 1, day);
  return d.getTime();
}

function daysIn(year: number, month: number): number {
  return new Date(utc(year, month + 1, 0)).getUTCDate();
}

/** Milliseconds to add to a wall-clock time in `timeZone` to get UTC, at about that instant. */
function zoneOffset(utcGuess: number, timeZone: string): number {
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') return 0;
  const f = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const p = Object.fromEntries(f.formatToParts(new Date(utcGuess)).map((x) => [x.type, x.value]));
  const wall = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  return utcGuess - wall;
}

/** The UTC instant of a wall-clock time in `timeZone` (two passes settle DST edges). */
export function wallClockToUtc(wall: number, timeZone: string): number {
  let utc = wall + zoneOffset(wall, timeZone);
  utc = wall + zoneOffset(utc, timeZone);
  return utc;
}

export function assertTimeZone(timeZone: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    throw new DateFormatError(
      `unknown time zone "${timeZone}" (use an IANA name such as Europe/Rome, or UTC)`,
    );
  }
}

export function compileDateFormat(text: string): DateFormat {
  const order: Array<keyof Parts> = [];
  let re = '';
  for (let i = 0; i < text.length;) {
    const token = Object.keys(TOKENS).find((t) => text.startsWith(t, i));
    if (token) {
      re += TOKENS[token].re;
      order.push(TOKENS[token].part);
      i += token.length;
    } else {
      const c = text[i];
      if (/[A-Za-z]/.test(c)) {
        throw new DateFormatError(
          `date format "${text}": unknown letter "${c}" (use yyyy yy mm dd HH MM SS)`,
        );
      }
      re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      i++;
    }
  }
  if (!order.includes('year') && !order.includes('year2')) {
    throw new DateFormatError(`date format "${text}" has no year (yyyy or yy)`);
  }
  if (!order.includes('month') || !order.includes('day')) {
    throw new DateFormatError(`date format "${text}" needs a month (mm) and a day (dd)`);
  }
  const matcher = new RegExp(`^${re}$`);
  return {
    text,
    parse(value, timeZone) {
      const m = matcher.exec(value.trim());
      if (!m) return undefined;
      const p: Parts = { year: 0, year2: -1, month: 1, day: 1, hour: 0, minute: 0, second: 0 };
      order.forEach((part, i) => (p[part] = Number(m[i + 1].replace(',', '.'))));
      const year = p.year2 >= 0 ? 2000 + p.year2 : p.year;
      // PostgreSQL has no year 0 (1 BC comes before 1 AD)
      if (year < 1 || p.month < 1 || p.month > 12 || p.day < 1 || p.day > daysIn(year, p.month)) {
        return undefined;
      }
      if (p.hour > 23 || p.minute > 59 || p.second >= 60) return undefined;
      const whole = Math.floor(p.second);
      const wall = utc(year, p.month, p.day, p.hour, p.minute, whole, Math.round((p.second - whole) * 1000));
      return wallClockToUtc(wall, timeZone);
    },
  };
}

/** Tries ISO 8601 with an offset, then each format in order. */
export function parseTimestamp(value: string, formats: DateFormat[], timeZone: string): number | undefined {
  const text = value.trim();
  if (ISO.test(text)) {
    const t = Date.parse(text.replace(' ', 'T'));
    // PostgreSQL has no year 0 (nor does an offset make one)
    if (!Number.isNaN(t) && new Date(t).getUTCFullYear() >= 1) return t;
  }
  for (const f of formats) {
    const t = f.parse(text, timeZone);
    if (t !== undefined) return t;
  }
  return undefined;
}
