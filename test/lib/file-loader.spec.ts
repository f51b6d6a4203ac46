import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileLoader } from '../../lib/files/file-loader';
import { ensureFolders, landingFolders, type LandingFolders } from '../../lib/files/folders';
import type { Ledger } from '../../lib/files/ledger';
import { watcherOptions } from '../../lib/files/watch-options';
import type { WatcherHooks } from '../../lib/files/watch-types';

describe('lib/files/file-loader: a file that vanishes before it is claimed', () => {
  let dir: string;
  let folders: LandingFolders;
  const told: string[] = [];
  const hooks: WatcherHooks = {
    send: () => told.push('send'),
    finished: () => told.push('finished'),
    activity: () => undefined,
    warn: (text) => told.push(`warn: ${text}`),
  };
  /** Any use of the ledger fails the test: a vanished file must not reach it. */
  const ledger = new Proxy({} as Ledger, {
    get: (_t, name) => {
      throw new Error(`the ledger was used (${String(name)})`);
    },
  });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'medallion-loader-'));
    folders = landingFolders(dir);
    await ensureFolders(folders);
    told.length = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const loader = () =>
    new FileLoader(
      watcherOptions({ folder: dir }, dir),
      ledger,
      hooks,
      new AbortController().signal,
      folders,
    );

  it('lets go of a landing file taken (or deleted) between detection and claim, silently', async () => {
    assert.equal(await loader().handle('landing', join(dir, 'gone.csv')), undefined);
    assert.deepEqual(told, []);
    assert.deepEqual(readdirSync(folders.processing), []);
  });

  it('lets go of a file in processing/ finished meanwhile by another instance', async () => {
    assert.equal(await loader().handle('processing', join(folders.processing, 'gone.csv')), undefined);
    assert.deepEqual(told, []);
  });

  it('refuses a path given as input that does not exist, naming it', async () => {
    await assert.rejects(loader().handle('input', join(dir, 'nope.csv')), {
      code: 'ENOENT',
      message: /no such file or directory, stat '.*nope\.csv'/,
    });
  });
});
