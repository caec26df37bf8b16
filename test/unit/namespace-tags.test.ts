import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTapestryError } from '../../src/errors/index.ts';
import { builtinDefaults, resolveTags, validateTag, writeTagsOf } from '../../src/namespace/tags.ts';

const libs = new Set(['lto9', 'lto8']);

test('legal tag values are accepted (a width is normalised)', () => {
  const cases: [string, string, string][] = [
    ['file_family', 'raw', 'raw'],
    ['file_family', 'run-2026_A', 'run-2026_A'],
    ['file_family_width', '2', '2'],
    ['file_family_width', '007', '7'],
    ['file_family_width', ' 3 ', '3'],
    ['file_family_wrapper', 'cpio_odc', 'cpio_odc'],
    ['library', 'lto8', 'lto8'],
    ['storage_group', 'cms', 'cms'],
  ];
  for (const [tag, value, stored] of cases) assert.deepEqual(validateTag(tag, value, libs), { tag, value: stored }, `${tag}=${value}`);
});

test('illegal tag values are USERERROR naming the tag and the value', () => {
  const cases: [string, string, RegExp][] = [
    ['file_family_width', '0', /"0" for tag file_family_width: must be a whole number/],
    ['file_family_width', '-1', /"-1" for tag file_family_width/],
    ['file_family_width', '1.5', /"1.5" for tag file_family_width/],
    ['file_family_width', 'two', /"two" for tag file_family_width/],
    ['file_family_width', '1001', /from 1 to 1000/],
    ['file_family', 'raw data', /"raw data" for tag file_family: only letters, digits/],
    ['file_family', 'a.b', /"a.b" for tag file_family/],
    ['file_family', '', /"" for tag file_family/],
    ['file_family', 'none', /reserved for blank volumes/],
    ['file_family', 'x'.repeat(65), /longer than 64/],
    ['storage_group', 'cms/raw', /for tag storage_group/],
    ['library', 'lto7', /"lto7" for tag library: no such library \(known: lto8, lto9\)/],
    ['file_family_wrapper', 'cern', /"cern" for tag file_family_wrapper: supported wrappers: cpio_odc/],
    ['colour', 'blue', /unknown tag "colour"/],
  ];
  for (const [tag, value, why] of cases) {
    assert.throws(() => validateTag(tag, value, libs), (err) => isTapestryError(err, 'USERERROR') && why.test(err.message), `${tag}=${value}`);
  }
});

test('tags are inherited from the deepest directory that sets them, with their origin', () => {
  const chain = [
    { path: '/', tags: { storage_group: 'cms' } },
    { path: '/exp', tags: { file_family: 'raw', file_family_width: '2' } },
    { path: '/exp/raw', tags: {} },
    { path: '/exp/raw/sub', tags: { file_family: 'sub', library: 'lto8' } },
  ];
  const defaults = builtinDefaults(['lto9']);
  assert.deepEqual(resolveTags(chain.slice(0, 3), defaults), {
    storage_group: { value: 'cms', origin: '/' },
    file_family: { value: 'raw', origin: '/exp' },
    file_family_width: { value: '2', origin: '/exp' },
    file_family_wrapper: { value: 'cpio_odc', origin: null },
    library: { value: 'lto9', origin: null },
  });
  const sub = resolveTags(chain, defaults);
  assert.deepEqual(sub.file_family, { value: 'sub', origin: '/exp/raw/sub' });
  assert.deepEqual(sub.library, { value: 'lto8', origin: '/exp/raw/sub' });
  assert.deepEqual(sub.file_family_width, { value: '2', origin: '/exp' });
});

test('defaults: the library only when there is exactly one', () => {
  assert.equal(builtinDefaults(['lto9']).library, 'lto9');
  assert.equal(builtinDefaults(['lto8', 'lto9']).library, undefined);
  assert.equal(builtinDefaults([]).file_family_wrapper, 'cpio_odc');
});

test('a file needs file_family and library; the message says how to set them', () => {
  const noFamily = resolveTags([{ path: '/x', tags: {} }], builtinDefaults(['lto9']));
  assert.throws(() => writeTagsOf('/x', noFamily), (err) => isTapestryError(err, 'USERERROR') && /^directory \/x has no file_family tag; set it with tapestry ns tag set/.test(err.message));
  const noLibrary = resolveTags([{ path: '/x', tags: { file_family: 'raw' } }], builtinDefaults(['a', 'b']));
  assert.throws(() => writeTagsOf('/x', noLibrary), (err) => isTapestryError(err, 'USERERROR') && /has no library tag/.test(err.message));
  const ok = resolveTags([{ path: '/x', tags: { file_family: 'raw', file_family_width: '3' } }], builtinDefaults(['lto9']));
  assert.deepEqual(writeTagsOf('/x', ok), { fileFamily: 'raw', width: 3, wrapper: 'cpio_odc', library: 'lto9', storageGroup: 'default' });
});
