import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import type { FileOutcome } from '../../lib/files/landing-watcher';
import { watcherOptions } from '../../lib/files/watch-options';
import { activityStatus, outcomeText } from '../../lib/files/watch-status';

describe('lib/files/watch-options', () => {
  it('fills the documented defaults and resolves the folder against the user directory', () => {
    assert.deepEqual(watcherOptions({}, '/srv/node-red', {}), {
      folder: '/srv/node-red/landing',
      glob: '*.csv',
      pollMs: 250,
      stablePolls: 2,
      usePolling: false,
      csv: { delimiter: 'auto', quote: '"', columns: [] },
      batchSize: 5000,
      readAhead: 4,
      commitLayer: 'bronze',
      completeLayers: [],
      finalLayers: [],
      bronzeTable: 'bronze.records',
      leaseMs: 30_000,
      instance: `${hostname()}:/srv/node-red`,
    });
  });

  it('reads the form: strings become numbers within bounds, tab and columns are parsed', () => {
    const o = watcherOptions(
      {
        folder: '/data/in',
        pattern: '*.txt',
        pollInterval: '1',
        stablePolls: '0',
        usePolling: true,
        delimiter: '\\t',
        quote: '',
        columns: ' ts , temp ,, room ',
        batchSize: '200',
        readAhead: '0',
        commitLayer: ' bronze ',
        completeLayers: ' silver , quarantine ',
        finalLayers: 'gold',
        bronzeTable: ' raw.lines ',
        leaseSeconds: '1',
      },
      '/srv/node-red',
      { MEDALLION_INSTANCE: 'plant-a' },
    );
    assert.equal(o.folder, '/data/in');
    assert.equal(o.pollMs, 10);
    assert.equal(o.stablePolls, 1);
    assert.deepEqual(o.csv, { delimiter: '\t', quote: '', columns: ['ts', 'temp', 'room'] });
    assert.equal(o.batchSize, 200);
    assert.equal(o.readAhead, 1);
    assert.equal(o.commitLayer, 'bronze');
    assert.deepEqual(o.completeLayers, ['silver', 'quarantine']);
    assert.deepEqual(o.finalLayers, ['gold']);
    assert.equal(o.bronzeTable, 'raw.lines');
    assert.equal(o.leaseMs, 3000);
    assert.equal(o.instance, 'plant-a');
  });

  it('watches no folder when watching is off, and names an unset environment variable', () => {
    assert.equal(watcherOptions({ watch: false }, '/srv', {}).folder, '');
    assert.throws(
      () => watcherOptions({ folder: '${MEDALLION_LANDING}' }, '/srv', {}),
      /environment variable MEDALLION_LANDING, which is not set/,
    );
  });
});

describe('lib/files/watch-status', () => {
  it('shows reading, waiting, replaying, retrying and idle: green flowing, yellow waiting', () => {
    assert.deepEqual(activityStatus({ state: 'reading', file: 'a.csv', percent: 42, batch: 7 }, true), {
      fill: 'green',
      shape: 'dot',
      text: 'a.csv 42 % · batch 7',
    });
    assert.deepEqual(
      activityStatus({ state: 'waiting', file: 'a.csv', pending: 1, layers: ['bronze'] }, true),
      {
        fill: 'green',
        shape: 'ring',
        text: 'a.csv: 1 batch waiting for bronze',
      },
    );
    assert.equal(
      activityStatus({ state: 'waiting', file: 'a.csv', pending: 3, layers: ['silver', 'quarantine'] }, true)
        .text,
      'a.csv: 3 batches waiting for silver + quarantine',
    );
    assert.equal(
      activityStatus(
        { state: 'waiting', file: 'a.csv', pending: 1, layers: ['bronze', 'silver', 'quarantine', 'gold'] },
        true,
      ).text,
      'a.csv: 1 batch waiting for bronze + 3 more layers',
    );
    assert.deepEqual(activityStatus({ state: 'replaying', file: 'a.csv', batch: 2, of: 10 }, true), {
      fill: 'green',
      shape: 'dot',
      text: 'a.csv: replaying batch 3 of 10 from bronze',
    });
    assert.deepEqual(activityStatus({ state: 'retrying', file: 'a.csv', reason: 'ECONNREFUSED' }, true), {
      fill: 'yellow',
      shape: 'ring',
      text: 'a.csv: ECONNREFUSED',
    });
    assert.deepEqual(activityStatus({ state: 'idle', loaded: 3, quarantined: 1 }, true), {
      fill: 'green',
      shape: 'ring',
      text: 'watching · 3 loaded · 1 quarantined',
    });
    assert.equal(
      activityStatus({ state: 'idle', loaded: 0, quarantined: 0 }, false).text,
      'ready · 0 loaded',
    );
  });

  it('says what became of a file in one line', () => {
    const base: FileOutcome = { file: 'a.csv', path: '/x/a.csv', state: 'loaded', rowsRead: 53242 };
    assert.equal(outcomeText(base), 'a.csv: 53.2k rows loaded');
    assert.equal(
      outcomeText({ ...base, state: 'duplicate', error: 'already loaded as b.csv' }),
      'a.csv: already loaded as b.csv, not loaded again',
    );
    assert.equal(
      outcomeText({ ...base, state: 'quarantined', error: 'a.csv: the file is empty (0 bytes)' }),
      'a.csv: the file is empty (0 bytes)',
    );
  });
});
