/**
 * A corpus of hostile landing-folder files, generated: one entry per kind of bad input
 * (encodings, line endings, quotes, ragged rows, binary files named .csv, formula
 * cells, impossible values, …), each with the outcome decided for it — loaded (so many
 * rows in silver, these lines in quarantine naming field and rule) or the whole file
 * quarantined (the rule and the error). The rows are seed 004's campus sensors
 * (`iot-environment`, found by validate's `auto`); every kind has its own day, so no
 * two kinds share a silver key and each file's rows can be counted on their own.
 */
import { gzipSync } from 'node:zlib';
import { IOT_ENVIRONMENT_HEADER } from '../../lib/generators/iot-environment-csv';

export const HEADER = IOT_ENVIRONMENT_HEADER;
const COLUMNS = HEADER.split(',');

/** A quarantined line: its number in the file, the field and the rule its first error names. */
export interface Rejected {
  line: number;
  field: string;
  rule: string;
}

export type Expectation =
  | {
      outcome: 'loaded';
      /** Rows inserted into silver. */
      silver: number;
      /** Valid rows whose key was already stored (by this file). */
      duplicate?: number;
      /** Blank and all-empty lines. */
      skipped?: number;
      quarantine: Rejected[];
      /** A value silver must hold: `location_id` of the row at `ts` (ISO). */
      stored?: { ts: string; location_id: string };
    }
  | { outcome: 'quarantined'; rule: string; error: RegExp };

export interface HostileKind {
  kind: string;
  /** The file name in the landing folder. */
  file: string;
  bytes: Buffer;
  expect: Expectation;
  /** The outcome as the README's table says it. */
  why: string;
  /** Set the file's mtime this far in the past (an empty file is otherwise given 5 s to grow). */
  oldMs?: number;
  /** The file name after its number, when not `<kind>.csv`. */
  name?: string;
}

type Row = Partial<Record<(typeof COLUMNS)[number], string>>;

/** The `i`-th valid campus reading of kind number `k` (its own day), with fields replaced. */
export function campusLine(k: number, i: number, over: Row = {}): string {
  const ts = new Date(Date.UTC(2024, 0, 1 + k, 0, i)).toISOString().slice(0, 19).replace('T', ' ');
  const base: Row = {
    timestamp: ts,
    location_id: '101',
    temperature_celsius: (20 + (i % 7)).toFixed(2),
    humidity_percent: (50 + (i % 11)).toFixed(2),
    air_quality_index: String(40 + i),
    noise_level_db: '45.50',
    lighting_lux: '300.00',
    crowd_density: String(10 + i),
    stress_level: '30',
    sleep_hours: '7.00',
    mood_score: '3.0',
    mental_health_status: '0',
  };
  return COLUMNS.map((c) => over[c] ?? base[c]).join(',');
}

/** The ISO time of `campusLine(k, i)`. */
export function campusTs(k: number, i: number): string {
  return new Date(Date.UTC(2024, 0, 1 + k, 0, i)).toISOString();
}

const lf = (lines: string[]) => Buffer.from(`${lines.join('\n')}\n`);
const rows = (k: number, n: number) => Array.from({ length: n }, (_, i) => campusLine(k, i));
const loaded = (silver: number, quarantine: Rejected[] = [], more: Partial<Expectation> = {}): Expectation =>
  ({ outcome: 'loaded', silver, quarantine, ...more }) as Expectation;
const whole = (rule: string, error: RegExp): Expectation => ({ outcome: 'quarantined', rule, error });

/** A PNG's first bytes (signature and IHDR), then zeros. */
const PNG = Buffer.concat([
  Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex'),
  Buffer.alloc(64),
]);

export const TEN_MB = 10 * 1024 * 1024;

type Maker = (k: number) => Omit<HostileKind, 'file' | 'kind'>;

