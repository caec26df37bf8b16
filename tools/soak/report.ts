/** The soak's printed summary (and its JSON form). */
import { DAY_MS } from './options.ts';
import type { SoakResult } from './run.ts';

const tb = (b: number): string => `${(b / 1e12).toFixed(2)} TB`;

export function formatSoakReport(r: SoakResult): string {
  const v = r.verification;
  const f = r.faultsInjected;
  const lines: [string, string][] = [
    ['simulated time', `${(r.virtualMs / DAY_MS).toFixed(2)} days (${(r.acquisitionMs / DAY_MS).toFixed(2)} of acquisition at ${(r.options.rateBytesPerSec / 1e6).toFixed(0)} MB/s, ${(r.options.fileBytes / 1e9).toFixed(2)} GB files, ${r.options.drives} drives)`],
    ...(r.acquisitionMs < r.options.days * DAY_MS - 3_600_000 ? [['stopped early', `by --wall-limit-min ${r.options.wallLimitMin}: ${(r.acquisitionMs / DAY_MS).toFixed(2)} of ${r.options.days} days acquired`] as [string, string]] : []),
    ['files submitted', `${r.submitted} (+${r.resubmitted} resubmitted after a failed request)`],
    ['files written', `${r.filesWritten}`],
    ['bytes written', `${r.bytesWritten} (${tb(r.bytesWritten)})`],
    ['faults injected', `drive errors ${f.drive_error}, media errors ${f.media_error}, robot errors ${f.robot_error}, mover crashes ${f.mover_crash}` + (r.faultsUnfired.drive + r.faultsUnfired.robot > 0 ? ` (never hit: ${r.faultsUnfired.drive} drive, ${r.faultsUnfired.robot} robot)` : '')],
    ['retries', `${r.retries} re-assignments by the library manager`],
    ['failed requests', Object.keys(r.failedRequests).length === 0 ? 'none' : Object.entries(r.failedRequests).map(([k, n]) => `${k} ${n}`).join(', ')],
    ['volumes used', `${v.volumesUsed} (${r.volumesFull} full), ${r.mounts} mounts`],
    ['volumes NOACCESS', r.volumesNoaccess.length === 0 ? '0' : `${r.volumesNoaccess.length} (${r.volumesNoaccess.join(', ')})`],
    ['registered twice', `${v.registeredTwice}`],
    ['unknown active files', `${v.unknownActive}`],
    ['end-of-data mismatches', `${v.eodMismatches.length}`],
    ['requests stuck', `${r.stuck}`],
    ['files lost', `${r.filesLost}`],
    ['wall time', `${(r.wallMs / 1000).toFixed(1)} s (${r.clockJumps} clock jumps, ${r.queriesPerFile} pool checkouts a file)`],
  ];
  const width = Math.max(...lines.map(([k]) => k.length));
  const out = lines.map(([k, val]) => `${k.padEnd(width)}  ${val}`);
  for (const p of v.problems) out.push(`  lost: ${p.path} (${p.bfid}): ${p.reason}`);
  if (v.problemCount > v.problems.length) out.push(`  … and ${v.problemCount - v.problems.length} more`);
  for (const m of v.eodMismatches.slice(0, 20)) out.push(`  eod: ${m}`);
  for (const q of r.stuckRequests) out.push(`  stuck: request ${q.id} ${q.state} mover ${q.mover ?? '-'} volume ${q.volume ?? '-'} attempts ${q.attempts}${q.error ? ` (${q.error})` : ''}`);
  if (r.dir) out.push(`kept: ${r.dir}`);
  return out.join('\n');
}

/** Whether the run passed: nothing lost, nothing twice, every end-of-data right, nothing stuck. */
export function soakPassed(r: SoakResult): boolean {
  const v = r.verification;
  return r.filesLost === 0 && v.registeredTwice === 0 && v.unknownActive === 0 && v.eodMismatches.length === 0 && r.stuck === 0 && v.verified > 0;
}
