/**
 * The 80-byte ANSI VOL1 label, file 0 of every Tapestry tape (DESIGN §6,
 * reference/enstore.md §8). Enstore writes `VOL1` + label[0:6], spaces and a
 * final `0`; we keep that layout, so Enstore's check of the first six
 * characters passes, and record the whole label (barcodes such as TS0001L9
 * have 8 characters) in fields Enstore leaves blank:
 *
 *   cols  bytes  field (ANSI X3.27)            Tapestry writes
 *    1-4   0-3   label identifier + number     "VOL1"
 *    5-10  4-9   volume serial number          label[0:6], space-padded
 *    11    10    accessibility                 " "
 *    12-24 11-23 reserved                      spaces
 *    25-37 24-36 implementation identifier     "TAPESTRY", space-padded
 *    38-51 37-50 owner identifier              the full label, space-padded
 *    52-79 51-78 reserved                      spaces
 *    80    79    label standard version        "0" (as Enstore)
 *
 * A reader takes the owner field as the label when the implementation field
 * says TAPESTRY, else the volume serial (an Enstore tape).
 */
import { TapestryError } from '../src/errors/index.ts';

export const VOL1_BYTES = 80;
const IMPLEMENTATION = 'TAPESTRY';
const SERIAL = [4, 10] as const;
const IMPL = [24, 37] as const;
const OWNER = [37, 51] as const;
const LABEL_RE = /^[A-Za-z0-9_-]{1,14}$/;

export function encodeVol1(label: string): Buffer {
  if (!LABEL_RE.test(label)) {
    throw new TapestryError('USERERROR', `cannot write VOL1 for label ${JSON.stringify(label)}: 1–14 characters of A–Z a–z 0–9 _ -`, { context: { label } });
  }
  const buf = Buffer.alloc(VOL1_BYTES, ' ');
  buf.write('VOL1', 0, 'latin1');
  buf.write(label.slice(0, SERIAL[1] - SERIAL[0]), SERIAL[0], 'latin1');
  buf.write(IMPLEMENTATION, IMPL[0], 'latin1');
  buf.write(label, OWNER[0], 'latin1');
  buf.write('0', VOL1_BYTES - 1, 'latin1');
  return buf;
}

const field = (buf: Buffer, [from, to]: readonly [number, number]): string => buf.toString('latin1', from, to).trimEnd();

/**
 * The label in a VOL1 record. MALFORMED when `buf` is not one; LABEL_MISMATCH
 * when `expected` is given and differs.
 */
export function parseVol1(buf: Buffer, expected?: string): string {
  if (buf.length !== VOL1_BYTES || buf.toString('latin1', 0, 4) !== 'VOL1') {
    throw new TapestryError('MALFORMED', `not a VOL1 label (${buf.length} bytes starting ${JSON.stringify(buf.toString('latin1', 0, Math.min(buf.length, 8)))})`, {
      context: { bytes: buf.length },
    });
  }
  const serial = field(buf, SERIAL);
  const owner = field(buf, OWNER);
  const label = field(buf, IMPL) === IMPLEMENTATION && owner !== '' ? owner : serial;
  if (label === '' || !label.startsWith(serial)) {
    throw new TapestryError('MALFORMED', `inconsistent VOL1 label: serial ${JSON.stringify(serial)}, owner ${JSON.stringify(owner)}`);
  }
  if (expected !== undefined && label !== expected) {
    throw new TapestryError('LABEL_MISMATCH', `tape is labelled ${label}, expected ${expected}`, { context: { found: label, expected } });
  }
  return label;
}
