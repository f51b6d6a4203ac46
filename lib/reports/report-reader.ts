/**
 * Reads reports for one report node: the report named by the node (or by `msg.topic`),
 * with parameters that stay until changed, so a periodic refresh keeps what the operator
 * chose in a dropdown or on a slider. Each read is one read-only transaction with a
 * statement timeout: a report never writes and never holds a connection for long.
 */
import type { Pool } from 'pg';
import { inTransaction } from '../pg/client';
import type { SchemaNames } from '../pg/identifiers';
import {
  checkParams,
  isReportName,
  REPORT_NAMES,
  ReportError,
  reportStatement,
  shapeRows,
  type ReportName,
  type ReportParams,
  type Row,
} from './reports';

export interface ReportReaderOptions {
  /** The node's report; undefined: each message's `topic` names it (and it is remembered). */
  report?: ReportName;
  /** The node's own parameters (its form): the defaults messages add to and override. */
  params?: ReportParams;
  /** Longest a report may run, in ms. */
  timeoutMs?: number;
}

export interface ReportResult {
  report: ReportName;
  params: ReportParams;
  rows: Row[];
  durationMs: number;
}

export class ReportReader {
  private report: ReportName | undefined;
  private params: ReportParams;

  constructor(
    private readonly pool: Pool,
    private readonly schemas: SchemaNames,
    private readonly options: ReportReaderOptions = {},
  ) {
    this.report = options.report;
    this.params = { ...options.params };
  }

  /**
   * Takes a message's topic and params (a `null` param goes back to the node's own value),
   * then reads. Bad input throws a ReportError naming the topic or the parameter and rule,
   * and leaves what is remembered as it was.
   */
  async read(topic: unknown, params: unknown, now = () => performance.now()): Promise<ReportResult> {
    let report = this.report;
    if (!this.options.report && topic !== undefined && topic !== '') {
      if (!isReportName(topic)) {
        throw new ReportError(
          `msg.topic ${JSON.stringify(topic)} is not a report: use one of ${REPORT_NAMES.join(', ')}`,
        );
      }
      report = topic;
    }
    if (!report) throw new ReportError(`name the report in msg.topic: one of ${REPORT_NAMES.join(', ')}`);
    const merged = this.merge(params);
    const statement = reportStatement(report, merged, this.schemas);
    this.report = report;
    this.params = merged;
    const started = now();
    const timeout = Math.max(100, Math.round(this.options.timeoutMs ?? 10_000));
    return inTransaction(this.pool, async (client) => {
      await client.query(`SET TRANSACTION READ ONLY`);
      await client.query(`SET LOCAL statement_timeout = ${timeout}`);
      const { rows } = await client.query<Row>(statement);
      return {
        report: report!,
        params: merged,
        rows: shapeRows(report!, rows, merged),
        durationMs: now() - started,
      };
    });
  }

  private merge(input: unknown): ReportParams {
    if (input === undefined || input === null) return this.params;
    if (typeof input !== 'object' || Array.isArray(input)) {
      throw new ReportError('msg.params must be an object, e.g. {"metric": "temp", "hours": 24}');
    }
    const given = input as Record<string, unknown>;
    const reset = Object.keys(given).filter((k) => given[k] === null);
    const set = checkParams(Object.fromEntries(Object.entries(given).filter(([, v]) => v !== null)));
    const own = this.options.params ?? {};
    const merged: Record<string, unknown> = { ...this.params, ...set };
    for (const k of reset) {
      if (k in own) merged[k] = own[k as keyof ReportParams];
      else delete merged[k];
    }
    return checkParams(merged);
  }
}
