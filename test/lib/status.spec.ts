import assert from 'node:assert/strict';
import { compactNumber, retryingStatus, throttledStatus, type StatusValue } from '../../lib/status';
import { RateMeter } from '../../lib/rate-meter';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('lib/status', () => {
  it('shows a database retry in yellow with its number and reason', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    assert.deepEqual(retryingStatus({ retry: 2, delayMs: 1000, error }), {
      fill: 'yellow',
      shape: 'ring',
      text: 'retry 2: connect ECONNREFUSED 127.0.0.1:5432',
    });
  });

  it('shows the first status at once and then at most one per interval, the latest winning', async () => {
    const seen: StatusValue[] = [];
    const status = throttledStatus({ status: (s) => seen.push(s) }, 60);
    for (let i = 1; i <= 100; i++) status.set({ fill: 'green', shape: 'dot', text: `${i} rows` });
    assert.deepEqual(
      seen.map((s) => s.text),
      ['1 rows'],
    );
    await sleep(100);
    assert.deepEqual(
      seen.map((s) => s.text),
      ['1 rows', '100 rows'],
    );
  });

  it('shows a change of colour immediately', () => {
    const seen: StatusValue[] = [];
    const status = throttledStatus({ status: (s) => seen.push(s) }, 10_000);
    status.set({ fill: 'green', shape: 'dot', text: 'ok' });
    status.set({ fill: 'red', shape: 'ring', text: 'db down' });
    status.set({ fill: 'red', shape: 'ring', text: 'db down again' });
    assert.deepEqual(
      seen.map((s) => s.fill),
      ['green', 'red'],
    );
    status.clear();
  });

  it('clear empties the status and drops what is pending', async () => {
    const seen: StatusValue[] = [];
    const status = throttledStatus({ status: (s) => seen.push(s) }, 30);
    status.set({ fill: 'green', text: 'a' });
    status.set({ fill: 'green', text: 'b' });
    status.clear();
    await sleep(60);
    assert.deepEqual(seen, [{ fill: 'green', text: 'a' }, {}]);
  });

  it('formats counts compactly', () => {
    assert.equal(compactNumber(999), '999');
    assert.equal(compactNumber(12_345), '12.3k');
    assert.equal(compactNumber(1_234_567), '1.23M');
    assert.equal(compactNumber(2_500_000_000), '2.50G');
  });
});

describe('lib/rate-meter', () => {
  it('averages over the window and forgets older seconds', () => {
    let now = 1_000_000;
    const meter = new RateMeter(5, () => now);
    meter.add(500);
    now += 1000;
    meter.add(500);
    now += 1000;
    assert.equal(meter.total, 1000);
    assert.equal(meter.perSecond(), 500);
    now += 10_000;
    assert.equal(meter.perSecond(), 0);
    assert.equal(meter.total, 1000);
  });

  it('does not divide by less than one second', () => {
    const meter = new RateMeter(5, () => 5_000_000);
    meter.add(300);
    assert.equal(meter.perSecond(), 300);
  });
});
