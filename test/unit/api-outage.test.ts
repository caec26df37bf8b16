import assert from 'node:assert/strict';
import { test } from 'node:test';
import { outageDecision } from '../../tools/lib/api-outage.ts';

const refused = { cause: 'ECONNREFUSED', notSent: true, error: new Error('refused') };
const reset = { cause: 'ECONNRESET', notSent: false, error: new Error('reset') };
const base = { contacted: true, idempotent: false, failure: null, status: null, outage: null, now: 1_000, outageMs: 10_000 };

test('before the first successful exchange nothing is retried: an unreachable service is reported at once', () => {
  assert.deepEqual(outageDecision({ ...base, contacted: false, failure: refused }), { kind: 'answer' });
  assert.deepEqual(outageDecision({ ...base, contacted: false, status: 503 }), { kind: 'answer' });
});

test('a refused connection is retried for any call; a reset only for idempotent calls', () => {
  const d = outageDecision({ ...base, failure: refused });
  assert.equal(d.kind, 'retry');
  assert.deepEqual(outageDecision({ ...base, failure: reset }), { kind: 'answer' });
  assert.equal(outageDecision({ ...base, failure: reset, idempotent: true }).kind, 'retry');
});

test('502/503/504 are retried, other statuses are answers', () => {
  for (const status of [502, 503, 504]) assert.equal(outageDecision({ ...base, status }).kind, 'retry');
  for (const status of [200, 400, 404, 409, 500]) assert.deepEqual(outageDecision({ ...base, status }), { kind: 'answer' });
});

test('backoff doubles from 200 ms to 5 s and the outage gives up after outageMs', () => {
  let outage = null as Parameters<typeof outageDecision>[0]['outage'];
  const delays: number[] = [];
  let now = 1_000;
  for (;;) {
    const d = outageDecision({ ...base, failure: refused, outage, now, outageMs: 30_000 });
    if (d.kind !== 'retry') {
      assert.equal(d.kind, 'give-up');
      assert.equal(d.kind === 'give-up' && d.waitedMs, 30_000);
      break;
    }
    delays.push(d.delayMs);
    outage = d.outage;
    now += d.delayMs;
  }
  assert.deepEqual(delays.slice(0, 7), [200, 400, 800, 1600, 3200, 5000, 5000]);
  assert.equal(delays.reduce((a, b) => a + b, 0), 30_000, 'the last wait is cut to the limit');
});

test('a 503 carrying another Tapestry code (a locked library, a robot needing an operator) is an answer', () => {
  assert.deepEqual(outageDecision({ ...base, status: 503, code: 'LIBRARY_LOCKED' }), { kind: 'answer' });
  assert.deepEqual(outageDecision({ ...base, status: 503, code: 'ROBOT_OPERATOR' }), { kind: 'answer' });
  assert.equal(outageDecision({ ...base, status: 503, code: 'UNAVAILABLE' }).kind, 'retry');
});

test('outageMs 0 turns retries off', () => {
  assert.deepEqual(outageDecision({ ...base, failure: refused, outageMs: 0 }), { kind: 'answer' });
});