const KINDS: Array<[string, Maker]> = [
  [
    'utf8-bom',
    (k) => ({
      bytes: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), lf([HEADER, ...rows(k, 3)])]),
      expect: loaded(3),
      why: 'loaded: the byte order mark is skipped',
    }),
  ],
  [
    'crlf-lf-cr-mix',
    (k) => ({
      bytes: Buffer.from(`${HEADER}\r\n${campusLine(k, 0)}\n${campusLine(k, 1)}\r${campusLine(k, 2)}\r\n`),
      expect: loaded(3),
      why: 'loaded: CRLF, LF and CR all end a line',
    }),
  ],
  [
    'quoted-newline',
    (k) => ({
      bytes: lf([
        HEADER,
        campusLine(k, 0, { mental_health_status: '"calm\nthen ""busy"""' }),
        campusLine(k, 1),
      ]),
      expect: loaded(2, [], { stored: { ts: campusTs(k, 1), location_id: '101' } }),
      why: 'loaded: a quoted field may hold line breaks and quotes; the next record is numbered by its first line',
    }),
  ],
  [
    'unclosed-quote-middle',
    (k) => ({
      bytes: lf([HEADER, campusLine(k, 0), campusLine(k, 1, { location_id: '"101' }), campusLine(k, 2)]),
      expect: loaded(2, [{ line: 3, field: '', rule: 'parse' }]),
      why: 'that line alone quarantined (rule parse: "a quote opened on line 3 is never closed"); parsing restarts on the next line',
    }),
  ],
  [
    'unclosed-quote-last-line',
    (k) => ({
      bytes: Buffer.from(
        `${HEADER}\n${campusLine(k, 0)}\n${campusLine(k, 1, { mental_health_status: '"0' })}`,
      ),
      expect: loaded(1, [{ line: 3, field: '', rule: 'parse' }]),
      why: 'only the last line is lost to silver: quarantined with rule parse, its bytes in bronze',
    }),
  ],
  [
    'ragged-rows',
    (k) => ({
      bytes: lf([
        HEADER,
        campusLine(k, 0),
        campusLine(k, 1).split(',').slice(0, 5).join(','),
        `${campusLine(k, 2)},surplus,values`,
        campusLine(k, 3).split(',').slice(0, 1).join(','),
      ]),
      expect: loaded(3, [{ line: 5, field: 'location_id', rule: 'required' }]),
      why: 'a short row is loaded when its key fields are there (the missing measurements are NULL, a lower quality score) and quarantined (required) when not; surplus values stay in bronze',
    }),
  ],
  [
    'repeated-header',
    (k) => ({
      bytes: lf([HEADER, campusLine(k, 0), HEADER, campusLine(k, 1)]),
      expect: loaded(2, [{ line: 3, field: 'ts', rule: 'format' }]),
      why: 'a header repeated inside the file (files concatenated) is a row that fails its rules: quarantined, rule format',
    }),
  ],
  [
    'invalid-utf8',
    (k) => ({
      bytes: Buffer.concat([
        lf([HEADER, campusLine(k, 0)]),
        Buffer.from(campusLine(k, 1, { mental_health_status: 'caf' }), 'latin1'),
        Buffer.from([0xe9, 0xff, 0x0a]),
        lf([campusLine(k, 2)]),
      ]),
      expect: loaded(2, [{ line: 3, field: '', rule: 'parse' }]),
      why: 'the line is quarantined (rule parse: "line 3 is not valid UTF-8"); bronze keeps its bytes exactly',
    }),
  ],
  [
    'nul-bytes',
    (k) => ({
      bytes: lf([
        HEADER,
        campusLine(k, 0),
        campusLine(k, 1, { mental_health_status: 'ok\u0000x' }),
        campusLine(k, 2),
      ]),
      expect: loaded(2, [{ line: 3, field: 'mental_health_status', rule: 'type' }]),
      why: 'quarantined (rule type: text cannot hold NUL in PostgreSQL); bronze keeps the bytes, the quarantine record shows U+FFFD',
    }),
  ],
  [
    'ten-mb-line',
    (k) => ({
      bytes: lf([
        HEADER,
        campusLine(k, 0),
        campusLine(k, 1, { mental_health_status: 'x'.repeat(TEN_MB) }),
        campusLine(k, 2),
      ]),
      expect: loaded(2, [{ line: 3, field: '', rule: 'parse' }]),
      why: 'a line over 1 MiB is quarantined (rule parse: "longer than 1048576 bytes"), kept whole in bronze; memory stays bounded',
    }),
  ],
  [
    'zero-bytes',
    () => ({
      bytes: Buffer.alloc(0),
      expect: whole('empty', /the file is empty \(0 bytes\)/),
      why: 'quarantined whole (rule empty), after 5 s unchanged',
      oldMs: 60_000,
    }),
  ],
  [
    'whitespace-only',
    () => ({
      bytes: Buffer.from(' \n\t\r\n   \n'),
      expect: whole('empty', /only blank lines/),
      why: 'quarantined whole (rule empty)',
    }),
  ],
  [
    'bom-only',
    () => ({
      bytes: Buffer.from([0xef, 0xbb, 0xbf]),
      expect: whole('empty', /only blank lines/),
      why: 'quarantined whole (rule empty)',
    }),
  ],
  [
    'header-over-64-kib',
    (k) => ({
      bytes: lf([`${HEADER},${'c'.repeat(70_000)}`, ...rows(k, 2)]),
      expect: whole('header', /its header does not end within the first 65536 bytes/),
      why: 'quarantined whole (rule header: "its header does not end within the first 65536 bytes")',
    }),
  ],
  [
    'header-only',
    () => ({
      bytes: lf([HEADER]),
      expect: whole('empty', /a header but no data rows/),
      why: 'quarantined whole (rule empty: "the file has a header but no data rows")',
    }),
  ],
  [
    'blank-lines',
    (k) => ({
      bytes: lf([HEADER, '', campusLine(k, 0), ',,,,,,,,,,,', '   ', campusLine(k, 1), '']),
      expect: loaded(2, [], { skipped: 4 }),
      why: 'loaded; blank and all-empty lines are not stored, counted as skipped',
    }),
  ],
  [
    'missing-required-column',
    (k) => ({
      bytes: lf([
        HEADER.replace('location_id,', ''),
        ...rows(k, 2).map((l) =>
          l
            .split(',')
            .filter((_, i) => i !== 1)
            .join(','),
        ),
      ]),
      expect: loaded(0, [
        { line: 2, field: 'location_id', rule: 'profile' },
        { line: 3, field: 'location_id', rule: 'profile' },
      ]),
      why: 'every row quarantined (rule profile on location_id: no rule set has these columns, the closest needs location_id); with a profile chosen: rule required on location_id',
    }),
  ],
  [
    'reordered-columns',
    (k) => {
      const order = [...COLUMNS].reverse();
      const flip = (line: string) => line.split(',').reverse().join(',');
      return {
        bytes: lf([order.join(','), ...rows(k, 3).map(flip)]),
        expect: loaded(3),
        why: 'loaded: columns are taken by name',
      };
    },
  ],
  [
    'extra-columns',
    (k) => ({
      bytes: lf([
        `${HEADER},firmware,"x""; DROP TABLE bronze.records; --"`,
        ...rows(k, 2).map((l) => `${l},1.2.3,y`),
      ]),
      expect: loaded(2),
      why: 'loaded: unknown columns (whatever their names) stay in bronze and are not written to silver',
    }),
  ],
  [
    'tab-delimited',
    (k) => ({
      bytes: lf([HEADER, ...rows(k, 2)].map((l) => l.replace(/,/g, '\t'))),
      expect: loaded(2),
      why: 'loaded: the delimiter (`,` `;` tab `|`) is guessed from the header',
    }),
  ],
  [
    'wrong-delimiter-rows',
    (k) => ({
      bytes: lf([HEADER, ...rows(k, 2).map((l) => l.replace(/,/g, ';'))]),
      expect: loaded(0, [
        { line: 2, field: 'location_id', rule: 'profile' },
        { line: 3, field: 'location_id', rule: 'profile' },
      ]),
      why: 'rows in another delimiter than the header are one field each: quarantined (rule profile under auto; with a profile chosen, format on ts and required on location_id)',
    }),
  ],
  [
    'gzip-named-csv',
    (k) => ({
      bytes: gzipSync(lf([HEADER, ...rows(k, 2)])),
      expect: whole('binary', /a gzip archive, not CSV text/),
      why: 'quarantined whole (rule binary: "the file is a gzip archive, not CSV text")',
    }),
  ],
  [
    'png-named-csv',
    () => ({
      bytes: PNG,
      expect: whole('binary', /a PNG image, not CSV text/),
      why: 'quarantined whole (rule binary)',
    }),
  ],
  [
    'utf16-text',
    (k) => ({
      bytes: Buffer.concat([
        Buffer.from([0xff, 0xfe]),
        Buffer.from(lf([HEADER, ...rows(k, 2)]).toString(), 'utf16le'),
      ]),
      expect: whole('undecodable', /UTF-16 LE text: save it as UTF-8/),
      why: 'quarantined whole (rule undecodable: "save it as UTF-8")',
    }),
  ],
  [
    'header-not-utf8',
    (k) => ({
      bytes: Buffer.concat([Buffer.from(`${HEADER},temp\xe9rature\n`, 'latin1'), lf(rows(k, 2))]),
      expect: whole('undecodable', /line 1 \(the header\) is not valid UTF-8/),
      why: 'quarantined whole (rule undecodable)',
    }),
  ],
  [
    'no-header',
    (k) => ({
      bytes: lf(rows(k, 3)),
      expect: whole('no-header', /line 1 looks like data, not a header/),
      why: 'quarantined whole (rule no-header: add a header or list the Columns)',
    }),
  ],
  [
    'header-repeats-column',
    (k) => ({
      bytes: lf([`${HEADER},location_id`, ...rows(k, 2).map((l) => `${l},102`)]),
      expect: whole('header', /repeats the column "location_id"/),
      why: 'quarantined whole (rule header: which column, which positions)',
    }),
  ],
  [
    'formula-cells',
    (k) => ({
      bytes: lf([
        HEADER,
        campusLine(k, 0, { temperature_celsius: "=cmd|' /C calc'!A0" }),
        campusLine(k, 1, { humidity_percent: '@SUM(1+1)', mental_health_status: '=HYPERLINK("http://x")' }),
        campusLine(k, 2, { noise_level_db: '+1+cmd|x', lighting_lux: '-2+3' }),
        campusLine(k, 3, { location_id: '@room', mental_health_status: '=1+1' }),
      ]),
      expect: loaded(1, [
        { line: 2, field: 'temperature_celsius', rule: 'type' },
        { line: 3, field: 'humidity_percent', rule: 'type' },
        { line: 4, field: 'noise_level_db', rule: 'type' },
      ]),
      why: 'a formula in a number field is quarantined (rule type); text fields keep the text; every CSV the pack writes (quarantine files, report downloads) prefixes such cells with an apostrophe',
    }),
  ],
  [
    'huge-numbers',
    (k) => ({
      bytes: lf([
        HEADER,
        campusLine(k, 0, { lighting_lux: '1e400' }),
        campusLine(k, 1, { crowd_density: '99999999999999999999999999' }),
        campusLine(k, 2, { air_quality_index: '0.000000000000000000000000001' }),
      ]),
      expect: loaded(1, [
        { line: 2, field: 'lighting_lux', rule: 'type' },
        { line: 3, field: 'crowd_density', rule: 'max' },
      ]),
      why: 'quarantined: a number too large for a double (1e400) is not a number (rule type), a large one is above the range (rule max); a tiny one is a number',
    }),
  ],
  [
    'nan-infinity',
    (k) => ({
      bytes: lf([
        HEADER,
        campusLine(k, 0, { temperature_celsius: 'NaN' }),
        campusLine(k, 1, { humidity_percent: 'Infinity' }),
        campusLine(k, 2, { noise_level_db: '-Infinity' }),
        campusLine(k, 3, { sleep_hours: '0x10' }),
        campusLine(k, 4),
      ]),
      expect: loaded(1, [
        { line: 2, field: 'temperature_celsius', rule: 'type' },
        { line: 3, field: 'humidity_percent', rule: 'type' },
        { line: 4, field: 'noise_level_db', rule: 'type' },
        { line: 5, field: 'sleep_hours', rule: 'type' },
      ]),
      why: 'quarantined (rule type): NaN, Infinity and hex are not decimal numbers',
    }),
  ],
  [
    'impossible-dates',
    (k) => ({
      bytes: lf([
        HEADER,
        campusLine(k, 0, { timestamp: '2023-02-29 10:00:00' }),
        campusLine(k, 1, { timestamp: '2024-04-31 10:00:00' }),
        campusLine(k, 2, { timestamp: '2024-01-05 24:00:00' }),
        campusLine(k, 3, { timestamp: '2024-13-01 00:00:00' }),
        campusLine(k, 4, { timestamp: '2024-02-29 10:61:00' }),
        campusLine(k, 5, { timestamp: '2024-02-29 10:00:00' }),
        campusLine(k, 6, { timestamp: '0000-01-01 00:00:00' }),
        campusLine(k, 7, { timestamp: '0000-06-01T00:00:00Z' }),
      ]),
      expect: loaded(
        1,
        [2, 3, 4, 5, 6, 8, 9].map((line) => ({ line, field: 'ts', rule: 'format' })),
      ),
      why: 'quarantined (rule format): the calendar and the clock are checked; 29 Feb of a leap year is loaded',
    }),
  ],
  [
    'far-past-and-future',
    (k) => ({
      bytes: lf([
        HEADER,
        campusLine(k, 0, { timestamp: '2999-12-31 23:59:59', location_id: `k${k}` }),
        campusLine(k, 1, { timestamp: '9999-12-31 23:59:59', location_id: `k${k}` }),
        campusLine(k, 2, { timestamp: '0001-01-01 00:00:00', location_id: `k${k}` }),
      ]),
      expect: loaded(3, [], { stored: { ts: '0001-01-01T00:00:00.000Z', location_id: `k${k}` } }),
      why: 'loaded as written: a real calendar time is a valid event time (year 0001 stays 0001); bounding event time is a rule set’s choice',
    }),
  ],
  [
    'padded-values',
    (k) => ({
      bytes: lf([
        HEADER,
        campusLine(k, 0, { location_id: ' 101 ', temperature_celsius: ' 21.5 ' }),
        campusLine(k, 1, { location_id: '"  101"', timestamp: ` ${campusLine(k, 1).split(',')[0]}  ` }),
      ]),
      expect: loaded(2, [], { stored: { ts: campusTs(k, 0), location_id: '101' } }),
      why: 'loaded: values are trimmed, so ` 101 ` is location 101 (the same series as `101`)',
    }),
  ],
  [
    'repeated-rows',
    (k) => ({
      bytes: lf([HEADER, campusLine(k, 0), campusLine(k, 1), campusLine(k, 0)]),
      expect: loaded(2, [], { duplicate: 1 }),
      why: 'the repeated reading (same location and time) is stored once and counted as a duplicate',
    }),
  ],
  [
    'sql-in-values',
    (k) => ({
      bytes: lf([
        HEADER,
        campusLine(k, 0, { location_id: `"x'); DROP TABLE silver.quarantine; --"` }),
        campusLine(k, 1, { mental_health_status: "0' OR '1'='1" }),
      ]),
      expect: loaded(2, [], {
        stored: { ts: campusTs(k, 0), location_id: "x'); DROP TABLE silver.quarantine; --" },
      }),
      why: 'loaded verbatim: values travel as parameters and COPY data, never as SQL text',
    }),
  ],
  [
    'stray-quotes',
    (k) => ({
      bytes: lf([
        HEADER,
        campusLine(k, 0, { mental_health_status: 'say "hi"' }),
        campusLine(k, 1, { location_id: '10"1' }),
      ]),
      expect: loaded(2, [], { stored: { ts: campusTs(k, 1), location_id: '10"1' } }),
      why: 'loaded: a quote inside an unquoted field is an ordinary character',
    }),
  ],
  [
    'multibyte-text',
    (k) => ({
      bytes: lf([HEADER, campusLine(k, 0, { location_id: 'Aula 温度 🌡' }), campusLine(k, 1)]),
      expect: loaded(2, [], { stored: { ts: campusTs(k, 0), location_id: 'Aula 温度 🌡' } }),
      why: 'loaded: UTF-8 text of any script',
    }),
  ],
  [
    'long-file-name',
    (k) => ({
      name: `${'n'.repeat(230)}.csv`,
      bytes: lf([HEADER, campusLine(k, 0), campusLine(k, 1, { stress_level: '101' })]),
      expect: loaded(1, [{ line: 3, field: 'stress_level', rule: 'max' }]),
      why: 'loaded: a 242-byte file name is kept; its quarantine files take the first 200 characters',
    }),
  ],
  [
    'all-rows-invalid',
    (k) => ({
      bytes: lf([
        HEADER,
        campusLine(k, 0, { humidity_percent: '140' }),
        campusLine(k, 1, { mood_score: '-1' }),
      ]),
      expect: loaded(0, [
        { line: 2, field: 'humidity_percent', rule: 'max' },
        { line: 3, field: 'mood_score', rule: 'min' },
      ]),
      why: 'loaded with every row in quarantine (rules max, min): the file itself is fine',
    }),
  ],
];

/** The corpus: one file per kind, numbered so that each has its own day of readings. */
export function hostileCorpus(): HostileKind[] {
  return KINDS.map(([kind, make], k) => {
    const made = make(k);
    return { kind, file: `${String(k + 1).padStart(2, '0')}-${made.name ?? `${kind}.csv`}`, ...made };
  });
}
