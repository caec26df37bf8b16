import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyFailure, DEFAULT_FAULT_THRESHOLDS as T, moverFailed, moverSucceeded, noaccessStorm, suspectVerdict, type MoverFailureRecord } from '../../library-manager/fault-policy.ts';
import { shouldReread } from '../../movers/reread.ts';
import { validateConfig } from '../../src/config/validate.ts';

const MIN = 60_000;

describe('fault policy defaults (Enstore)', () => {
  it('has the documented defaults', () => {
    assert.deepEqual(T, {
      maxSuspectMovers: 3, maxNoaccess: 2, noaccessWindowMs: 5 * MIN, moverMaxConsecutive: 2, moverMaxFailures: 3,
      moverFailureWindowMs: 60 * MIN, nearEndFraction: 0.02, rereadOneIn: 0,
    });
  });
});

describe('classifyFailure', () => {
  const cap = 1_000_000;
  const cases: [string, Parameters<typeof classifyFailure>[0], string][] = [
    ['END_OF_TAPE on a write', { code: 'END_OF_TAPE', kind: 'write', remainingBytes: 500_000, capacityBytes: cap }, 'end-of-tape'],
    ['a media error on a write with 1 % left', { code: 'MEDIA_ERROR', kind: 'write', remainingBytes: 10_000, capacityBytes: cap }, 'end-of-tape'],
    ['a media error on a write with exactly 2 % left', { code: 'MEDIA_ERROR', kind: 'write', remainingBytes: 20_000, capacityBytes: cap }, 'drive-media'],
    ['a drive error on a write with room left', { code: 'DRIVE_ERROR', kind: 'write', remainingBytes: 900_000, capacityBytes: cap }, 'drive-media'],
    ['a media error on a write, volume unknown', { code: 'MEDIA_ERROR', kind: 'write' }, 'drive-media'],
    ['a media error on a read near the end', { code: 'MEDIA_ERROR', kind: 'read', remainingBytes: 10, capacityBytes: cap }, 'drive-media'],
    ['a CRC mismatch on a write', { code: 'CRC_MISMATCH', kind: 'write' }, 'write-crc'],
    ['a CRC mismatch on a read (not the drive\'s: the usual rule)', { code: 'CRC_MISMATCH', kind: 'read' }, 'other'],
    ['the client went away', { code: 'UNAVAILABLE', kind: 'write', remainingBytes: 10, capacityBytes: cap }, 'other'],
    ['a robot error', { code: 'ROBOT_ERROR', kind: 'read' }, 'other'],
  ];
  for (const [name, facts, want] of cases) it(name, () => assert.equal(classifyFailure(facts, T), want));
  it('uses the configured fraction', () => {
    assert.equal(classifyFailure({ code: 'MEDIA_ERROR', kind: 'write', remainingBytes: 40_000, capacityBytes: cap }, { nearEndFraction: 0.05 }), 'end-of-tape');
    assert.equal(classifyFailure({ code: 'MEDIA_ERROR', kind: 'write', remainingBytes: 0, capacityBytes: cap }, { nearEndFraction: 0 }), 'drive-media');
  });
});

describe('suspectVerdict', () => {
  it('goes NOACCESS at the third distinct mover, not before', () => {
    assert.deepEqual(suspectVerdict([], 'm1', T), { movers: ['m1'], noaccess: false });
    assert.deepEqual(suspectVerdict(['m1'], 'm1', T), { movers: ['m1'], noaccess: false });
    assert.deepEqual(suspectVerdict(['m1', 'm2'], 'm2', T), { movers: ['m1', 'm2'], noaccess: false });
    assert.deepEqual(suspectVerdict(['m2', 'm1'], 'm3', T), { movers: ['m1', 'm2', 'm3'], noaccess: true });
  });
  it('follows max_suspect_movers', () => assert.equal(suspectVerdict([], 'm1', { maxSuspectMovers: 1 }).noaccess, true));
});

describe('noaccessStorm', () => {
  const now = 100 * MIN;
  it('needs two within five minutes', () => {
    assert.equal(noaccessStorm([now], now, null, T), false);
    assert.equal(noaccessStorm([now - 4 * MIN, now], now, null, T), true);
    assert.equal(noaccessStorm([now - 5 * MIN, now], now, null, T), false, 'exactly the window ago is outside it');
    assert.equal(noaccessStorm([now - 6 * MIN, now], now, null, T), false);
  });
  it('does not count what came before a library reset', () => {
    assert.equal(noaccessStorm([now - 2 * MIN, now], now, now - MIN, T), false);
    assert.equal(noaccessStorm([now - 2 * MIN, now - 30_000, now], now, now - MIN, T), true);
  });
  it('follows max_noaccess and noaccess_window', () => {
    assert.equal(noaccessStorm([now - 30 * MIN, now - 20 * MIN, now], now, null, { maxNoaccess: 3, noaccessWindowMs: 60 * MIN }), true);
    assert.equal(noaccessStorm([now - 20 * MIN, now], now, null, { maxNoaccess: 3, noaccessWindowMs: 60 * MIN }), false);
  });
});

