/**
 * The `medallion` command line: commands, flags and help text. Pure: argv in, a
 * command out, or a UsageError with a one-line reason (exit code 2).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface IngestCommand {
  kind: 'ingest';
  /** The file or directory as given. */
  input: string;
  /** A built-in profile name, or the path of a JSON rule set. */
  profile?: string;
  once: boolean;
  databaseUrl?: string;
  json: boolean;
  batchSize?: number;
  quarantineDir?: string;
}

export interface StatusCommand {
  kind: 'status';
  databaseUrl?: string;
  json: boolean;
  /** Recent runs shown. */
  limit: number;
}

export type Command = IngestCommand | StatusCommand | { kind: 'help'; text: string };

export const MAIN_HELP = `Usage: medallion <command> [options]

Land IoT CSV files in PostgreSQL as bronze, silver and quarantine, headless: the file branch
of the bundled Node-RED flow (flows/medallion.json) runs in a temporary user directory.

Commands:
  ingest <file|dir>   load a file (in place) or a landing folder, then print a summary
  status              recent runs, the file ledger and quarantine totals by rule

Options:
  -h, --help          show help (also: medallion <command> --help)

Database: --database-url, else DATABASE_URL, else the embedded PostgreSQL that npm start uses
(started if needed and stopped after).
Exit codes: 0 done, 1 a file quarantined whole or a write failed, 2 usage or configuration
error, 3 database unreachable.`;

export const INGEST_HELP = `Usage: medallion ingest <file|dir> [options]

A file is read where it is (not moved) and implies --once. A directory is handled like the
landing folder: each complete CSV file is claimed, loaded and moved to processed/ (whole-file
failures to quarantine/); with --once the command exits when the folder is drained, without it
it keeps watching until Ctrl-C. It returns only after the runs it started are complete.

Options:
  --profile <name|file.json>  rules: auto (default), iot-temp, iot-environment, or a JSON rule set
  --once                      with a directory: exit when it is drained
  --database-url <url>        PostgreSQL to write to (default DATABASE_URL, else embedded)
  --batch-size <n>            records per batch (default 5000)
  --quarantine-dir <dir>      where rejected records are written as CSV and JSON
                              (default quarantine/ beside the input)
  --json                      print the summary as one JSON object
  -h, --help                  show this help

Exit codes: 0 every file loaded (quarantined rows are not a failure), 1 a file quarantined
whole or a write failed, 2 usage or configuration error, 3 database unreachable.`;

export const STATUS_HELP = `Usage: medallion status [options]

Recent runs with their counts, the file ledger by state (with leases gone stale) and the
quarantined records by rule.

Options:
  --database-url <url>  PostgreSQL to read (default DATABASE_URL, else embedded)
  --limit <n>           recent runs to show (default 10)
  --json                print one JSON object
  -h, --help            show this help

Exit codes: 0 done, 2 usage error, 3 database unreachable.`;

function whole(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(
      `--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    // node's messages name the flag: "Unknown option '--x'", "Option '--limit <value>' argument missing"
    throw new UsageError((err as Error).message.split('\n')[0].replace(/\. To specify.*$/, ''));
  }
}

export function parseCommand(argv: string[]): Command {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    return { kind: 'help', text: MAIN_HELP };
  }
  if (command === 'ingest') {
    const { values, positionals } = parse(rest, {
      profile: { type: 'string' },
      once: { type: 'boolean' },
      'database-url': { type: 'string' },
      json: { type: 'boolean' },
      'batch-size': { type: 'string' },
      'quarantine-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) return { kind: 'help', text: INGEST_HELP };
    if (positionals.length !== 1) {
      throw new UsageError(
        positionals.length
          ? `ingest takes one file or directory, got ${positionals.length}: ${positionals.join(' ')}`
          : 'ingest needs a file or directory: medallion ingest <file|dir>',
      );
    }
    return {
      kind: 'ingest',
      input: positionals[0],
      profile: values.profile as string | undefined,
      once: Boolean(values.once),
      databaseUrl: values['database-url'] as string | undefined,
      json: Boolean(values.json),
      batchSize: whole('batch-size', values['batch-size'] as string | undefined, 1, 1_000_000),
      quarantineDir: values['quarantine-dir'] as string | undefined,
    };
  }
  if (command === 'status') {
    const { values, positionals } = parse(rest, {
      'database-url': { type: 'string' },
      json: { type: 'boolean' },
      limit: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) return { kind: 'help', text: STATUS_HELP };
    if (positionals.length) throw new UsageError(`status takes no arguments, got ${positionals.join(' ')}`);
    return {
      kind: 'status',
      databaseUrl: values['database-url'] as string | undefined,
      json: Boolean(values.json),
      limit: whole('limit', values.limit as string | undefined, 1, 1000) ?? 10,
    };
  }
  throw new UsageError(`unknown command ${JSON.stringify(command)}: use ingest or status (medallion --help)`);
}
