import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { asRecords, TableWriter, type ConflictAction } from '../../lib/pg/bulk-write';
import { describeError } from '../../lib/pg/errors';
import { displayName, parseColumnList, resolveTable } from '../../lib/pg/identifiers';
import type { PgState } from '../../lib/pg/service';
import { RateMeter } from '../../lib/rate-meter';
import { compactNumber, throttledStatus } from '../../lib/status';
import type { PgConfigNode } from '../pg-config/pg-config-node';

interface PgWriteDef extends NodeDef {
  pgConfig: string;
  table: string;
  onConflict: ConflictAction;
  keyColumns: string;
  columns: string;
}

type PgWriteMessage = NodeMessage & { pg?: unknown };

export = (RED: NodeAPI) => {
  function PgWrite(this: Node, def: PgWriteDef) {
    RED.nodes.createNode(this, def);
    const status = throttledStatus(this);
    const config = RED.nodes.getNode(def.pgConfig) as PgConfigNode | null;
    const service = config?.service;
    let writer: TableWriter | undefined;
    let setupError = !config ? 'no PostgreSQL connection selected' : config.configError;
    if (service && !setupError) {
      try {
        writer = new TableWriter(service.pool, {
          table: resolveTable(def.table, service.schemas),
          onConflict: def.onConflict === 'update' ? 'update' : 'nothing',
          keyColumns: parseColumnList(def.keyColumns, 'key column'),
          columns: parseColumnList(def.columns),
        });
      } catch (err) {
        setupError = (err as Error).message;
      }
    }
    const table = writer ? displayName(writer.options.table) : def.table;
    const meter = new RateMeter();
    const warnedFields = new Set<string>();
    let queue: Promise<void> = Promise.resolve();

    const showState = (s: PgState) => {
      if (s.state === 'ready')
        status.set({ fill: 'green', shape: meter.total ? 'dot' : 'ring', text: flowText() });
      else if (s.state === 'connecting') status.set({ fill: 'yellow', shape: 'ring', text: 'connecting…' });
      else if (s.state === 'error') status.set({ fill: 'red', shape: 'ring', text: s.message });
    };
    const flowText = () =>
      meter.total ? `${compactNumber(meter.perSecond())} rows/s · ${compactNumber(meter.total)} rows` : table;

    const release = service && !setupError ? service.retain() : () => undefined;
    if (setupError) {
      status.set({ fill: 'red', shape: 'ring', text: setupError });
      this.error(`pg-write: ${setupError}`);
    } else if (service) {
      service.on('state', showState);
      showState(service.state);
      service.start();
    }

    const handle = async (msg: PgWriteMessage, send: (m: NodeMessage) => void, done: (e?: Error) => void) => {
      if (setupError || !writer || !service) return done(new Error(`pg-write: ${setupError}`));
      try {
        const records = asRecords(msg.payload);
        await service.ready();
        const result = await writer.write(records);
        service.noteSuccess();
        const ignored = result.ignoredFields.join(', ');
        if (ignored && !warnedFields.has(ignored)) {
          warnedFields.add(ignored);
          this.warn(`fields with no column in ${table} are not written: ${ignored}`);
        }
        meter.add(result.rows);
        status.set({ fill: 'green', shape: 'dot', text: flowText() });
        const { rows, inserted, updated, conflicted, durationMs } = result;
        msg.pg = { table, rows, inserted, updated, conflicted, durationMs };
        send(msg);
        done();
      } catch (err) {
        service.noteFailure(err);
        const message = `pg-write ${table}: ${describeError(err)}`;
        status.set({ fill: 'red', shape: 'ring', text: describeError(err) });
        done(Object.assign(new Error(message), { cause: err }));
      }
    };

    this.on('input', (msg, send, done) => {
      queue = queue.then(() => handle(msg, send, done));
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      service?.off('state', showState);
      queue.then(() => {
        release();
        status.clear();
        done();
      });
    });
  }

  RED.nodes.registerType('medallion-pg-write', PgWrite);
};