describe('mover failures (injected clock)', () => {
  const fresh: MoverFailureRecord = { consecutive: 0, failures: [] };
  it('goes offline at 2 in a row and 3 within the hour', () => {
    let t = 0;
    let r = moverFailed(fresh, (t += MIN), T);
    assert.equal(r.offline, false);
    r = moverFailed(r.record, (t += MIN), T);
    assert.equal(r.offline, false, '2 in a row but only 2 within the hour');
    r = moverFailed(r.record, (t += MIN), T);
    assert.equal(r.offline, true);
    assert.deepEqual(r.record, { consecutive: 3, failures: [MIN, 2 * MIN, 3 * MIN] });
  });
  it('a success resets the consecutive count, not the hour', () => {
    let r = moverFailed(fresh, MIN, T);
    r = moverFailed(r.record, 2 * MIN, T);
    const after = moverSucceeded(r.record);
    assert.deepEqual(after, { consecutive: 0, failures: [MIN, 2 * MIN] });
    r = moverFailed(after, 3 * MIN, T);
    assert.equal(r.offline, false, '3 within the hour, but only 1 in a row');
    r = moverFailed(r.record, 4 * MIN, T);
    assert.equal(r.offline, true);
  });
  it('failures older than the window drop out', () => {
    let r = moverFailed(fresh, 0, T);
    r = moverFailed(r.record, 10 * MIN, T);
    r = moverFailed(r.record, 61 * MIN, T);
    assert.equal(r.offline, false, 'the first is more than an hour old');
    assert.deepEqual(r.record.failures, [10 * MIN, 61 * MIN]);
    r = moverFailed(r.record, 62 * MIN, T);
    assert.equal(r.offline, true);
  });
});

describe('shouldReread', () => {
  it('0 never, 1 always, N about 1 in N', () => {
    assert.equal(shouldReread(0, () => 0), false);
    assert.equal(shouldReread(1, () => 0.999), true);
    assert.equal(shouldReread(4, () => 0.24), true);
    assert.equal(shouldReread(4, () => 0.25), false);
    let seed = 1;
    const lcg = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let n = 0;
    for (let i = 0; i < 10_000; i++) if (shouldReread(10, lcg)) n++;
    assert.ok(n > 800 && n < 1200, `${n} of 10000 re-read with 1 in 10`);
  });
});

describe('config: libraries.<name>.faults', () => {
  const base = {
    media_types: { LTO9: { capacity: '18TB', rate: '400MB/s', load: '16s', unload: '56s', locate_avg: '65s', rewind_avg: '62s' } },
    robots: { r1: { device: '/dev/ttyS0', slots: 10, drives: 2 } },
    drives: [{ name: 'drive-1', element: 1, library: 'lto9' }],
  };
  it('defaults when absent', () => {
    const { config, problems } = validateConfig({ ...base, libraries: { lto9: { robot: 'r1', media_type: 'LTO9' } } }, '/tmp', null);
    assert.deepEqual(problems, []);
    assert.deepEqual(config!.libraries.get('lto9')!.faults, T);
  });
  it('reads every key and names bad ones by path', () => {
    const { config } = validateConfig({ ...base, libraries: { lto9: { robot: 'r1', media_type: 'LTO9', faults: { max_suspect_movers: 2, noaccess_window: '10min', reread_one_in: 1, near_end_fraction: 0.05 } } } }, '/tmp', null);
    assert.deepEqual(config!.libraries.get('lto9')!.faults, { ...T, maxSuspectMovers: 2, noaccessWindowMs: 10 * MIN, rereadOneIn: 1, nearEndFraction: 0.05 });
    const bad = validateConfig({ ...base, libraries: { lto9: { robot: 'r1', media_type: 'LTO9', faults: { max_suspect_movers: 0, near_end_fraction: 2, bogus: 1 } } } }, '/tmp', null);
    const paths = bad.problems.map((p) => p.path).sort();
    assert.deepEqual(paths, ['libraries.lto9.faults.bogus', 'libraries.lto9.faults.max_suspect_movers', 'libraries.lto9.faults.near_end_fraction']);
  });
});
