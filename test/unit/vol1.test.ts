import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTapestryError, type ErrorCode } from '../../src/errors/index.ts';
import { VOL1_BYTES, encodeVol1, parseVol1 } from '../../movers/vol1.ts';

const code = (c: ErrorCode) => (err: unknown): boolean => isTapestryError(err, c);

test('VOL1: an 8-character barcode round-trips; the layout is Enstore-compatible', () => {
  const buf = encodeVol1('TS0001L9');
  assert.equal(buf.length, VOL1_BYTES);
  const text = buf.toString('latin1');
  assert.equal(text.slice(0, 10), 'VOL1TS0001', 'VOL1 + first six characters');
  assert.equal(text[79], '0', 'label standard version as Enstore writes it');
  assert.equal(text.slice(10, 24), ' '.repeat(14));
  assert.equal(text.slice(24, 37), 'TAPESTRY     ', 'implementation identifier');
  assert.equal(text.slice(37, 51), 'TS0001L9      ', 'owner identifier: the full label');
  assert.equal(text.slice(51, 79), ' '.repeat(28));
  assert.equal(parseVol1(buf), 'TS0001L9');
  assert.equal(parseVol1(buf, 'TS0001L9'), 'TS0001L9');
});

test('VOL1: 6-character and 14-character labels round-trip', () => {
  for (const label of ['VOL001', 'A', 'ABCDEFGHIJKLMN']) assert.equal(parseVol1(encodeVol1(label)), label);
});

test("VOL1: an Enstore label (VOL1 + six characters, spaces, '0') reads as its six characters", () => {
  const enstore = Buffer.from(`VOL1PRF123${' '.repeat(69)}0`, 'latin1');
  assert.equal(enstore.length, 80);
  assert.equal(parseVol1(enstore), 'PRF123');
});

test('VOL1: another label → LABEL_MISMATCH naming both', () => {
  assert.throws(() => parseVol1(encodeVol1('TS0001L9'), 'TS0002L9'), (err: unknown) => code('LABEL_MISMATCH')(err) && /TS0001L9.*TS0002L9/.test((err as Error).message));
  // Same first six characters, different suffix: the full label decides.
  assert.throws(() => parseVol1(encodeVol1('TS0001L8'), 'TS0001L9'), code('LABEL_MISMATCH'));
});

test('VOL1: records that are not a VOL1 label → MALFORMED', () => {
  const good = encodeVol1('TS0001L9');
  assert.throws(() => parseVol1(good.subarray(0, 79)), code('MALFORMED'));
  assert.throws(() => parseVol1(Buffer.concat([good, Buffer.alloc(1)])), code('MALFORMED'));
  assert.throws(() => parseVol1(Buffer.alloc(80)), code('MALFORMED'));
  assert.throws(() => parseVol1(Buffer.from('070707'.padEnd(80, '0'))), code('MALFORMED'));
  const inconsistent = Buffer.from(good);
  inconsistent.write('XX', 4, 'latin1');
  assert.throws(() => parseVol1(inconsistent), code('MALFORMED'));
  assert.throws(() => parseVol1(Buffer.from('VOL1'.padEnd(80, ' '))), code('MALFORMED'));
});

test('VOL1: labels that cannot be written → USERERROR', () => {
  for (const bad of ['', 'ABCDEFGHIJKLMNO', 'TS 001', 'TS0001\0', 'ÄBC123']) assert.throws(() => encodeVol1(bad), code('USERERROR'), JSON.stringify(bad));
});
