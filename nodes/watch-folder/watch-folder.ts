import { hostname } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { LandingWatcher, type FileOutcome, type WatcherActivity } from '../../lib/files/landing-watcher';
import { Ledger } from '../../lib/files/ledger';
import { numberOr } from '../../lib/form-values';
import type { PgState } from '../../lib/pg/service';
import type { ProgressKey } from '../../lib/pg/progress';
import { compactNumber, throttledStatus } from '../../lib/status';
import type { PgConfigNode } from '../pg-config/pg-config-node';

interface WatchFolderDef extends NodeDef {
  pgConfig: string;
  folder: string;
  watch: boolean;
  pattern: string;
  pollInterval: string | number;
  stablePolls: string | number;
  usePolling: boolean;
  delimiter: string;
  quote: string;
  columns: string;
  batchSize: string | number;
  readAhead: string | number;
  commitLayer: string;
  leaseSeconds: string | number;
}

function outcomeText(o: FileOutcome): string {
  if (o.state === 'loaded') return `${o.file}: ${compactNumber(o.rowsRead ?? 0)} rows loaded`;
  if (o.state === 'duplicate') return `${o.file}: ${o.error}, not loaded again`;
  return o.error ?? `${o.file}: ${o.state}`;
}

export = (RED: NodeAPI) => {
  function WatchFolder(this: Node, def: WatchFolderDef) {
    RED.nodes.createNode(this, def);
    const config = RED.nodes.getNode(def.pgConfig) as PgConfigNode | null;
    const service = config?.service;
    const status = throttledStatus(this);
    const userDir = (RED.settings as { userDir?: string }).userDir ?? process.cwd();
    const folderSetting = (def.folder ?? '').trim() || 'landing';
    const folder =
      def.watch === false ? '' : isAbsolute(folderSetting) ? folderSetting : resolve(userDir, folderSetting);
    const instance = process.env.MEDALLION_INSTANCE || `${hostname()}:${userDir}`;
    let watcher: LandingWatcher | undefined;
    let setupError = !config ? 'no PostgreSQL connection selected' : config.configError;
    const unresolved = /\$\{(\w+)\}/.exec(folderSetting);
    if (unresolved && !setupError) {
      setupError = `the folder refers to the environment variable ${unresolved[1]}, which is not set`;
    }

    const activity = (a: WatcherActivity) => {
      if (a.state === 'reading')
        status.set({ fill: 'blue', shape: 'dot', text: `${a.file} ${a.percent} % · batch ${a.batch}` });
      else if (a.state === 'waiting')
        status.set({
          fill: 'blue',
          shape: 'ring',
          text: `${a.file}: waiting for ${def.commitLayer} commits`,
        });
      else if (a.state === 'retrying')
        status.set({ fill: 'yellow', shape: 'ring', text: `${a.file}: ${a.reason}` });
      else {
        const quarantined = a.quarantined ? ` · ${a.quarantined} quarantined` : '';
        status.set({
          fill: 'green',
          shape: 'ring',
          text: `${folder ? 'watching' : 'ready'} · ${a.loaded} loaded${quarantined}`,
        });
      }
    };

    if (service && !setupError) {
      try {
        watcher = new LandingWatcher(
          {
            folder,
            glob: def.pattern || '*.csv',
            pollMs: Math.max(10, numberOr(def.pollInterval, 250)),
            stablePolls: Math.max(1, numberOr(def.stablePolls, 2)),
            usePolling: def.usePolling === true,
            csv: {
              delimiter: def.delimiter === '\\t' ? '\t' : def.delimiter || 'auto',
              quote: def.quote ?? '"',
              columns: (def.columns ?? '')
                .split(',')
                .map((c) => c.trim())
                .filter(Boolean),
            },
            batchSize: Math.max(1, numberOr(def.batchSize, 5000)),
            readAhead: Math.max(1, numberOr(def.readAhead, 4)),
            commitLayer: (def.commitLayer ?? 'bronze').trim(),
            leaseMs: Math.max(3, numberOr(def.leaseSeconds, 30)) * 1000,
            instance,
          },
          new Ledger(service.pool, service.schemas),
          {
            send: (msg) => this.send([msg as unknown as NodeMessage, null]),
            finished: (outcome) => {
              const msg = { topic: outcome.file, payload: outcome };
              this.send([null, msg]);
              if (outcome.state === 'quarantined' || outcome.state === 'failed') {
                status.set({ fill: 'red', shape: 'ring', text: `${outcome.file}: ${outcome.state}` });
                this.error(`watch-folder: ${outcomeText(outcome)}`, msg);
              }
            },
            activity,
            warn: (text) => this.warn(`watch-folder: ${text}`),
          },
        );
      } catch (err) {
        setupError = (err as Error).message;
      }
    }

    const onCommitted = (key: ProgressKey) => watcher?.noteCommitted(key.sourceKey, key.layer, key.batch);
    let started: Promise<void> | undefined;
    let markStarted: () => void = () => undefined;
    const whenStarted = new Promise<void>((resolve) => (markStarted = resolve));
    const startOnce = (s: PgState) => {
      if (s.state !== 'ready' || started || !watcher) return;
      started = watcher.start().then(markStarted, (err: Error) => {
        status.set({ fill: 'red', shape: 'ring', text: err.message });
        this.error(`watch-folder: cannot use the landing folder ${folder}: ${err.message}`);
      });
    };
    const onState = (s: PgState) => {
      if (s.state === 'ready') startOnce(s);
      else if (s.state === 'connecting' && !started)
        status.set({ fill: 'yellow', shape: 'ring', text: 'connecting…' });
      else if (s.state === 'error') status.set({ fill: 'red', shape: 'ring', text: s.message });
    };
    const release = service && !setupError ? service.retain() : () => undefined;
    if (setupError) {
      status.set({ fill: 'red', shape: 'ring', text: setupError });
      this.error(`watch-folder: ${setupError}`);
    } else if (service) {
      service.on('committed', onCommitted);
      service.on('state', onState);
      onState(service.state);
      service.start();
    }

    this.on('input', (msg: NodeMessage, send, done) => {
      if (!watcher) return done(new Error(`watch-folder: ${setupError}`));
      const path = typeof msg.payload === 'string' ? msg.payload.trim() : '';
      if (!path) return done(new Error('watch-folder: msg.payload must be the path of a file to load'));
      const file = isAbsolute(path) ? path : resolve(userDir, path);
      whenStarted
        .then(() => watcher!.processPath(file))
        .then(
          (outcome) => {
            send([null, { ...msg, payload: outcome }]);
            if (outcome.state === 'loaded' || outcome.state === 'duplicate') done();
            else done(new Error(`watch-folder: ${outcomeText(outcome)}`));
          },
          (err: Error) => done(new Error(`watch-folder: ${path}: ${err.message}`)),
        );
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      service?.off('committed', onCommitted);
      service?.off('state', onState);
      (watcher ? watcher.close() : Promise.resolve()).then(() => {
        release();
        status.clear();
        done();
      });
    });
  }

  RED.nodes.registerType('medallion-watch-folder', WatchFolder);
};
