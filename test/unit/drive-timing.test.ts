import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MediaTypeConfig } from '../../src/config/types.ts';
import { LTO9 } from '../helpers/fixtures.ts';
import { loadTime, locateTime, rewindTime, transferTime, unloadTime } from '../../hardware-sim/drive-timing.ts';

const HALF = LTO9.capacityBytes / 2;

test('load takes loadMs', () => {
  assert.equal(loadTime(LTO9), 16_000);
});

test('locate is linear in distance: half the tape is the average, the whole tape twice that', () => {
  assert.equal(locateTime(LTO9, 0, 0), 0);
  assert.equal(locateTime(LTO9, 0, HALF), 65_000);
  assert.equal(locateTime(LTO9, 0, LTO9.capacityBytes), 130_000);
  assert.equal(locateTime(LTO9, HALF, 0), 65_000, 'backwards costs the same as forwards');
  assert.ok(locateTime(LTO9, 0, 1e9) < locateTime(LTO9, 0, 2e9));
  assert.equal(locateTime(LTO9, 3e12, 12e12), 65_000);
});

test('rewind is proportional to the position', () => {
  assert.equal(rewindTime(LTO9, 0), 0);
  assert.equal(rewindTime(LTO9, HALF), 62_000);
  assert.equal(rewindTime(LTO9, LTO9.capacityBytes), 124_000);
});

test('unload is rewind plus unloadMs', () => {
  assert.equal(unloadTime(LTO9, 0), 56_000);
  assert.equal(unloadTime(LTO9, HALF), 62_000 + 56_000);
});

test('transfer takes bytes / rate, exactly', () => {
  assert.equal(transferTime(LTO9, 4e6), 10);
  assert.equal(transferTime(LTO9, 400e6), 1000);
  assert.equal(transferTime(LTO9, 262_144), 0.65536);
  assert.equal(transferTime(LTO9, 0), 0);
});

test('unlimited rate transfers in zero time', () => {
  assert.equal(transferTime({ ...LTO9, rateBytesPerSec: null }, 18e12), 0);
});
