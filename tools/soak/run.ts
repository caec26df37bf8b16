/**
 * One soak run: start the system on the soak clock, submit a file every
 * fileBytes/rate of virtual time for `days`, arm faults, resubmit what the
 * system reports failed (as a DAQ client would), wait for the queue to drain,
 * verify every file, stop. Virtual time is the soak clock's; wall time is
 * measured around the whole run, start-up and verification included.
 */
import { performance } from 'node:perf_hooks';
import { FaultInjector, type FaultKind } from './faults.ts';
import { DAY_MS, prng, type SoakOptions } from './options.ts';
import { SyntheticClient, type SoakFile } from './synthetic-client.ts';
import { removeSoakDir, startSoakSystem } from './system.ts';
import { verifySoak, type Verification } from './verify.ts';

export interface SoakResult {
  readonly options: SoakOptions;
  readonly dir: string | null;
  readonly virtualMs: number;
  readonly wallMs: number;
  readonly submitted: number;
  readonly resubmitted: number;
  readonly filesWritten: number;
  readonly bytesWritten: number;
  readonly faultsInjected: Record<FaultKind, number>;
  /** Armed faults the run ended before anything hit (disarmed at the end). */
  readonly faultsUnfired: { drive: number; robot: number };
  /** Re-assignments by the library manager (attempts beyond the first). */
  readonly retries: number;
  /** Requests that ended failed, by error code (each was resubmitted by the client). */
  readonly failedRequests: Record<string, number>;
  readonly volumesNoaccess: readonly string[];
  readonly volumesFull: number;
  readonly mounts: number;
  readonly clockJumps: number;
  /** Requests still open when the drain deadline passed, and what they were doing (the first 20). */
  readonly stuck: number;
  readonly stuckRequests: readonly { id: number; state: string; mover: string | null; volume: string | null; attempts: number; error: string | null }[];
  /** Virtual time the acquisition took, and the drain after it. */
  readonly acquisitionMs: number;
  /** Database queries the system made (all components), per file written. */
  readonly queriesPerFile: number;
  readonly verification: Verification;
  readonly filesLost: number;
}

/** After the last submission, how much virtual time the queue gets to drain. */
const DRAIN_LIMIT_MS = 2 * DAY_MS;
/** How often the client looks at its open requests (virtual). */
const WATCH_MS = 10 * 60_000;

