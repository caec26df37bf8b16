import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTapestryError } from '../../src/errors/index.ts';
import { parsePath, splitParent } from '../../src/namespace/paths.ts';

test('paths are normalised', () => {
  const cases: [string, string, string[]][] = [
    ['/', '/', []],
    ['/exp', '/exp', ['exp']],
    ['/exp/raw/', '/exp/raw', ['exp', 'raw']],
    ['/exp/./raw', '/exp/raw', ['exp', 'raw']],
    ['/./', '/', []],
    ['/a b/ü-ñ', '/a b/ü-ñ', ['a b', 'ü-ñ']],
  ];
  for (const [raw, path, components] of cases) {
    assert.deepEqual(parsePath(raw), { path, components }, raw);
  }
});

test('illegal paths are USERERROR with the reason', () => {
  const cases: [string, RegExp][] = [
    ['', /empty path/],
    ['exp/raw', /must be absolute/],
    ['/exp/../etc', /"\.\." is not allowed/],
    ['/..', /"\.\." is not allowed/],
    ['/exp//raw', /empty component/],
    ['//', /empty component/],
    ['/exp/ra\u0000w', /NUL/],
    ['/exp/ra\nw', /control character/],
    ['/' + 'a'.repeat(4096), /longer than 4096/],
    ['/' + 'a'.repeat(256), /longer than 255/],
  ];
  for (const [raw, why] of cases) {
    assert.throws(() => parsePath(raw), (err) => isTapestryError(err, 'USERERROR') && why.test(err.message), JSON.stringify(raw.slice(0, 20)));
  }
  // Exactly at the limit is fine.
  assert.equal(parsePath('/' + 'a'.repeat(255)).components.length, 1);
});

test('parent and name', () => {
  assert.deepEqual(splitParent(parsePath('/exp/raw/f1')), { parent: { path: '/exp/raw', components: ['exp', 'raw'] }, name: 'f1' });
  assert.deepEqual(splitParent(parsePath('/f1')), { parent: { path: '/', components: [] }, name: 'f1' });
  assert.throws(() => splitParent(parsePath('/')), (err) => isTapestryError(err, 'USERERROR'));
});
