import { isAbsolute, resolve } from 'node:path';
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { LandingWatcher, type WatcherActivity, type WatcherOptions } from '../../lib/files/landing-watcher';
import { Ledger } from '../../lib/files/ledger';
import { watcherOptions, type WatchForm } from '../../lib/files/watch-options';
import { textOrEnv } from '../../lib/form-values';
import { activityStatus, outcomeText } from '../../lib/files/watch-status';
import type { PgState } from '../../lib/pg/service';
import type { ProgressKey } from '../../lib/pg/progress';
import { throttledStatus } from '../../lib/status';
import type { PgConfigNode } from '../pg-config/pg-config-node';

interface WatchFolderDef extends NodeDef, WatchForm {
  pgConfig: string;
  folderType?: string;
}

export = (RED: NodeAPI) => {
  function WatchFolder(this: Node, def: WatchFolderDef) {
    RED.nodes.createNode(this, def);
    const config = RED.nodes.getNode(def.pgConfig) as PgConfigNode | null;
    const service = config?.service;
    const status = throttledStatus(this);
    const userDir = (RED.settings as { userDir?: string }).userDir ?? process.cwd();
    let watcher: LandingWatcher | undefined;
    let options: WatcherOptions | undefined;
    let setupError = !config ? 'no PostgreSQL connection selected' : config.configError;
    try {
      const env = (name: string) => RED.util.evaluateNodeProperty(name, 'env', this, {});
      options = watcherOptions(
        { ...def, folder: textOrEnv(def.folder, def.folderType, env, 'folder') },
        userDir,
      );
    } catch (err) {
      setupError ??= (err as Error).message;
    }
    const activity = (a: WatcherActivity) => status.set(activityStatus(a, Boolean(options?.folder)));

    if (service && options && !setupError) {
      try {
        watcher = new LandingWatcher(options!, new Ledger(service.pool, service.schemas), {
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
        });
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
        this.error(`watch-folder: cannot use the landing folder ${options?.folder}: ${err.message}`);
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
