#!/usr/bin/env node
// The installed `encp` command. Starting through tsx costs ~0.6 s per process
// and users run encp once per file, so this runs the esbuild bundle that
// tools/build.ts writes to dist/encp.mjs (npm run build; also run by
// prepare, pretest and prestart) -- but only while it is fresh: every repo
// source listed in its metafile (dist/encp.meta.json) still exists, and none
// of them, nor tools/build.ts, nor the installed packages
// (node_modules/.package-lock.json, rewritten by every npm install) changed
// after the bundle's mtime, which tools/build.ts sets to the build's start.
// Otherwise it runs the TypeScript sources through tsx's loader as before, so
// a stale bundle is never run. The check (parse the metafile, ~20 sync stats)
// costs ~2 ms.
//
// TAPESTRY_ENCP_SOURCE=1 forces the tsx path (e.g. to debug the sources).
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url)); // repo root, with trailing '/'

// ctime as well as mtime: a file put back with an old mtime (mv, cp -p, tar,
// rsync -a) still gets a new ctime, which cannot be set back.
const changed = (st) => (st ? Math.max(st.mtimeMs, st.ctimeMs) : 0);

function bundleIsFresh() {
  try {
    const built = statSync(`${root}dist/encp.mjs`).mtimeMs;
    const meta = JSON.parse(readFileSync(`${root}dist/encp.meta.json`, 'utf8'));
    const inputs = Object.keys(meta.inputs).filter((f) => !f.includes('node_modules/'));
    inputs.push('tools/build.ts');
    // Absent under other package managers: then only the sources decide.
    const installed = statSync(`${root}node_modules/.package-lock.json`, { throwIfNoEntry: false });
    return changed(installed) <= built && inputs.every((f) => changed(statSync(root + f)) <= built);
  } catch {
    return false; // no bundle, no/corrupt metafile, or an input is gone
  }
}

if (process.env.TAPESTRY_ENCP_SOURCE !== '1' && bundleIsFresh()) {
  await import('../dist/encp.mjs');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../tools/encp/main.ts');
}
