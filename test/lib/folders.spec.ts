import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ensureFolders,
  freeName,
  landingFolders,
  moveInto,
  sha256File,
  StabilityTracker,
  writeAllAtomically,
  writeAtomically,
} from '../../lib/files/folders';

describe('lib/files/folders', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'medallion-folders-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('names and creates the landing folder and its three subfolders', async () => {
    const landing = join(dir, 'landing');
    const f = landingFolders(landing);
    assert.deepEqual(f, {
      landing,
      processing: join(landing, 'processing'),
      processed: join(landing, 'processed'),
      quarantine: join(landing, 'quarantine'),
    });
    await ensureFolders(f);
    await ensureFolders(f); // again: no error when they exist
    for (const d of Object.values(f)) assert.equal(statSync(d).isDirectory(), true, d);
  });

  describe('freeName', () => {
    it('keeps a free name and numbers the others', () => {
      assert.equal(freeName(dir, 'a.csv'), 'a.csv');
      writeFileSync(join(dir, 'a.csv'), '1');
      assert.equal(freeName(dir, 'a.csv'), 'a~2.csv');
      writeFileSync(join(dir, 'a~2.csv'), '2');
      assert.equal(freeName(dir, 'a.csv'), 'a~3.csv');
      assert.equal(freeName(dir, 'b.csv'), 'b.csv');
    });

    it('numbers before the last extension, or at the end without one', () => {
      writeFileSync(join(dir, 'README'), '');
      writeFileSync(join(dir, 'log.tar.gz'), '');
      assert.equal(freeName(dir, 'README'), 'README~2');
      assert.equal(freeName(dir, 'log.tar.gz'), 'log.tar~2.gz');
    });

    it('skips a name whose error file is still there', () => {
      writeFileSync(join(dir, 'b.csv.error.json'), '{}');
      assert.equal(freeName(dir, 'b.csv'), 'b~2.csv');
    });

    it('skips a numbered name whose error file is still there', () => {
      writeFileSync(join(dir, 'a.csv'), '1');
      writeFileSync(join(dir, 'a~2.csv.error.json'), '{}');
      assert.equal(freeName(dir, 'a.csv'), 'a~3.csv');
    });
  });

  describe('moveInto', () => {
    it('never replaces a file already there', async () => {
      const into = join(dir, 'processed');
      await ensureFolders(landingFolders(into));
      writeFileSync(join(into, 'a.csv'), 'old');
      const paths: string[] = [];
      for (const content of ['second', 'third']) {
        const src = join(dir, 'a.csv');
        writeFileSync(src, content);
        paths.push(await moveInto(src, into));
        assert.equal(existsSync(src), false, 'the source is gone');
      }
      assert.deepEqual(paths, [join(into, 'a~2.csv'), join(into, 'a~3.csv')]);
      assert.equal(readFileSync(join(into, 'a.csv'), 'utf8'), 'old');
      assert.equal(readFileSync(join(into, 'a~2.csv'), 'utf8'), 'second');
      assert.equal(readFileSync(join(into, 'a~3.csv'), 'utf8'), 'third');
    });

    it('keeps every file when many of the same name are moved into one folder at once (instances sharing it)', async () => {
      const into = join(dir, 'processed');
      mkdirSync(into);
      const sources = Array.from({ length: 40 }, (_, i) => {
        mkdirSync(join(dir, `from-${i}`));
        const src = join(dir, `from-${i}`, 'a.csv');
        writeFileSync(src, `content ${i}`);
        return src;
      });
      const targets = await Promise.all(sources.map((src) => moveInto(src, into)));
      assert.equal(new Set(targets).size, 40, 'forty names');
      const contents = readdirSync(into).map((n) => readFileSync(join(into, n), 'utf8'));
      assert.deepEqual(contents.sort(), sources.map((_, i) => `content ${i}`).sort());
      assert.ok(sources.every((src) => !existsSync(src)));
    });

    it('moves a file that two movers take at once only once: the other gets ENOENT', async () => {
      const into = join(dir, 'processing');
      mkdirSync(into);
      const src = join(dir, 'a.csv');
      writeFileSync(src, 'x');
      const results = await Promise.allSettled([moveInto(src, into), moveInto(src, into)]);
      const moved = results.filter((r) => r.status === 'fulfilled');
      const failed = results.filter((r) => r.status === 'rejected');
      assert.equal(moved.length, 1);
      assert.equal((failed[0] as PromiseRejectedResult).reason.code, 'ENOENT');
      assert.deepEqual(readdirSync(into), [moved[0].value.slice(into.length + 1)]);
    });

    it('moves under the name it is given', async () => {
      const src = join(dir, 'tmp-123');
      writeFileSync(src, 'x');
      const target = await moveInto(src, dir, 'named.csv');
      assert.equal(target, join(dir, 'named.csv'));
      assert.equal(readFileSync(target, 'utf8'), 'x');
      assert.equal(existsSync(src), false);
    });
  });

  it('writes a file atomically, leaving no temporary file', async () => {
    const path = join(dir, 'a.csv.error.json');
    await writeAtomically(path, '{"n":1}\n');
    assert.equal(readFileSync(path, 'utf8'), '{"n":1}\n');
    await writeAtomically(path, '{"n":2}\n');
    assert.equal(readFileSync(path, 'utf8'), '{"n":2}\n');
    assert.deepEqual(readdirSync(dir), ['a.csv.error.json']);
  });

  it('writes files that belong together all or none, and leaves no temporary file when a write fails', async () => {
    const a = join(dir, 'b.rejected.csv');
    const b = join(dir, 'b.errors.json');
    mkdirSync(`${b}.${process.pid}.tmp`); // the second write fails (EISDIR), as on a full disk
    await assert.rejects(
      writeAllAtomically([
        [a, 'line_no\r\n'],
        [b, '{}'],
      ]),
      { code: 'EISDIR' },
    );
    rmSync(`${b}.${process.pid}.tmp`, { recursive: true });
    assert.deepEqual(readdirSync(dir), [], 'neither file, no temporary file');
    await writeAllAtomically([
      [a, 'line_no\r\n'],
      [b, '{}'],
    ]);
    assert.deepEqual(readdirSync(dir).sort(), ['b.errors.json', 'b.rejected.csv']);
  });

  describe('sha256File', () => {
    it('hashes the bytes of the file', async () => {
      const small = join(dir, 'small.csv');
      writeFileSync(small, 'a,b\n1,2\n');
      assert.equal(await sha256File(small), createHash('sha256').update('a,b\n1,2\n').digest('hex'));
      // more than one read chunk (1 MiB)
      const bytes = randomBytes(2.5 * 1024 * 1024);
      const large = join(dir, 'large.bin');
      writeFileSync(large, bytes);
      assert.equal(await sha256File(large), createHash('sha256').update(bytes).digest('hex'));
      const empty = join(dir, 'empty');
      writeFileSync(empty, '');
      assert.equal(
        await sha256File(empty),
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      );
    });

    it('rejects when the file cannot be read', async () => {
      await assert.rejects(sha256File(join(dir, 'missing')), { code: 'ENOENT' });
    });
  });

  describe('StabilityTracker', () => {
    it('is true only after the size and mtime stayed the same for N more polls', () => {
      const t = new StabilityTracker(2);
      assert.deepEqual(
        [
          t.observe('a', 10, 1000),
          t.observe('a', 10, 1000),
          t.observe('a', 10, 1000),
          t.observe('a', 10, 1000),
        ],
        [false, false, true, true],
      );
    });

    it('starts again when the size or the mtime changes', () => {
      const t = new StabilityTracker(2);
      t.observe('a', 10, 1000);
      t.observe('a', 10, 1000);
      assert.equal(t.observe('a', 11, 1000), false, 'size changed');
      assert.equal(t.observe('a', 11, 1000), false);
      assert.equal(t.observe('a', 11, 1000), true);
      assert.equal(t.observe('a', 11, 2000), false, 'mtime changed');
      assert.equal(t.observe('a', 11, 2000), false);
      assert.equal(t.observe('a', 11, 2000), true);
    });

    it('tracks each name on its own', () => {
      const t = new StabilityTracker(1);
      assert.equal(t.observe('a', 1, 1), false);
      assert.equal(t.observe('b', 1, 1), false);
      assert.equal(t.observe('a', 1, 1), true);
      assert.equal(t.observe('b', 2, 1), false);
      assert.equal(t.watching, 2);
    });

    it('forgets names no longer present, and a name on request', () => {
      const t = new StabilityTracker(1);
      t.observe('a', 1, 1);
      t.observe('b', 1, 1);
      t.observe('c', 1, 1);
      t.retain(new Set(['a', 'c', 'zzz']));
      assert.equal(t.watching, 2);
      assert.equal(t.observe('b', 1, 1), false, 'b was forgotten: a first sighting again');
      assert.equal(t.observe('a', 1, 1), true, 'a was kept');
      t.forget('a');
      assert.equal(t.watching, 2);
      assert.equal(t.observe('a', 1, 1), false);
    });
  });
});
