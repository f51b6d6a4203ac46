import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { numberOr } from '../../lib/form-values';
import { answerMessages } from '../../lib/pg/ack';
import { LINEAGE_COLUMNS, lineageOf } from '../../lib/pg/lineage';
import { TableWriter, type WriteResult } from '../../lib/pg/bulk-write';
import { describeError, describeFailure, isTransientError } from '../../lib/pg/errors';
import { displayName, parseColumnList, resolveTable } from '../../lib/pg/identifiers';
import { progressKeyFrom, type MessageSource, type ProgressKey } from '../../lib/pg/progress';
import { asRecords, type ColumnDefaults, type DbRecord } from '../../lib/pg/write-plan';
import { throttledStatus } from '../../lib/status';
import { WriteQueue } from '../../lib/write-queue';
import { WriteStatus } from '../../lib/write-status';
import type { PgConfigNode } from '../pg-config/pg-config-node';

interface PgWriteDef extends NodeDef {
  pgConfig: string;
  table: string;
  onConflict: 'nothing' | 'update';
  keyColumns: string;
  columns: string;
  versionColumn?: string;
  layer: string;
  batchSize: string | number;
  batchTimeout: string | number;
  maxAttempts: string | number;
  fastPath: boolean;
}

type Msg = NodeMessage & { source?: MessageSource; run?: { id?: unknown } };
interface Origin {
  msg: Msg;
  send: (m: Array<NodeMessage | null>) => void;
  done: (err?: Error) => void;
  progress?: ProgressKey;
  lineage: ColumnDefaults;
}

export = (RED: NodeAPI) => {
  function PgWrite(this: Node, def: PgWriteDef) {
    RED.nodes.createNode(this, def);
    const config = RED.nodes.getNode(def.pgConfig) as PgConfigNode | null;
    const service = config?.service;
    let writer: TableWriter | undefined;
    let setupError = !config ? 'no PostgreSQL connection selected' : config.configError;
    if (service && !setupError) {
      try {
        const [versionColumn, ...more] = parseColumnList(def.versionColumn, 'version column');
        if (more.length) throw new Error(`Newer by names one column, not ${def.versionColumn}`);
        writer = new TableWriter(service.pool, {
          table: resolveTable(def.table, service.schemas),
          onConflict: def.onConflict === 'update' ? 'update' : 'nothing',
          keyColumns: parseColumnList(def.keyColumns, 'key column'),
          columns: parseColumnList(def.columns),
          versionColumn,
          progressTable: resolveTable('medallion.batches', service.schemas),
          fastPath: def.fastPath !== false,
        });
      } catch (err) {
        setupError = (err as Error).message;
      }
    }
    const table = writer ? displayName(writer.options.table) : def.table;
    const layer = def.layer?.trim() || def.table;
    const status = new WriteStatus(throttledStatus(this), table);
    const warnedFields = new Set<string>();
    const explicitColumns = Boolean(def.columns?.trim());

    const stored = (origins: Origin[], micro: boolean, records: DbRecord[], result: WriteResult) => {
      service?.noteSuccess();
      // lineage added to single records is optional: not worth a warning where the table has no column for it
      const ignored = result.ignoredFields.filter((f) => !(micro && LINEAGE_COLUMNS.includes(f))).join(', ');
      if (ignored && !explicitColumns && !warnedFields.has(ignored)) {
        warnedFields.add(ignored);
        this.warn(`fields with no column in ${table} are not written: ${ignored}`);
      }
      status.stored(result.rows, result.rejected.length);
      origins[0].send(answerMessages(origins[0].msg, micro, records, result));
      for (const o of origins) o.done();
    };

    const queue = new WriteQueue<DbRecord, Origin, WriteResult>(
      {
        batchSize: Math.max(1, numberOr(def.batchSize, 1000)),
        batchTimeoutMs: Math.max(0, numberOr(def.batchTimeout, 1000)),
        retry: { initialMs: 500, maxMs: 30_000, maxAttempts: numberOr(def.maxAttempts, 0) || Infinity },
        closeTimeoutMs: 10_000,
      },
      {
        write: async (job) => {
          await service!.ready();
          if (job.micro) return writer!.write(job.records);
          const { progress, lineage } = job.origins[0];
          const result = await writer!.write(job.records, progress, lineage);
          if (progress) await service!.committed(progress);
          return result;
        },
        transient: isTransientError,
        retrying: (_job, info) => {
          service?.noteFailure(info.error);
          status.retrying(info.retry, info.delayMs, describeError(info.error));
        },
        done: (job, result) => stored(job.origins, job.micro, job.records, result),
        failed: (job, err) => {
          service?.noteFailure(err);
          const reason = describeFailure(err);
          status.failed(reason);
          const message = `pg-write ${table}: ${reason}`;
          for (const o of job.origins) o.done(Object.assign(new Error(message), { cause: err }));
        },
      },
    );

    const release = service && !setupError ? service.retain() : () => undefined;
    const onState = status.connection.bind(status);
    if (setupError) {
      status.failed(setupError);
      this.error(`pg-write: ${setupError}`);
    } else if (service) {
      service.on('state', onState);
      onState(service.state);
      service.start();
    }

    this.on('input', (msg: Msg, send, done) => {
      if (setupError) return done(new Error(`pg-write: ${setupError}`));
      try {
        const progress = progressKeyFrom(msg.source, msg.run, layer);
        const origin: Origin = {
          msg,
          send,
          done,
          progress,
          lineage: lineageOf(msg.source, msg.run, progress),
        };
        if (Array.isArray(msg.payload)) queue.pushBatch(asRecords(msg.payload), origin);
        else queue.pushRecord({ ...origin.lineage, ...asRecords(msg.payload)[0] }, origin);
      } catch (err) {
        status.failed((err as Error).message);
        done(new Error(`pg-write ${table}: ${(err as Error).message}`));
      }
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      service?.off('state', onState);
      queue.close().then(() => {
        release();
        status.clear();
        done();
      });
    });
  }

  RED.nodes.registerType('medallion-pg-write', PgWrite);
};
