import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { describeError } from '../../lib/pg/errors';
import { ReportReader } from '../../lib/reports/report-reader';
import {
  checkParams,
  csvFileName,
  isReportName,
  rowsAsCsv,
  type ReportParams,
} from '../../lib/reports/reports';
import { compactNumber, throttledStatus } from '../../lib/status';
import type { PgConfigNode } from '../pg-config/pg-config-node';

interface ReportDef extends NodeDef {
  pgConfig: string;
  report: string;
  limit: string | number;
  hours: string | number;
  csv: boolean;
}

type Msg = NodeMessage & { params?: unknown };

export = (RED: NodeAPI) => {
  function Report(this: Node, def: ReportDef) {
    RED.nodes.createNode(this, def);
    const config = RED.nodes.getNode(def.pgConfig) as PgConfigNode | null;
    const service = config?.service;
    const status = throttledStatus(this);
    let reader: ReportReader | undefined;
    let setupError = !config ? 'no PostgreSQL connection selected' : config.configError;
    if (service && !setupError) {
      try {
        if (def.report && !isReportName(def.report)) throw new Error(`unknown report "${def.report}"`);
        const own: Record<string, number> = {};
        if (String(def.limit ?? '').trim() !== '') own.limit = Number(def.limit);
        if (String(def.hours ?? '').trim() !== '') own.hours = Number(def.hours);
        const params: ReportParams = checkParams(own);
        reader = new ReportReader(service.pool, service.schemas, {
          report: isReportName(def.report) ? def.report : undefined,
          params,
        });
      } catch (err) {
        setupError = (err as Error).message;
      }
    }
    const release = reader ? service!.retain() : () => undefined;
    if (setupError) {
      status.set({ fill: 'red', shape: 'ring', text: setupError });
      this.error(`report: ${setupError}`);
    }

    this.on('input', (msg: Msg, send, done) => {
      if (!reader) return done(new Error(`report: ${setupError}`));
      service!
        .ready()
        .then(() => reader!.read(msg.topic, msg.params))
        .then(
          (r) => {
            const ms = Math.round(r.durationMs);
            status.set({
              fill: 'green',
              shape: 'dot',
              text: `${r.report}: ${compactNumber(r.rows.length)} rows · ${ms} ms`,
            });
            send({
              ...msg,
              topic: r.report,
              payload: r.rows,
              report: { name: r.report, params: r.params, rows: r.rows.length, durationMs: ms },
              ...(def.csv ? { csv: rowsAsCsv(r.rows), filename: csvFileName(r.report, new Date()) } : {}),
            });
            done();
          },
          (err: Error) => {
            status.set({ fill: 'red', shape: 'ring', text: describeError(err) });
            done(new Error(`report: ${err.message}`));
          },
        );
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      release();
      status.clear();
      done();
    });
  }

  RED.nodes.registerType('medallion-report', Report);
};
