import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SystemClock, VirtualClock } from '../../src/time/clock.ts';

test('virtual clock: timers fire in deadline order when advanced', async () => {
  const clock = new VirtualClock({ start: 0 });
  const fired: string[] = [];
  void clock.sleep(30).then(() => fired.push(`b@${clock.now()}`));
  void clock.sleep(10).then(() => fired.push(`a@${clock.now()}`));
  void clock.sleep(30).then(() => fired.push(`c@${clock.now()}`));
  await clock.advance(20);
  assert.deepEqual(fired, ['a@10']);
  assert.equal(clock.now(), 20);
  await clock.advance(10);
  assert.deepEqual(fired, ['a@10', 'b@30', 'c@30']);
});

test('virtual clock: autoAdvance jumps to the next timer, chains of sleeps take exact virtual time', async () => {
  const clock = new VirtualClock({ start: 1000, autoAdvance: true });
  const t0 = Date.now();
  for (let i = 0; i < 100; i++) await clock.sleep(3_600_000);
  assert.equal(clock.now(), 1000 + 100 * 3_600_000);
  assert.ok(Date.now() - t0 < 2000, 'a hundred virtual hours must not take real time');
});

test('virtual clock: abort removes the timer and rejects', async () => {
  const clock = new VirtualClock({ start: 0 });
  const ac = new AbortController();
  const p = clock.sleep(100, ac.signal);
  ac.abort(new Error('stop'));
  await assert.rejects(p, /stop/);
  assert.equal(clock.pending, 0);
  assert.equal(await clock.runNext(), false);
});

test('system clock: the scale multiplies sleeps, now() stays wall time', async () => {
  const clock = new SystemClock(0.001);
  const t0 = Date.now();
  await clock.sleep(50_000); // 50 s of hardware time at 1/1000 = 50 ms
  const took = Date.now() - t0;
  assert.ok(took >= 45 && took < 5000, `took ${took} ms`);
  assert.ok(Math.abs(clock.now() - Date.now()) < 50);
  assert.throws(() => new SystemClock(-1), /time scale/);
});