export async function runSoak(o: SoakOptions, progress: (line: string) => void = () => undefined): Promise<SoakResult> {
  const wallStart = performance.now();
  const seeds = prng(o.seed);
  let client: SyntheticClient | null = null;
  const sys = await startSoakSystem(o, (a) => client?.seedOf(a) ?? null);
  let kept = false;
  let onSignal: (() => void) | null = null;
  try {
    client = new SyntheticClient(sys.intake, (dir) => sys.namespace.mkdir(dir, { parents: true }));
    await client.listen();
    const c = client;
    const faults = new FaultInjector(sys, o, prng(o.seed ^ 0x5eed5eed));
    const t0 = sys.clock.now();
    const end = t0 + o.days * DAY_MS;
    const intervalMs = (o.fileBytes / o.rateBytesPerSec) * 1000;
    /** Open requests by id; a failed one is replaced by a resubmission. */
    const open = new Map<number, SoakFile>();
    const superseded = new Set<SoakFile>();
    const failedRequests: Record<string, number> = {};
    let n = 0;
    let resubmitted = 0;
    let submitting = true;

    // Ctrl-C ends the acquisition early and still drains, verifies and reports; a second one quits.
    let interrupted = false;
    onSignal = (): void => {
      if (interrupted) process.exit(130);
      interrupted = true;
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    faults.start();
    const submit = async (): Promise<void> => {
      let nextProgress = o.progressDays > 0 ? t0 + o.progressDays * DAY_MS : Infinity;
      const wallLimit = o.wallLimitMin > 0 ? wallStart + o.wallLimitMin * 60_000 : Infinity;
      for (let at = t0; at < end; at += intervalMs) {
        if (performance.now() > wallLimit || interrupted) {
          progress(interrupted ? 'interrupted: acquisition stops here; draining and verifying (again to quit at once)' : `wall-time limit of ${o.wallLimitMin} min reached: acquisition stops here`);
          break;
        }
        const wait = at - sys.clock.now();
        if (wait > 0) await sys.clock.sleep(wait);
        const f = await c.submit(n++, o.fileBytes, Math.floor(seeds() * 0x1_0000_0000), o.maxRetry);
        open.set(f.requestId, f);
        if (sys.clock.now() >= nextProgress) {
          progress(`day ${((sys.clock.now() - t0) / DAY_MS).toFixed(1)}: ${n} files submitted, ${open.size} open, ${((performance.now() - wallStart) / 1000).toFixed(0)} s wall`);
          nextProgress += o.progressDays * DAY_MS;
        }
      }
      submitting = false;
    };

    // The client follows its requests (as encp would by long-polling) and resubmits a failed one.
    const watch = async (): Promise<number> => {
      for (;;) {
        await sys.clock.sleep(WATCH_MS);
        if (open.size > 0) {
          const { rows } = await sys.pool.query<{ id: string; state: string; error_code: string | null }>(
            `SELECT id, state, error_code FROM requests WHERE id = ANY($1::bigint[]) AND state IN ('done', 'failed', 'cancelled')`,
            [[...open.keys()]],
          );
          for (const r of rows) {
            const id = Number(r.id);
            const f = open.get(id)!;
            open.delete(id);
            if (r.state === 'done') continue;
            const code = r.error_code ?? r.state;
            failedRequests[code] = (failedRequests[code] ?? 0) + 1;
            superseded.add(f);
            const again = await c.submit(n++, f.size, f.seed, o.maxRetry);
            resubmitted++;
            open.set(again.requestId, again);
          }
        }
        if (!submitting && open.size === 0) return 0;
        if (!submitting && sys.clock.now() > end + DRAIN_LIMIT_MS) return open.size;
      }
    };

    const watching = watch();
    await submit();
    const faultsUnfired = await faults.stop();
    const acquisitionMs = sys.clock.now() - t0;
    const stuck = await watching;
    const virtualMs = sys.clock.now() - t0;
    const { rows: stuckRows } = await sys.pool.query<{ id: string; state: string; mover: string | null; volume_label: string | null; attempts: number; error_code: string | null; error_message: string | null }>(
      `SELECT id, state, mover, volume_label, attempts, error_code, error_message FROM requests WHERE id = ANY($1::bigint[]) ORDER BY id LIMIT 20`,
      [[...open.keys()]],
    );
    progress(`acquisition over after ${(virtualMs / DAY_MS).toFixed(2)} virtual days; verifying ${c.files.length - superseded.size} files`);
    await c.close();

    const finalFiles = c.files.filter((f) => !superseded.has(f));
    const verification = await verifySoak(sys.pool, sys.simulator.store, finalFiles);
    const { rows: [req] } = await sys.pool.query<{ retries: string }>(`SELECT coalesce(sum(greatest(attempts - 1, 0)), 0) AS retries FROM requests WHERE client_host = 'soak'`);
    const { rows: noaccess } = await sys.pool.query<{ label: string }>(`SELECT label FROM volumes WHERE system_inhibit_access = 'NOACCESS' ORDER BY label`);
    const { rows: [full] } = await sys.pool.query<{ n: string }>(`SELECT count(*) AS n FROM volumes WHERE system_inhibit_state = 'full'`);
    kept = o.keep;
    return {
      options: o,
      dir: o.keep ? sys.dir : null,
      virtualMs,
      wallMs: performance.now() - wallStart,
      submitted: n - resubmitted,
      resubmitted,
      filesWritten: verification.verified,
      bytesWritten: verification.verifiedBytes,
      faultsInjected: { ...faults.injected },
      faultsUnfired,
      retries: Number(req?.retries ?? 0),
      failedRequests,
      volumesNoaccess: noaccess.map((v) => v.label),
      volumesFull: Number(full?.n ?? 0),
      mounts: sys.mounts(),
      clockJumps: sys.clock.jumps,
      stuck,
      stuckRequests: stuckRows.map((r) => ({ id: Number(r.id), state: r.state, mover: r.mover, volume: r.volume_label, attempts: r.attempts, error: r.error_code ? `${r.error_code}: ${r.error_message}` : null })),
      acquisitionMs,
      queriesPerFile: Math.round((sys.queries() / Math.max(1, verification.verified)) * 10) / 10,
      verification,
      filesLost: finalFiles.length - verification.verified,
    };
  } finally {
    if (onSignal) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    await client?.close().catch(() => undefined);
    progress('stopping');
    await sys.stop();
    if (!kept) await removeSoakDir(sys.dir);
  }
}
