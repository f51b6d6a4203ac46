/** The embedded PostgreSQL of `npm start` refuses a data directory it cannot use, naming why. */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../bin/embedded-postgres';

describe('embedded PostgreSQL data directory', () => {
  it('names the directory the postgres user cannot enter, when run as root', async function () {
    if (process.getuid?.() !== 0) this.skip();
    const closed = mkdtempSync(join(tmpdir(), 'medallion-closed-'));
    chmodSync(closed, 0o700);
    try {
      await assert.rejects(
        startEmbeddedPostgres(join(closed, 'pg')),
        new RegExp(`the postgres user cannot enter ${closed} \\(mode 700\\).*set MEDALLION_HOME`),
      );
    } finally {
      rmSync(closed, { recursive: true, force: true });
    }
  });
});
