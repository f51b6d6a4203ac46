import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { resolveFolder } from '../../lib/files/folders';
import { numberOr, textOrEnv } from '../../lib/form-values';
import { compactNumber, throttledStatus } from '../../lib/status';
import { keepRejectedBatch, type QuarantineRow } from '../../lib/validate/quarantine-files';
import { takeForReplay } from '../../lib/validate/quarantine-store';
import type { PgConfigNode } from '../pg-config/pg-config-node';

interface QuarantineDef extends NodeDef {
  pgConfig: string;
  folder: string;
  folderType?: string;
  replayLimit: string | number;
}

type Msg = NodeMessage & {
  source?: { name?: string; batch?: number; key?: string; sha256?: string };
  run?: { id?: string };
  replay?: { source?: string; ruleVersion?: string; limit?: number } | boolean;
};

export = (RED: NodeAPI) => {
  function Quarantine(this: Node, def: QuarantineDef) {
    RED.nodes.createNode(this, def);
    const config = RED.nodes.getNode(def.pgConfig) as PgConfigNode | null;
    const status = throttledStatus(this);
    const userDir = (RED.settings as { userDir?: string }).userDir ?? process.cwd();
    let folder: string | undefined;
    let folderError: Error | undefined;
    try {
      const env = (name: string) => RED.util.evaluateNodeProperty(name, 'env', this, {});
      folder = resolveFolder(textOrEnv(def.folder, def.folderType, env, 'folder'), 'quarantine', userDir);
    } catch (err) {
      folderError = err as Error;
      status.set({ fill: 'red', shape: 'ring', text: folderError.message });
    }
    let kept = 0;
    let replayed = 0;

    const show = () =>
      status.set({
        fill: 'green',
        shape: 'dot',
        text: `${compactNumber(kept)} kept${replayed ? ` · ${compactNumber(replayed)} replayed` : ''}`,
      });

    /** Writes the batch's files and passes the rows on to silver.quarantine, even when the files could not be written. */
    const keep = async (msg: Msg): Promise<{ out: NodeMessage; error?: Error }> => {
      if (!folder) throw folderError!;
      const rows = (Array.isArray(msg.payload) ? msg.payload : [msg.payload]) as QuarantineRow[];
      if (!rows.length) return { out: msg };
      const result = await keepRejectedBatch(folder, rows, {
        name: msg.source?.name,
        key: msg.source?.key ?? msg.source?.sha256,
        batch: msg.source?.batch,
        runId: msg.run?.id,
      });
      if (result.error !== undefined) {
        return {
          out: Object.assign(msg, { quarantine: { error: result.error } }),
          error: new Error(result.error),
        };
      }
      kept += rows.length;
      show();
      return { out: Object.assign(msg, { quarantine: result.files }) };
    };

    const replay = async (msg: Msg, send: (m: Array<NodeMessage | null>) => void) => {
      const service = config?.service;
      if (!service) throw new Error('replay needs a PostgreSQL connection: select one');
      await service.ready();
      const options = typeof msg.replay === 'object' ? msg.replay : {};
      const batches = await takeForReplay(service.pool, service.schemas, {
        source: options.source,
        ruleVersion: options.ruleVersion,
        limit: Math.max(1, numberOr(options.limit ?? def.replayLimit, 10000)),
      });
      for (const b of batches) {
        replayed += b.records.length;
        send([
          null,
          {
            topic: b.sourceName ?? b.sourceKey,
            payload: b.records,
            source: { kind: 'replay', name: b.sourceName ?? undefined, key: b.sourceKey },
            ...(b.runId ? { run: { id: b.runId } } : {}),
            replayed: true,
          } as NodeMessage,
        ]);
      }
      show();
      return batches.reduce((n, b) => n + b.records.length, 0);
    };

    this.on('input', (msg: Msg, send, done) => {
      const work = msg.replay
        ? replay(msg, send).then(() => undefined)
        : keep(msg).then(({ out, error }) => {
            send([out, null]);
            if (error) throw error;
          });
      work.then(
        () => done(),
        (err: Error) => {
          status.set({ fill: 'red', shape: 'ring', text: err.message });
          done(new Error(`quarantine: ${err.message}`));
        },
      );
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      status.clear();
      done();
    });
  }

  RED.nodes.registerType('medallion-quarantine', Quarantine);
};
