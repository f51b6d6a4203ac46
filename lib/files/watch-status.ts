/**
 * What watch-folder's status and messages say: the file and % read, batches waiting
 * for commits, a retry under way, the files loaded and quarantined so far. Green while
 * data flows (a ring while it waits for the layers downstream), yellow during a retry.
 */
import { compactNumber, type StatusValue } from '../status';
import type { FileOutcome, WatcherActivity } from './landing-watcher';

export function activityStatus(a: WatcherActivity, watching: boolean): StatusValue {
  switch (a.state) {
    case 'reading':
      return { fill: 'green', shape: 'dot', text: `${a.file} ${a.percent} % · batch ${a.batch}` };
    case 'waiting': {
      // the layers downstream still committing: part of flowing (a stuck layer shows on its own node)
      const batches = `${a.pending} batch${a.pending === 1 ? '' : 'es'}`;
      const layers =
        a.layers.length <= 2 ? a.layers.join(' + ') : `${a.layers[0]} + ${a.layers.length - 1} more layers`;
      return { fill: 'green', shape: 'ring', text: `${a.file}: ${batches} waiting for ${layers}` };
    }
    case 'replaying':
      return {
        fill: 'green',
        shape: 'dot',
        text: `${a.file}: replaying batch ${a.batch + 1} of ${a.of} from bronze`,
      };
    case 'retrying':
      return { fill: 'yellow', shape: 'ring', text: `${a.file}: ${a.reason}` };
    default: {
      const quarantined = a.quarantined ? ` · ${a.quarantined} quarantined` : '';
      return {
        fill: 'green',
        shape: 'ring',
        text: `${watching ? 'watching' : 'ready'} · ${a.loaded} loaded${quarantined}`,
      };
    }
  }
}

/** One line on what became of a file. */
export function outcomeText(o: FileOutcome): string {
  if (o.state === 'loaded') return `${o.file}: ${compactNumber(o.rowsRead ?? 0)} rows loaded`;
  if (o.state === 'duplicate') return `${o.file}: ${o.error}, not loaded again`;
  return o.error ?? `${o.file}: ${o.state}`;
}
