/**
 * watch-folder's form, as Node-RED stores it (strings and numbers), to the watcher's
 * options: defaults, bounds, the folder resolved against the user directory, and the
 * instance name the ledger knows this Node-RED by.
 */
import { hostname } from 'node:os';
import { listOf, numberOr } from '../form-values';
import { resolveFolder } from './folders';
import type { WatcherOptions } from './landing-watcher';

export interface WatchForm {
  folder?: string;
  watch?: boolean;
  pattern?: string;
  pollInterval?: string | number;
  stablePolls?: string | number;
  usePolling?: boolean;
  delimiter?: string;
  quote?: string;
  columns?: string;
  batchSize?: string | number;
  readAhead?: string | number;
  commitLayer?: string;
  completeLayers?: string;
  finalLayers?: string;
  bronzeTable?: string;
  leaseSeconds?: string | number;
}

export function watcherOptions(form: WatchForm, userDir: string, env = process.env): WatcherOptions {
  const folder = resolveFolder(form.folder, 'landing', userDir);
  return {
    folder: form.watch === false ? '' : folder,
    glob: form.pattern || '*.csv',
    pollMs: Math.max(10, numberOr(form.pollInterval, 250)),
    stablePolls: Math.max(1, numberOr(form.stablePolls, 2)),
    usePolling: form.usePolling === true,
    csv: {
      delimiter: form.delimiter === '\\t' ? '\t' : form.delimiter || 'auto',
      quote: form.quote ?? '"',
      columns: listOf(form.columns),
    },
    batchSize: Math.max(1, numberOr(form.batchSize, 5000)),
    readAhead: Math.max(1, numberOr(form.readAhead, 4)),
    commitLayer: (form.commitLayer ?? 'bronze').trim(),
    completeLayers: listOf(form.completeLayers),
    finalLayers: listOf(form.finalLayers),
    bronzeTable: form.bronzeTable?.trim() || 'bronze.records',
    leaseMs: Math.max(3, numberOr(form.leaseSeconds, 30)) * 1000,
    instance: env.MEDALLION_INSTANCE || `${hostname()}:${userDir}`,
  };
}
