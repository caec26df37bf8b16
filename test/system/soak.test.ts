/**
 * The soak (issue 5 item 7), shortened for CI: `tools/soak/main.ts --days 2`
 * as `npm run soak` runs it — the real library manager, movers, clerks, robot
 * on its pty, PostgreSQL, on a virtual clock, with synthetic payloads — at
 * fault rates raised so two days see every kind, then the exact outcome.
 * Plus the synthetic record on a simulated cartridge: counted like data, never
 * readable as data.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { CartridgeStore } from '../../hardware-sim/cartridge-store.ts';
import { SimDrive } from '../../hardware-sim/drive.ts';
import { cpioArchiveSize } from '../../movers/cpio-odc.ts';
import { readSyntheticFile, writeLabel, writeSyntheticFile, readFile } from '../../movers/tape-io.ts';
import { syntheticChecksums } from '../../src/checksum/synthetic.ts';
import type { MediaTypeConfig } from '../../src/config/types.ts';
import { isTapestryError } from '../../src/errors/index.ts';
import { VirtualClock } from '../../src/time/clock.ts';
import type { SoakResult } from '../../tools/soak/run.ts';
import { formatSoakReport } from '../../tools/soak/report.ts';

const SOAK = path.resolve(import.meta.dirname, '../../tools/soak/main.ts');

/** The soak as `npm run soak` runs it (TypeScript through tsx's loader); SIGTERM'd if the test gives up, so it stops its PostgreSQL. */
function soak(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SOAK, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) c.kill('SIGTERM');
});

// Two simulated days are ~3,000 files: about 2 min on an idle 2-core machine, several under load.
describe('npm run soak -- --days 2 (CI)', { timeout: 900_000 }, () => {
  it('writes every file through drive, media, robot errors and mover crashes, and loses none', async (t) => {
    const r = await soak([
      '--days', '2', '--json', '--progress-days', '0', '--seed', '7',
      // Two days at the default rates would see hardly a fault: raise them.
      '--drive-error-per', '1TB', '--media-error-per', '2TB', '--robot-error-per-mounts', '4', '--mover-crash-every-days', '0.5',
    ]);
    assert.equal(r.code, 0, `soak exited ${r.code}\n${r.stderr.slice(-4000)}\n${r.stdout.slice(-2000)}`);
    const result = JSON.parse(r.stdout) as SoakResult;
    for (const line of formatSoakReport(result).split('\n')) t.diagnostic(line);
    // 2 days at 35 MB/s in 2 GB files: one file every 57.14 s of virtual time.
    assert.equal(result.submitted, Math.ceil((2 * 86_400 * 35e6) / 2e9));
    assert.equal(result.filesWritten, result.submitted);
    assert.equal(result.bytesWritten, result.submitted * 2e9);
    assert.equal(result.filesLost, 0);
    assert.equal(result.stuck, 0);
    assert.equal(result.verification.verified, result.submitted);
    assert.equal(result.verification.problemCount, 0);
    assert.equal(result.verification.registeredTwice, 0);
    assert.equal(result.verification.unknownActive, 0);
    assert.deepEqual(result.verification.eodMismatches, []);
    assert.ok(result.faultsInjected.drive_error > 0, 'drive errors were injected');
    assert.ok(result.faultsInjected.media_error > 0, 'media errors were injected');
    assert.ok(result.faultsInjected.mover_crash > 0, 'movers were crashed');
    assert.ok(result.retries > 0, 'the library manager retried failed transfers');
    assert.ok(result.virtualMs >= 2 * 86_400_000, 'two days of virtual time passed');
  });

  it('refuses a bad option with a usage message and exit code 2', async () => {
    const r = await soak(['--days', 'many']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--days needs a number/);
    assert.match(r.stderr, /usage: npm run soak/);
  });
});

describe('synthetic records on a simulated cartridge', () => {
  const LTO: MediaTypeConfig = { name: 'LTO9', capacityBytes: 18e12, rateBytesPerSec: 400e6, loadMs: 16_000, unloadMs: 56_000, locateAvgMs: 65_000, rewindAvgMs: 62_000, blockSize: 262_144 } as MediaTypeConfig;
  let dir = '';
  after(() => rm(dir, { recursive: true, force: true }));

  async function loadedDrive(capacityBytes: number): Promise<{ drive: SimDrive; store: CartridgeStore; clock: VirtualClock }> {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tapestry-synthetic-'));
    const store = new CartridgeStore(dir, { syncOnFilemark: false });
    await store.create({ label: 'SY0001L9', mediaType: 'LTO9', capacityBytes });
    const clock = new VirtualClock({ autoAdvance: true });
    const drive = new SimDrive({ name: 'd1', element: 1, mediaType: { ...LTO, capacityBytes }, clock, store });
    drive.insert('SY0001L9');
    await drive.load();
    await writeLabel(drive, 'SY0001L9');
    return { drive, store, clock };
  }

  it('takes the tape space and streaming time of the archive, reads back its seed, and refuses a data read', async () => {
    const { drive, store, clock } = await loadedDrive(18e12);
    const t0 = clock.now();
    const written = await writeSyntheticFile(drive, { name: '/soak/a.raw', seed: 1234, size: 2e9 });
    const archive = cpioArchiveSize({ name: 'soak/a.raw', size: 2e9 });
    assert.equal(written.tapeBytes, archive);
    assert.equal(written.crc, syntheticChecksums(1234, 2e9).crc);
    assert.ok(Math.abs(clock.now() - t0 - (archive * 1000) / 400e6) < 0.01, '2 GB stream at 400 MB/s: no locate, no per-block cost');
    const cart = await store.open('SY0001L9');
    assert.equal(cart.usedBytes, 80 + archive);
    assert.equal(cart.filemarkCount, 2);
    assert.deepEqual(await readSyntheticFile(drive, 1), { seed: 1234, size: 2e9, tapeBytes: archive, crc: written.crc });
    // A real read (tape-io over readRecord) must fail, never deliver bytes.
    await assert.rejects(async () => {
      for await (const _ of readFile(drive, 1)) assert.fail('a synthetic record delivered data');
    }, (err: unknown) => isTapestryError(err, 'MALFORMED') && /synthetic soak record/.test(err.message));
    await store.close();
  });

  it('hits end of tape like real data', async () => {
    const { drive, store } = await loadedDrive(3e9);
    await writeSyntheticFile(drive, { name: '/soak/b.raw', seed: 1, size: 2e9 });
    await assert.rejects(writeSyntheticFile(drive, { name: '/soak/c.raw', seed: 2, size: 2e9 }), (err: unknown) => isTapestryError(err, 'END_OF_TAPE'));
    assert.equal((await store.open('SY0001L9')).filemarkCount, 2, 'the failed write left no filemark');
    await store.close();
  });
});
