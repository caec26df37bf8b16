import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter, type SplitItem } from '../../src/hardware/line-splitter.ts';

function feed(chunks: Buffer[], max?: number): SplitItem[] {
  const s = new LineSplitter(max);
  return chunks.flatMap((c) => s.push(c));
}

/** Every way to cut `bytes` in two places (i ≤ j), including empty pieces at the ends. */
function* twoCuts(bytes: Buffer): Generator<[Buffer, Buffer, Buffer]> {
  for (let i = 0; i <= bytes.length; i++) {
    for (let j = i; j <= bytes.length; j++) yield [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)];
  }
}

const line = (text: string): SplitItem => ({ kind: 'line', text });

test('splits a multi-line reply identically at every pair of split points', () => {
  const sample = Buffer.from('12-S1 FULL TS0001L9\r\n12-S2 EMPTY\r\n\r\n12 OK\r\n* MAILSLOT OPENED\nbare-lf\r\n13 ERR 3 RETRY try again\r\n14 OK partial');
  const expected = [line('12-S1 FULL TS0001L9'), line('12-S2 EMPTY'), line(''), line('12 OK'), line('* MAILSLOT OPENED'), line('bare-lf'), line('13 ERR 3 RETRY try again')];
  assert.deepEqual(feed([sample]), expected);
  let cases = 0;
  for (const [a, b, c] of twoCuts(sample)) {
    const s = new LineSplitter();
    const got = [...s.push(a), ...s.push(b), ...s.push(c)];
    assert.deepEqual(got, expected, `cut at ${a.length}/${a.length + b.length}`);
    assert.equal(s.buffered, '14 OK partial'.length);
    cases++;
  }
  assert.ok(cases > 5000);
});

test('one byte at a time gives the same lines', () => {
  const sample = Buffer.from('1 INVENTORY\r\n2 STATUS\r\n3 LOAD S1 D1\r\n');
  const chunks = [...sample].map((b) => Buffer.from([b]));
  assert.deepEqual(feed(chunks), [line('1 INVENTORY'), line('2 STATUS'), line('3 LOAD S1 D1')]);
});

test('garbage bytes give one error item for their line, in sequence, at every split point', () => {
  const sample = Buffer.concat([Buffer.from('1 STATUS\r\n2 LO'), Buffer.from([0x00, 0xff, 0x1b]), Buffer.from('AD\r\n\r\r\n3 STATUS\r\n')]);
  const expected: SplitItem[] = [
    line('1 STATUS'),
    { kind: 'error', reason: 'non-printable byte 0x00 at column 5', head: '2 LO' },
    // a lone CR inside a line is not printable either
    { kind: 'error', reason: 'non-printable byte 0x0d at column 1', head: '' },
    line('3 STATUS'),
  ];
  for (const [a, b, c] of twoCuts(sample)) assert.deepEqual(feed([a, b, c]), expected, `cut at ${a.length}/${a.length + b.length}`);
});

test('oversize lines are dropped up to their terminator and reported once, at every split point', () => {
  const max = 32;
  const long = '7 ' + 'X'.repeat(60); // 62 bytes, over the limit
  const exact = '8 ' + 'Y'.repeat(max - 2); // exactly max: allowed
  const sample = Buffer.from(`1 STATUS\r\n${long}\r\n${exact}\r\n${'Z'.repeat(max + 1)}\n2 STATUS\r\n`);
  const expected: SplitItem[] = [
    line('1 STATUS'),
    { kind: 'error', reason: `line longer than ${max} bytes`, head: long.slice(0, 16) },
    line(exact),
    { kind: 'error', reason: `line longer than ${max} bytes`, head: 'Z'.repeat(16) },
    line('2 STATUS'),
  ];
  for (const [a, b, c] of twoCuts(sample)) assert.deepEqual(feed([a, b, c], max), expected, `cut at ${a.length}/${a.length + b.length}`);
});

test('an endless line is reported as soon as it is too long, and memory stays bounded', () => {
  const s = new LineSplitter(256);
  let errors = 0;
  for (let i = 0; i < 1000; i++) {
    for (const item of s.push(Buffer.alloc(100, 0x41))) {
      assert.equal(item.kind, 'error');
      errors++;
    }
    assert.ok(s.buffered <= 257);
  }
  assert.equal(errors, 1);
  assert.deepEqual(s.push(Buffer.from('xx\r\n9 STATUS\r\n')), [line('9 STATUS')]);
});

test('the default limit is 256 bytes of content before CRLF', () => {
  const ok = 'A'.repeat(256);
  assert.deepEqual(feed([Buffer.from(`${ok}\r\n`)]), [line(ok)]);
  assert.equal(feed([Buffer.from(`${ok}A\r\n`)])[0]!.kind, 'error');
});

test('empty lines and reset', () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push(Buffer.from('\r\n\n')), [line(''), line('')]);
  assert.deepEqual(s.push(Buffer.from('half')), []);
  s.reset();
  assert.equal(s.buffered, 0);
  assert.deepEqual(s.push(Buffer.from('whole\r\n')), [line('whole')]);
});
