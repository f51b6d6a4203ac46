import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'csv-parse/sync';
import { renderCsv } from '../../lib/sim/csv';
import { FaultInjector, type SimItem } from '../../lib/sim/faults';
import { simFileName, writeLikeADevice } from '../../lib/sim/file-writer';
import { Random } from '../../lib/sim/random';
import { ReadingGenerator, type SimReading } from '../../lib/sim/readings';

let dir: string;

function item(reading: Partial<SimReading> & Pick<SimReading, 'record'>, text?: string): SimItem {
  const r: SimReading = { device: { id: 'd', location: 'l', index: 0 }, ts: 0, key: 'k', ...reading };
  return { reading: r, record: r.record, expect: 'stored', key: r.key, ...(text ? { text } : {}) };
}

/** A CSV text of about `rows` iot-temp readings, with a multi-byte character. */
function sample(rows: number): string {
  const gen = new ReadingGenerator({ schema: 'iot-temp', locations: ['Salle °1'], seed: 2, start: 0 });
  const readings = Array.from({ length: Math.ceil(rows / 2) }, () => gen.tick()).flat();
  return renderCsv('iot-temp', new FaultInjector('iot-temp', {}, new Random(1)).apply(readings)).text;
}

describe('sim: renderCsv', () => {
  it('writes the header, LF lines and the line number of each item', () => {
    const items = [
      item({
        record: {
          id: 'a',
          'room_id/id': 'Room, "A"',
          noted_date: '01-05-2024 10:00',
          temp: 30,
          'out/in': 'In',
        },
      }),
      item({
        record: {
          id: null,
          'room_id/id': 'two\nlines',
          noted_date: '01-05-2024 10:00',
          temp: 31,
          'out/in': 'Out',
        },
      }),
      item({ record: { id: 'c' } }, 'c;Room;01-05-2024 10:00;30;In'),
      item({
        record: { id: 'd', 'room_id/id': 'R', noted_date: '01-05-2024 10:01', temp: -2.5, 'out/in': 'In' },
      }),
    ];
    const { text, lines } = renderCsv('iot-temp', items);
    assert.equal(
      text,
      'id,room_id/id,noted_date,temp,out/in\n' +
        'a,"Room, ""A""",01-05-2024 10:00,30,In\n' +
        ',"two\nlines",01-05-2024 10:00,31,Out\n' +
        'c;Room;01-05-2024 10:00;30;In\n' +
        'd,R,01-05-2024 10:01,-2.5,In\n',
    );
    assert.deepEqual(lines, [2, 3, 5, 6]);
    const rows = parse(text, { columns: true, relax_column_count: true, info: true }) as Array<{
      record: Record<string, string>;
      info: { lines: number };
    }>;
    assert.equal(rows[0].record['room_id/id'], 'Room, "A"');
    assert.equal(rows[1].record.id, '');
    assert.deepEqual(rows[2].record, { id: 'c;Room;01-05-2024 10:00;30;In' });
  });

  it('renders an empty file as its header', () => {
    assert.deepEqual(renderCsv('iot-environment', []).lines, []);
    assert.match(renderCsv('iot-environment', []).text, /^timestamp,location_id,.*,mental_health_status\n$/);
  });
});

describe('sim: file writer', () => {
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sim-files-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('names files by prefix, UTC time and number', () => {
    assert.equal(
      simFileName('iot-temp', Date.UTC(2024, 4, 1, 9, 5, 7, 300), 42),
      'iot-temp-20240501T090507-000042.csv',
    );
  });

  it('writes through a hidden temporary file renamed into place', async () => {
    const text = sample(200);
    const seen: string[] = [];
    const watcher = watch(dir, (_event, name) => name && seen.push(String(name)));
    try {
      const written = await writeLikeADevice(dir, 'a.csv', text);
      await sleep(50);
      assert.deepEqual(written, {
        path: join(dir, 'a.csv'),
        name: 'a.csv',
        bytes: Buffer.byteLength(text),
        halfWritten: false,
      });
    } finally {
      watcher.close();
    }
    assert.equal(readFileSync(join(dir, 'a.csv'), 'utf8'), text);
    assert.deepEqual(readdirSync(dir), ['a.csv']);
    assert.ok(
      seen.some((n) => /^\.a\.csv\.[0-9a-f]+\.tmp$/.test(n)),
      `a temporary file was written first: ${seen.join(', ')}`,
    );
  });

  it('rejects a name with a folder in it', async () => {
    await assert.rejects(writeLikeADevice(dir, '../x.csv', 'x'), /without a folder/);
  });

  it('writes slowly under the final name: a reader sees it grow before it is complete', async () => {
    const text = sample(400);
    const sizes: number[] = [];
    let done = false;
    const writing = writeLikeADevice(dir, 'slow.csv', text, { slow: { chunks: 5, intervalMs: 40 } }).finally(
      () => {
        done = true;
      },
    );
    while (!done) {
      try {
        sizes.push(statSync(join(dir, 'slow.csv')).size);
      } catch {
        // not created yet
      }
      await sleep(5);
    }
    const written = await writing;
    assert.equal(written.halfWritten, true);
    const partial = new Set(sizes.filter((s) => s < written.bytes));
    assert.ok(partial.size >= 2, `sizes seen: ${[...new Set(sizes)].join(', ')}`);
    assert.deepEqual(
      sizes,
      [...sizes].sort((a, b) => a - b),
    );
    assert.equal(readFileSync(written.path, 'utf8'), text);
  });

  it('finishes a slow file at once when aborted', async () => {
    const text = sample(300);
    const abort = new AbortController();
    const began = Date.now();
    const writing = writeLikeADevice(dir, 'stop.csv', text, {
      slow: { chunks: 10, intervalMs: 1000 },
      signal: abort.signal,
    });
    await sleep(50);
    assert.ok(statSync(join(dir, 'stop.csv')).size < Buffer.byteLength(text));
    abort.abort();
    const written = await writing;
    assert.ok(Date.now() - began < 900, 'did not wait for the remaining chunks');
    assert.equal(readFileSync(written.path, 'utf8'), text);
    assert.equal(written.bytes, Buffer.byteLength(text));
  });
});
