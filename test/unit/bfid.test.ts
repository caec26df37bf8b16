import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkBfid, checkBrand, formatBfid, locationCookie, parseBfid } from '../../file-clerk/bfid.ts';
import { isTapestryError } from '../../src/errors/index.ts';

test('bfid = BRAND + seconds * 100000 + sequence mod 100000, and parses back', () => {
  const cases: [string, number, number, string][] = [
    ['TAPE', 1_764_000_000, 1, 'TAPE176400000000001'],
    ['TAPE', 1_764_000_000, 99_999, 'TAPE176400000099999'],
    ['TAPE', 1_764_000_000, 100_000, 'TAPE176400000000000'],
    ['TAPE', 1_764_000_000, 123_456, 'TAPE176400000023456'],
    ['CDMS', 1_000_000, 7, 'CDMS100000000007'],
  ];
  for (const [brand, sec, seq, bfid] of cases) {
    assert.equal(formatBfid(brand, sec, seq), bfid);
    assert.deepEqual(parseBfid(bfid), { brand, seconds: sec, counter: seq % 100_000 });
  }
  // Enstore's own check accepts ours.
  assert.match(formatBfid('TAPE', 1_764_000_000, 42), /^[a-zA-Z0-9]*[0-9]{11,16}$/);
});

test('malformed bfids and other brands are refused', () => {
  for (const bad of ['', 'TAPE', 'TAPE123', 'TAPE12345678901234567', 'TA-PE17640000000001', '/exp/raw']) {
    assert.equal(parseBfid(bad), null, bad);
    assert.throws(() => checkBfid(bad), (err) => isTapestryError(err, 'USERERROR'), bad);
  }
  assert.equal(checkBfid('TAPE176400000000001', 'TAPE'), 'TAPE176400000000001');
  assert.throws(() => checkBfid('CDMS176400000000001', 'TAPE'), (err) => isTapestryError(err, 'USERERROR') && /brand "CDMS", not this system's "TAPE"/.test(err.message));
  assert.throws(() => checkBrand('TAPE1'), (err) => isTapestryError(err, 'CONFIG_INVALID'));
  assert.equal(checkBrand('TAPE'), 'TAPE');
});

test('location cookies', () => {
  assert.equal(locationCookie(1), '0000_000000000_0000001');
  assert.equal(locationCookie(1234567), '0000_000000000_1234567');
});
