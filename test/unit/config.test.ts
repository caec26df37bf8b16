import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { checkConfigFile, expandLabelRange, parseDuration, parseRate, parseSize, validateConfig } from '../../src/config/index.ts';

const REPO = path.resolve(import.meta.dirname, '../..');

test('the example tapestry.yaml is valid and describes the demo library', () => {
  const { config, problems } = checkConfigFile(path.join(REPO, 'tapestry.yaml'));
  assert.deepEqual(problems, []);
  assert.ok(config);
  const lto9 = config.mediaTypes.get('LTO9')!;
  assert.deepEqual(
    { cap: lto9.capacityBytes, rate: lto9.rateBytesPerSec, load: lto9.loadMs, unload: lto9.unloadMs, locate: lto9.locateAvgMs, rewind: lto9.rewindAvgMs },
    { cap: 18e12, rate: 400e6, load: 16_000, unload: 56_000, locate: 65_000, rewind: 62_000 },
  );
  assert.equal(config.drives.length, 4);
  assert.equal(config.robots.get('robot-1')!.slots, 40);
  assert.equal(config.robots.get('robot-1')!.mailslots, 4);
  assert.deepEqual(config.simulator!.cartridges.map((c) => `${c.label}@${c.slot}`).slice(0, 2), ['TS0001L9@1', 'TS0002L9@2']);
  assert.equal(config.simulator!.cartridges.length, 20);
});

test('units', () => {
  assert.equal(parseSize('18TB'), 18e12);
  assert.equal(parseSize('256KiB'), 262144);
  assert.equal(parseSize('1.5 GB'), 1.5e9);
  assert.equal(parseSize('12 parsecs'), null);
  assert.equal(parseSize(-1), null);
  assert.equal(parseRate('400MB/s'), 400e6);
  assert.equal(parseRate('unlimited'), 'unlimited');
  assert.equal(parseRate('0MB/s'), null);
  assert.equal(parseDuration('16s'), 16_000);
  assert.equal(parseDuration('15min'), 900_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration(2), 2000);
  assert.equal(parseDuration('soon'), null);
  assert.deepEqual(expandLabelRange('TS0009L9-TS0011L9'), ['TS0009L9', 'TS0010L9', 'TS0011L9']);
  assert.match(String(expandLabelRange('TS0011L9-TS0009L9')), /counts down/);
  assert.match(String(expandLabelRange('AB0001L9-CD0002L9')), /same prefix/);
});

test('every problem is listed, with its key path', () => {
  const doc = parse(`
bogus: 1
http: { port: 99999 }
media_types:
  LTO9: { capacity: 18TB, rate: fast, load: 16s, unload: 56s, locate_avg: 65s, rewind_avg: 62s }
robots:
  r0: { device: sim, slots: 10, drives: 2, mailslots: -1 }
  r1: { device: sim, slots: 10, drives: 2 }
libraries:
  lib: { robot: r1, media_type: LTO8 }
  lib2: { robot: r1, media_type: LTO9 }
drives:
  - { name: d1, library: lib2, element: 1 }
  - { name: d1, library: lib2, element: 2 }
  - { name: d3, library: lib2, element: 3 }
  - { name: d4, library: nowhere, element: 1 }
simulator:
  time_scale: -1
  cartridges:
    - { labels: TS0001L9-TS0012L9, media_type: LTO9, robot: r1 }
    - { labels: ts01, media_type: LTO9, robot: r1, slots: 1 }
`);
  const { config, problems } = validateConfig(doc, '/tmp', null);
  assert.equal(config, null);
  const text = problems.map((p) => `${p.path}: ${p.message}`);
  const expect = [
    /^bogus: unknown key/,
    /^http\.port: must be a TCP port/,
    /^media_types\.LTO9\.rate: must be a rate/,
    /^robots\.r0\.mailslots: must be a number of mail slots/,
    /^libraries\.lib\.media_type: unknown media type "LTO8"/,
    /^drives\[1\]\.name: duplicate drive name "d1"/,
    /^drives\[2\]\.element: robot "r1" has 2 drive bays; there is no D3/,
    /^drives: more drives than robot "r1" has drive bays \(2\)/,
    /^drives\[3\]\.library: unknown library "nowhere"/,
    /^simulator\.time_scale: must be a number >= 0/,
    /^simulator\.cartridges\[0\]\.slots: robot "r1" has 10 slots; no room for TS0011L9/,
    /^simulator\.cartridges\[1\]\.labels: label "ts01" must be 6–8 characters/,
    /^simulator\.cartridges\[1\]\.slots: slot 1 of robot "r1" already holds TS0001L9/,
  ];
  for (const re of expect) assert.ok(text.some((t) => re.test(t)), `missing problem ${re}\n${text.join('\n')}`);
});

test('YAML syntax errors and duplicate keys are problems, not crashes', async () => {
  const fs = await import('node:fs/promises');
  const os = await import('node:os');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cfg-'));
  try {
    await fs.writeFile(path.join(dir, 'dup.yaml'), 'http:\n  port: 1\n  port: 2\n');
    assert.match(checkConfigFile(path.join(dir, 'dup.yaml')).problems[0]!.message, /unique|duplicate/i);
    await fs.writeFile(path.join(dir, 'broken.yaml'), 'http: [unclosed\n');
    assert.ok(checkConfigFile(path.join(dir, 'broken.yaml')).problems.length > 0);
    assert.match(checkConfigFile(path.join(dir, 'missing.yaml')).problems[0]!.message, /cannot read/);
  } finally {
    await fs.rm(dir, { recursive: true });
  }
});
