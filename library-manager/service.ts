import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type pg from 'pg';
import { alarmKey, raiseAlarm } from '../src/alarms/index.ts';
import { isDbUnavailable, type DbAvailability } from '../src/db/availability.ts';
import { isTapestryError, TapestryError, type ErrorCode } from '../src/errors/index.ts';
import { errorSpec, isErrorCode } from '../src/errors/codes.ts';
import type { Logger } from '../src/logging/index.ts';
import { PROTOCOL_VERSION, type Envelope, type Hello, type WorkDone } from '../src/protocol/index.ts';
import type { Clock } from '../src/time/clock.ts';
import { FramedSession } from './mover-session.ts';
import { lmAction, needsRobot } from '../media-changer/robot-error-policy.ts';
import { assignRequest, finishRequest, finishSucceeded, getRequest, insertRequest, openTransferId, publishAssignment, requeue, requeueForMover, requeueUnclaimed, requeueUnclaimedOfMover, type AssignedFile, type NewRequest, type RequestRow } from './queue-repo.ts';
import { offlineMovers, passSnapshot, volumeFactsOf, type ShelvedRead, type VolumeFacts } from './pass-snapshot.ts';
import { Leadership } from './leadership.ts';
import { FaultHandler, type FaultVolumeClerk } from './fault-handler.ts';
import { DEFAULT_FAULT_THRESHOLDS, RETRY_ELSEWHERE_CODES, type FaultThresholds } from './fault-policy.ts';
import { lastFailedMovers } from './fault-repo.ts';
import type { RequestEvents } from './request-events.ts';
import { decide } from './scheduler.ts';
import type { LibraryState, MoverView, QueuedRequest, SchedulerConfig } from './types.ts';

/** What the library manager needs from the volume clerk (injected; the clerk owns the volumes table). */
export interface LmVolumeClerk {
  /** The next writable volume for the family, never one in `veto` (NOVOLUME when none). */
  nextWriteVolume(req: { library: string; storageGroup: string; fileFamily: string; wrapper: string; size: number; veto: readonly string[] }): Promise<{ label: string }>;
  /** A system inhibit with its history row (NOACCESS, full, readonly after drive and media errors: fault-handler.ts). */
  setInhibit: FaultVolumeClerk['setInhibit'];
}

/** Where an assigned request's data goes: encp connects here with the token. */
export interface Assignment {
  readonly mover: string;
  readonly dataAddress: string;
  readonly token: string;
  readonly volume: string;
}

export interface RequestView {
  readonly id: number;
  readonly uniqueId: string;
  readonly state: RequestRow['state'];
  readonly kind: RequestRow['kind'];
  readonly attempts: number;
  readonly assignment: Assignment | null;
  readonly result: Record<string, unknown> | null;
  readonly error: { code: string; message: string } | null;
}

/** The `transfers` row of the assignment in flight, for accounting and reports. */
interface InFlight {
  readonly transferId: number;
}

interface MoverSlot {
  readonly name: string;
  readonly hello: Hello;
  readonly session: FramedSession;
  state: 'idle' | 'have_bound' | 'busy' | 'error' | 'offline';
  volume: string | null;
  /** File number under the head after the last read (the scheduler sweeps from here). */
  location: number;
  lastKind?: 'read' | 'write';
  boundSince?: number;
  dismountDelayMs?: number;
  /** The request sent in an Assign that has not come back in a WorkDone. */
  requestId: number | null;
  inFlight: InFlight | null;
  /**
   * The volume of the assignment in flight, known before the mover reports it
   * mounted: it is busy from the moment it is assigned, or a second drive could
   * be given the same tape.
   */
  assignedVolume: string | null;
  dismounting: boolean;
  /** Requests whose WorkDone the mover said (in its Hello) it will re-send: not re-queued meanwhile. */
  claims: number[];
  /**
   * A failed WorkDone is being recorded: no new work for this mover until its
   * suspect pair and failure count are in (the mover reports itself idle first).
   */
  settling?: boolean;
  /** A WorkDone is being recorded: its end schedules, so a state report meanwhile does not (one pass, after the writes). */
  recording?: boolean;
  /** The leadership term the session belongs to. */
  readonly term: number;
}

export interface LibraryManagerDeps {
  readonly library: string;
  readonly pool: pg.Pool;
  readonly clock: Clock;
  readonly log: Logger;
  readonly volumes: LmVolumeClerk;
  readonly config: SchedulerConfig;
  /** A write that failed for good: the file clerk abandons its 'writing' row. */
  readonly onWriteFailed?: (bfid: string) => Promise<unknown>;
  /** A mover silent this long is dead: its request goes back to the queue. */
  readonly heartbeatTimeoutMs?: number;
  /** The process's LISTEN on request changes (the request API's long-polls); without it, waits re-read every second. */
  readonly events?: RequestEvents;
  /** Where a leader listens for movers (port 0: any free port; the address is published in `libraries.lm_address`). */
  readonly moverHost?: string;
  readonly moverPort?: number;
  /** How often a standby tries for leadership (and a leader checks its lock session). */
  readonly electionRetryMs?: number;
  /**
   * After taking over, how long assigned requests wait for their mover to
   * reconnect and claim them before they go back to the queue (default: the
   * heartbeat timeout).
   */
  readonly takeoverGraceMs?: number;
  /** The database watcher: no scheduling passes while it is down, one as soon as it is back. */
  readonly availability?: DbAvailability;
  /** Drive and media fault thresholds (`libraries.<name>.faults`; Enstore's defaults when omitted). */
  readonly faults?: FaultThresholds;
}

/** A long-poll re-reads its row at least this often, in case a NOTIFY was missed. */
const WAIT_RECHECK_MS = 5000;

/** The channel the leader LISTENs on: new or re-prioritised queued work, a library state change (payload: the library). */
export const QUEUE_CHANNEL = 'tapestry_queue';

/**
 * One library manager per library (DESIGN §9, Enstore's library_manager): the
 * request queue in Postgres, mover sessions over TCP, and the scheduler core
 * deciding each idle or bound mover's next step.
 */
export class LibraryManager {
  private readonly movers = new Map<string, MoverSlot>();
  /** Movers an operator took offline (their drive's `drives.state = 'offline'`): no new work. */
  private readonly offline = new Set<string>();
  /** Told (NOTIFY) that the queue changed: the drives' online/offline states may have changed in another process. */
  private offlineStale = false;
  private server: net.Server | null = null;
  private scheduling: Promise<void> = Promise.resolve();
  private rescheduleWanted = false;
  /** The next scheduling pass the scheduler asked for (dismount delay, mount age): on the injected clock, so a virtual clock drives it. */
  private wakeTimer: AbortController | null = null;
  /** Told, on every scheduling pass, which shelved volumes queued reads wait for (the shelf component raises the alarm). */
  private onShelved: ((held: readonly { label: string; shelf: string | null }[]) => void) | null = null;
  /** Volumes on their way out of the library (an eject job): not mounted for new work. */
  private leaving: () => ReadonlySet<string> = () => new Set();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private graceTimer: NodeJS.Timeout | null = null;
  /** Until then (a few seconds after leading began) a mover may still be on its way back with a tape in its drive. */
  private graceUntil = 0;
  private stopped = false;
  private readonly election: Leadership;
  /** Leading: holds the library's advisory lock, listens for movers, schedules. Otherwise a standby. */
  private leading = false;
  /** Counts leadership terms: a session of an earlier term closing must not touch the queue. */
  private term = 0;
  private readonly log: Logger;
  /** Suspect pairs, NOACCESS, broken, movers offline after failures (fault-handler.ts). */
  private readonly faults: FaultHandler;
  /** `host:port` movers connect to while leading; empty on a standby. */
  moverPort = '';

  constructor(private readonly deps: LibraryManagerDeps) {
    this.log = deps.log.child({ component: 'library-manager', library: deps.library });
    this.faults = new FaultHandler({
      library: deps.library, pool: deps.pool, clock: deps.clock, log: this.log, thresholds: deps.faults ?? DEFAULT_FAULT_THRESHOLDS, volumes: deps.volumes,
      fail: (row, code, message) => this.fail(row, code, message),
      takeOffline: (mover) => this.setMoverAdminState(mover, 'offline'),
      notify: (id) => this.notify(id),
    });
    // Work that queued up while the database was away starts when it returns.
    deps.availability?.onChange((state) => state === 'up' && this.schedule());
    deps.pool.on('acquire', this.trackBackend);
    deps.pool.on('remove', this.forgetBackend);
    this.election = new Leadership({
      pool: deps.pool,
      library: deps.library,
      log: this.log,
      retryMs: deps.electionRetryMs ?? 1000,
      onLead: (client) => this.lead(client),
      onLose: (reason) => void this.stopLeading(reason),
    });
  }

  get library(): string {
    return this.deps.library;
  }

  /**
   * Take part in the election for this library (docs/faults-process.md):
   * the holder of the library's advisory lock leads; the others stand by
   * and try again every second. Resolves once the first attempt is made,
   * leading or not.
   */
  async start(): Promise<void> {
    await this.election.start();
  }

  /** Whether this instance leads its library now. */
  get isLeader(): boolean {
    return this.leading;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.deps.pool.off('acquire', this.trackBackend);
    this.deps.pool.off('remove', this.forgetBackend);
    await this.election.stop();
    await this.stopLeading('library manager stopping');
  }

  /**
   * PostgreSQL backends of this process's pool. A queue notification one of
   * them caused is a change this process made, and every such change already
   * asks for a pass itself (submit, re-queue, priority, a recorded WorkDone):
   * answering the echo too doubled the passes per file. Notifications from
   * other processes (an API instance standing by) still schedule.
   */
  private readonly ownBackends = new Set<number>();
  private readonly trackBackend = (client: pg.PoolClient): void => {
    const pid = (client as unknown as { processID: number | null }).processID;
    if (pid !== null) this.ownBackends.add(pid);
  };
  private readonly forgetBackend = (client: pg.PoolClient): void => {
    const pid = (client as unknown as { processID: number | null }).processID;
    if (pid !== null) this.ownBackends.delete(pid);
  };

  /** Won the lock: listen for movers, publish the address, adopt what the movers claim, schedule. */
  private async lead(client: pg.Client): Promise<void> {
    const term = ++this.term;
    await this.loadOffline();
    const server = net.createServer((socket) => this.accept(socket, term));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.deps.moverPort ?? 0, this.deps.moverHost ?? '127.0.0.1', () => resolve());
    });
    this.server = server;
    const host = this.deps.moverHost ?? '127.0.0.1';
    const address = `${host.includes(':') ? `[${host}]` : host}:${(server.address() as net.AddressInfo).port}`;
    client.on('notification', (msg) => {
      // The operator's mover online/offline may have been set through another process: re-read it too.
      if (msg.channel === QUEUE_CHANNEL && msg.payload === this.deps.library && this.term === term && !this.ownBackends.has(msg.processId)) {
        // The next pass's snapshot re-reads the drives' states; a pass that finds every mover busy reads them alone.
        this.offlineStale = true;
        this.schedule();
      }
    });
    await client.query(`LISTEN ${QUEUE_CHANNEL}`);
    this.leading = true;
    this.moverPort = address;
    await this.deps.pool.query('UPDATE libraries SET lm_address = $2, lm_started_at = now() WHERE name = $1', [this.deps.library, address]);
    const timeout = this.deps.heartbeatTimeoutMs ?? 30_000;
    this.heartbeatTimer = setInterval(() => this.reapSilentMovers(timeout), Math.max(250, timeout / 4));
    // Requests a previous leader left at movers are not re-queued blindly: a
    // mover still working on one claims it in its Hello. What no mover has
    // claimed when the grace period ends goes back to the queue.
    const grace = this.deps.takeoverGraceMs ?? timeout;
    this.graceTimer = setTimeout(() => void this.requeueUnclaimedAfterGrace(term), grace);
    // Movers reconnect within about a second (their backoff is capped at 1 s):
    // a few seconds cover a tape's owner coming back after a take-over.
    this.graceUntil = Date.now() + Math.min(grace, 5_000);
    this.log.warn({ event: 'lm.listening', address, term, graceMs: grace });
    this.schedule();
  }

  private async requeueUnclaimedAfterGrace(term: number): Promise<void> {
    if (this.term !== term || !this.leading) return;
    const claimed = [...this.movers.values()].flatMap((m) => [m.requestId, ...m.claims]).filter((id): id is number => id !== null);
    try {
      const ids = await requeueUnclaimed(this.deps.pool, this.deps.library, claimed, { code: 'DRIVE_ERROR', message: 'library manager take-over: no mover claimed this request' });
      if (ids.length > 0) this.log.warn({ event: 'lm.requeued_unclaimed', count: ids.length, ids });
      this.schedule();
    } catch (err) {
      this.log.error({ event: 'lm.requeue_unclaimed_failed', err });
    }
  }

  /**
   * Stop leading at once (the lock's session is gone: another instance may
   * lead already). Mover sessions close — they reconnect to the new leader —
   * and nothing of the queue is touched: the new leader owns it.
   */
  private async stopLeading(reason: string): Promise<void> {
    const wasLeading = this.leading;
    this.leading = false;
    this.term++;
    this.moverPort = '';
    this.wakeTimer?.abort();
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.wakeTimer = this.heartbeatTimer = this.graceTimer = null;
    const server = this.server;
    this.server = null;
    for (const slot of [...this.movers.values()]) slot.session.close(reason);
    this.movers.clear();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await this.scheduling.catch(() => undefined);
    if (wasLeading) this.log.warn({ event: 'lm.standing_down', reason });
  }

  private async loadOffline(): Promise<void> {
    this.setOffline(await offlineMovers(this.deps.pool, this.deps.library));
  }

  private setOffline(movers: ReadonlySet<string>): void {
    this.offline.clear();
    for (const m of movers) this.offline.add(m);
    this.offlineStale = false;
  }

  // --- intake ----------------------------------------------------------------------

  async libraryState(): Promise<LibraryState> {
    const { rows } = await this.deps.pool.query<{ state: LibraryState }>('SELECT state FROM libraries WHERE name = $1', [this.deps.library]);
    return rows[0]?.state ?? 'locked';
  }

  /** An operator changes the state (`broken` is only cleared this way, never set: the system sets it). */
  async setLibraryState(state: Exclude<LibraryState, 'broken'>, reason: string | null): Promise<{ library: string; state: string; previous: string }> {
    const { rows } = await this.deps.pool.query<{ previous: string }>(
      `UPDATE libraries l SET state = $2, state_reason = $3, state_changed_at = now()
       FROM (SELECT state AS previous FROM libraries WHERE name = $1 FOR UPDATE) p
       WHERE l.name = $1 RETURNING p.previous`,
      [this.deps.library, state, reason],
    );
    this.log.warn({ event: 'lm.state', state, previous: rows[0]?.previous, reason });
    this.schedule();
    return { library: this.deps.library, state, previous: rows[0]?.previous ?? 'unknown' };
  }

  /** `library reset`: a broken library is unlocked again, its NOACCESS count starts afresh, its BROKEN alarm resolved. */
  async resetLibrary(by: string): Promise<{ library: string; state: string; previous: string }> {
    const r = await this.faults.resetLibrary(by);
    if (!r) throw new TapestryError('NOT_FOUND', `no library "${this.deps.library}"`, { context: { library: this.deps.library } });
    this.schedule();
    return r;
  }

  /**
   * Queue a request (Enstore's intake rules): refused when the library is
   * locked/broken or refuses this kind; a duplicate unique_id returns the first.
   * `ignore` answers OK and drops it.
   */
  async submit(req: NewRequest): Promise<{ row: RequestRow; duplicate: boolean; dropped: boolean }> {
    const state = await this.libraryState();
    if (state === 'locked' || state === 'broken' || (state === 'noread' && req.kind === 'read') || (state === 'nowrite' && req.kind === 'write')) {
      throw new TapestryError(state === 'broken' ? 'BROKEN' : 'LIBRARY_LOCKED', `library ${this.deps.library} is ${state}; ${req.kind} requests are not accepted`, {
        context: { library: this.deps.library, state },
      });
    }
    const result = await insertRequest(this.deps.pool, req);
    if (state === 'ignore' && !result.duplicate) {
      await finishRequest(this.deps.pool, result.row.id, { ok: false, code: 'LIBRARY_LOCKED', message: `library ${this.deps.library} is in state ignore: request dropped` });
      return { ...result, dropped: true };
    }
    this.log.info({ event: 'lm.queued', requestId: result.row.id, kind: req.kind, key: req.key, duplicate: result.duplicate });
    this.schedule();
    return { ...result, dropped: false };
  }

  async view(id: number): Promise<RequestView | null> {
    const row = await getRequest(this.deps.pool, id);
    if (!row || row.library !== this.deps.library) return null;
    const open = row.state === 'assigned' || row.state === 'active';
    return {
      id: row.id,
      uniqueId: row.uniqueId,
      state: row.state,
      kind: row.kind,
      attempts: row.attempts,
      // From the row, not from memory: the leader may be another process.
      assignment: open && row.token && row.dataAddress && row.mover && row.volumeLabel
        ? { mover: row.mover, dataAddress: row.dataAddress, token: row.token, volume: row.volumeLabel }
        : null,
      result: row.result,
      error: row.errorCode && (row.state === 'failed' || row.state === 'queued' || row.state === 'cancelled') ? { code: row.errorCode, message: row.errorMessage ?? '' } : null,
    };
  }

  /**
   * Long-poll: resolve when the request's state or assignment differs from
   * `known` (or at once when it already does), or after `timeoutMs`.
   */
  async wait(id: number, known: { state?: string; token?: string }, timeoutMs: number): Promise<RequestView | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const view = await this.view(id);
      if (!view) return null;
      const changed = view.state !== known.state || (view.assignment?.token ?? undefined) !== known.token;
      const left = deadline - Date.now();
      if (changed || left <= 0 || this.stopped) return view;
      // Woken by the row's NOTIFY (whichever process changed it); the re-read
      // every few seconds is the safety net for a notification lost while
      // the LISTEN connection was being re-made.
      const events = this.deps.events;
      if (events) await events.next(id, Math.min(left, WAIT_RECHECK_MS));
      else await new Promise((r) => setTimeout(r, Math.min(left, 1000)));
    }
  }

  /** A change made here: wake this process's long-polls without waiting for the NOTIFY round trip. */
  private notify(id: number): void {
    this.deps.events?.wake(id);
  }

  /** Connected movers, for reports; `adminState` is the operator's online/offline. */
  moverSummary(): { name: string; state: string; adminState: 'online' | 'offline'; volume: string | null; requestId: number | null; dataAddress: string }[] {
    return [...this.movers.values()].map((m) => ({
      name: m.name, state: m.state, adminState: this.offline.has(m.name) ? 'offline' : 'online', volume: m.volume, requestId: m.requestId, dataAddress: m.hello.dataAddress,
    }));
  }

  // --- operator administration (Enstore's `library --priority/--delete-work`, `mover --offline`) ---

  /** A queued request gets another base priority; work already at a mover is not touched. */
  async setPriority(id: number, priority: number): Promise<RequestRow> {
    const { rowCount } = await this.deps.pool.query(`UPDATE requests SET priority = $3 WHERE id = $1 AND library = $2 AND state = 'queued'`, [id, this.deps.library, priority]);
    if (rowCount !== 1) throw await this.notQueued(id, 'change the priority of');
    this.log.warn({ event: 'lm.priority', requestId: id, priority });
    this.schedule();
    return (await getRequest(this.deps.pool, id))!;
  }

  /**
   * queued → cancelled. The waiting encp sees the state and fails with CANCELLED;
   * a write's file entry is given up so its path is free again.
   */
  async cancel(id: number, by: string, reason: string | null): Promise<RequestRow> {
    const message = `request ${id} was cancelled by ${by}${reason ? `: ${reason}` : ''}`;
    const { rows } = await this.deps.pool.query<{ kind: string; bfid: string | null }>(
      `UPDATE requests SET state = 'cancelled', error_code = 'CANCELLED', error_message = $3, finished_at = now()
       WHERE id = $1 AND library = $2 AND state = 'queued' RETURNING kind, bfid`,
      [id, this.deps.library, message],
    );
    const row = rows[0];
    if (!row) throw await this.notQueued(id, 'cancel');
    if (row.kind === 'write' && row.bfid) await this.deps.onWriteFailed?.(row.bfid).catch((err) => this.log.warn({ event: 'lm.abandon_failed', bfid: row.bfid, err }));
    this.log.warn({ event: 'lm.cancelled', requestId: id, by, reason });
    this.notify(id);
    return (await getRequest(this.deps.pool, id))!;
  }

  private async notQueued(id: number, what: string): Promise<TapestryError> {
    const row = await getRequest(this.deps.pool, id);
    if (!row || row.library !== this.deps.library) return new TapestryError('NOT_FOUND', `no request ${id} in library ${this.deps.library}`, { context: { id } });
    const where = row.mover ? ` on mover ${row.mover}` : '';
    return new TapestryError('CONFLICT', `request ${id} is ${row.state}${where}; only a queued request can be changed, cannot ${what} it`, { context: { id, state: row.state } });
  }

  /**
   * Take a mover offline (no new work; a transfer in flight finishes, then its
   * tape is dismounted) or back online. Kept as its drive's state, so a
   * reconnecting mover or a restarted library manager does not undo it.
   */
  async setMoverAdminState(mover: string, state: 'online' | 'offline'): Promise<{ mover: string; state: string; previous: string; busy: boolean }> {
    const { rows } = await this.deps.pool.query<{ previous: string }>(
      `WITH m AS (SELECT d.name, d.state AS previous FROM movers m JOIN drives d ON d.name = m.drive WHERE m.name = $1 AND m.library = $2 FOR UPDATE OF d)
       UPDATE drives d SET state = CASE WHEN $3 = 'offline' THEN 'offline' WHEN d.state IN ('offline', 'down') THEN 'up' ELSE d.state END, updated_at = now()
       FROM m WHERE d.name = m.name RETURNING m.previous`,
      [mover, this.deps.library, state],
    );
    if (!rows[0]) throw new TapestryError('NOT_FOUND', `no mover "${mover}" in library ${this.deps.library}`, { context: { mover } });
    if (state === 'offline') this.offline.add(mover);
    else this.offline.delete(mover);
    // Back online: the drive was looked at, its failure counts and suspect pairs start afresh.
    if (state === 'online') await this.faults.moverOnline(mover, 'operator');
    // The leader may be another process: it re-reads the drives' states when told.
    await this.deps.pool.query('SELECT pg_notify($1, $2)', [QUEUE_CHANNEL, this.deps.library]);
    const slot = this.movers.get(mover);
    this.log.warn({ event: 'lm.mover_admin', mover, state, busy: slot?.requestId != null });
    this.schedule();
    return { mover, state, previous: rows[0].previous === 'offline' ? 'offline' : 'online', busy: slot !== undefined && slot.requestId !== null };
  }

  // --- mover sessions -----------------------------------------------------------------

  private accept(socket: net.Socket, term: number): void {
    let slot: MoverSlot | null = null;
    const session: FramedSession = new FramedSession(
      socket,
      this.log,
      (env) => {
        if (slot === null) {
          slot = this.hello(session, env, term);
          return;
        }
        this.onMessage(slot, env);
      },
      (reason) => {
        if (slot !== null) void this.moverGone(slot, reason);
      },
      this.deps.clock,
    );
  }

  private hello(session: FramedSession, env: Envelope, term: number): MoverSlot {
    if (env.type !== 'hello') throw new TapestryError('MALFORMED', `the first frame of a mover session must be a Hello, got ${env.type}`);
    const hello = env.hello;
    if (hello.protocolVersion !== PROTOCOL_VERSION) throw new TapestryError('MALFORMED', `protocol version ${hello.protocolVersion}; this library manager speaks ${PROTOCOL_VERSION}`);
    if (hello.library !== this.deps.library) throw new TapestryError('USERERROR', `mover ${hello.mover} serves library ${hello.library}, this is ${this.deps.library}`);
    // A connection that raced with losing the leadership: the mover retries and finds the new leader.
    if (!this.leading || term !== this.term) throw new TapestryError('UNAVAILABLE', `this library manager of ${this.deps.library} no longer leads; reconnect to libraries.lm_address`);
    const old = this.movers.get(hello.mover);
    if (old) old.session.close('replaced by a new session');
    // The mover's own word on what it holds (a take-over, or a reconnect):
    // its request in flight is adopted at once so the scheduler gives it
    // nothing else; adopt() checks it against the database.
    const inFlightId = hello.requestId ? Number(hello.requestId) : null;
    const slot: MoverSlot = {
      name: hello.mover, hello, session, state: inFlightId !== null ? 'busy' : 'idle', volume: null, location: 0, requestId: inFlightId, inFlight: null,
      assignedVolume: null, dismounting: false, claims: (hello.doneRequestIds ?? []).map(Number), term,
    };
    this.movers.set(hello.mover, slot);
    session.send('ack', { ackSeq: env.seq });
    void this.adopt(slot);
    this.log.info({ event: 'lm.mover_connected', mover: hello.mover, dataAddress: hello.dataAddress });
    void this.deps.pool.query(`UPDATE movers SET state = 'idle', host = $2, data_address = $3, last_seen = now(), updated_at = now() WHERE name = $1`, [hello.mover, hello.host, hello.dataAddress]).catch(() => undefined);
    return slot;
  }

  private onMessage(slot: MoverSlot, env: Envelope): void {
    switch (env.type) {
      case 'heartbeat':
        slot.session.send('heartbeat', { sentAtMs: this.deps.clock.now() });
        return;
      case 'state': {
        const wasBound = slot.volume;
        slot.state = env.state.state;
        slot.volume = env.state.volume;
        if (slot.volume !== wasBound) slot.location = 0;
        if (slot.state !== 'have_bound') slot.dismounting = false;
        if ((slot.state === 'idle' || slot.state === 'have_bound') && !slot.recording) this.schedule();
        return;
      }
      case 'done':
        void this.workDone(slot, env.done, env.seq);
        return;
      case 'ack':
        return;
      case 'error':
        this.log.warn({ event: 'lm.mover_error', mover: slot.name, code: env.error.code, message: env.error.message });
        return;
      default:
        throw new TapestryError('MALFORMED', `a mover may not send ${env.type}`);
    }
  }

  /**
   * Check a Hello's claims against the database: the request in flight is
   * adopted when the row still gives it to this mover (its transfers row is
   * found again); everything else the row gives this mover was never started
   * there and goes back to the queue now.
   */
  private async adopt(slot: MoverSlot): Promise<void> {
    try {
      if (slot.requestId !== null) {
        const id = slot.requestId;
        const row = await getRequest(this.deps.pool, id);
        if (row && (row.state === 'assigned' || row.state === 'active') && row.mover === slot.name) {
          const { rows } = await this.deps.pool.query<{ id: number }>(
            'SELECT id FROM transfers WHERE request_id = $1 AND mover = $2 AND finished_at IS NULL ORDER BY id DESC LIMIT 1',
            [id, slot.name],
          );
          if (slot.requestId === id) {
            slot.inFlight = rows[0] ? { transferId: rows[0].id } : null;
            slot.assignedVolume = row.volumeLabel;
          }
          this.log.warn({ event: 'lm.adopted', mover: slot.name, requestId: id });
        } else {
          // Given away meanwhile (the grace period ended first): its WorkDone will be ignored.
          this.log.error({ event: 'lm.claim_refused', mover: slot.name, requestId: id, state: row?.state, owner: row?.mover });
          if (slot.requestId === id) slot.requestId = null;
        }
      }
      const keep = [slot.requestId, ...slot.claims].filter((id): id is number => id !== null);
      const ids = await requeueUnclaimedOfMover(this.deps.pool, slot.name, keep, { code: 'DRIVE_ERROR', message: `mover ${slot.name} reconnected without this request` });
      if (ids.length > 0) this.log.warn({ event: 'lm.requeued_unclaimed', mover: slot.name, ids });
    } catch (err) {
      this.log.error({ event: 'lm.adopt_failed', mover: slot.name, err });
    }
    this.schedule();
  }

  private async workDone(slot: MoverSlot, done: WorkDone, seq = 0): Promise<void> {
    const id = Number(done.requestId);
    // A re-sent WorkDone (after a reconnect) is not the mover's current request.
    const current = slot.requestId === id;
    const inFlight = current ? slot.inFlight : null;
    if (current) {
      slot.requestId = null;
      slot.inFlight = null;
      slot.assignedVolume = null;
      slot.settling = !done.ok;
      slot.recording = true;
      // Bound from now: the slot is open to a pass from here on, and a pass
      // during the writes below must not measure the dismount delay from the
      // previous request (it dismounted a tape whose next file was due).
      slot.boundSince = this.deps.clock.now();
    }
    slot.claims = slot.claims.filter((c) => c !== id);
    // Through a database outage these writes are repeated until they land
    // (each is guarded by the request's state, so a repeat is harmless).
    for (let attempt = 1; ; attempt++) {
    try {
      // A success is one statement, guarded by the request being open at this
      // mover; when that guard fails, or the WorkDone is a failure, the row is looked at.
      if (done.ok) {
        const result = { bfid: done.bfid, volume: done.volume, fileNo: done.fileNo, size: done.bytes, crc: done.crc, drive: done.drive, mover: slot.name };
        if (await finishSucceeded(this.deps.pool, { id, mover: slot.name, transferId: inFlight?.transferId ?? null, result, bytes: done.bytes, crc: done.crc, fileNo: done.fileNo, bfid: done.bfid || null })) {
          slot.location = done.fileNo + 1;
          if (!current) slot.boundSince = this.deps.clock.now();
          this.log.info({ event: 'lm.done', mover: slot.name, requestId: id, ok: true, volume: done.volume, fileNo: done.fileNo });
          slot.session.send('ack', { ackSeq: seq });
          return;
        }
      }
      // Only the mover the row names may finish it: a WorkDone for a request
      // re-queued and given to someone else meanwhile is acknowledged and dropped.
      const row = await getRequest(this.deps.pool, id);
      if (done.ok || !row || (row.state !== 'assigned' && row.state !== 'active') || row.mover !== slot.name) {
        this.log.error({ event: 'lm.stale_done', mover: slot.name, requestId: id, ok: done.ok, state: row?.state, owner: row?.mover });
        slot.session.send('ack', { ackSeq: seq });
        return;
      }
      const transferId = inFlight?.transferId ?? (await openTransferId(this.deps.pool, id, slot.name));
      if (transferId !== null) {
        await this.deps.pool.query(
          `UPDATE transfers SET finished_at = now(), ok = false, bytes = $2, crc_adler32 = NULL, file_no = NULL, bfid = coalesce($3, bfid), error_code = $4, error_message = $5 WHERE id = $1`,
          [transferId, done.bytes, done.bfid, done.errorCode, done.message],
        );
      }
      if (done.errorCode === 'CRC_MISMATCH') {
        // Data on tape (or on its way) is not what the catalogue says: an operator must look.
        await raiseAlarm(this.deps.pool, {
          // Keyed by the file, as the file clerk keys its own: one cause, one alarm.
          key: alarmKey('CRC_MISMATCH', done.bfid || done.volume || 'unknown'),
          severity: 'error',
          code: 'CRC_MISMATCH',
          message: `CRC mismatch on ${done.volume} (bfid ${done.bfid}) with mover ${slot.name}: ${done.message}`,
          detail: { volume: done.volume, bfid: done.bfid, mover: slot.name, requestId: id },
        });
      }
      if (!(await this.robotFailure(slot, id, done)) && !(await this.faults.failed(slot.name, id, done))) await this.failOrRetry(id, done.errorCode ?? 'INTERNAL', done.message, slot.name);
      if (!current) slot.boundSince = this.deps.clock.now();
      this.log.info({ event: 'lm.done', mover: slot.name, requestId: id, ok: false, code: done.errorCode, volume: done.volume, fileNo: done.fileNo });
      // Recorded: the mover may forget it. Unacknowledged, it is re-sent after the next Hello.
      slot.session.send('ack', { ackSeq: seq });
    } catch (err) {
      // A session of an earlier term: the mover re-sends this WorkDone (unacknowledged) to the next leader.
      if (slot.term === this.term && (await this.waitForDatabase(err, attempt, `the outcome of request ${id}`))) continue;
      this.log.error({ event: 'lm.done_failed', requestId: id, err });
    } finally {
      this.notify(id);
      // Recorded (or given up): the mover is free, and the request no longer
      // holds its family's width. The one pass for this WorkDone runs now.
      slot.settling = false;
      slot.recording = false;
      this.schedule();
    }
    return;
    }
  }

  /**
   * Robot failures that are the robot's fault, not the request's
   * (media-changer/robot-error-policy.ts `lmAction`): DRIVE_DOWN takes the
   * mover's drive down (like `mover offline`, kept in drives.state); both it and
   * ROBOT_OPERATOR re-queue the request without using up an attempt. The media
   * changer has raised the alarm. False: not such a failure, the usual rule applies.
   */
  private async robotFailure(slot: MoverSlot, id: number, done: WorkDone): Promise<boolean> {
    const action = lmAction(done.errorCode);
    if (action === 'default') return false;
    if (action === 'drive-down') {
      await this.deps.pool.query(
        `UPDATE drives SET state = 'down', last_error = $2, updated_at = now() WHERE name = (SELECT drive FROM movers WHERE name = $1)`,
        [slot.name, done.message],
      );
      this.offline.add(slot.name);
    }
    if (await requeue(this.deps.pool, id, { code: done.errorCode!, message: `${done.message} (on ${slot.name})` })) {
      await this.deps.pool.query('UPDATE requests SET attempts = greatest(attempts - 1, 0) WHERE id = $1', [id]);
    }
    this.log.warn({ event: 'lm.robot_failure', requestId: id, code: done.errorCode, action, mover: slot.name });
    return true;
  }

  /** Retryable errors go back to the queue until the request's max_retry is spent. */
  private async failOrRetry(id: number, code: string, message: string, mover: string): Promise<void> {
    const row = await getRequest(this.deps.pool, id);
    if (!row) return;
    const retryable = isErrorCode(code) && errorSpec(code).retryable;
    if (retryable && row.attempts <= row.maxRetry) {
      await requeue(this.deps.pool, id, { code, message: `${message} (attempt ${row.attempts} on ${mover})` });
      this.log.warn({ event: 'lm.retry', requestId: id, code, attempts: row.attempts, mover });
    } else {
      const final: ErrorCode = retryable ? 'TOO_MANY_RETRIES' : isErrorCode(code) ? code : 'INTERNAL';
      await this.fail(row, final, retryable ? `${message}; gave up after ${row.attempts} attempts` : message);
    }
  }

  /** Fail a request for good; a write's file entry is abandoned so its path is free again. */
  private async fail(row: RequestRow, code: string, message: string): Promise<void> {
    await finishRequest(this.deps.pool, row.id, { ok: false, code, message });
    if (row.kind === 'write' && row.bfid) await this.deps.onWriteFailed?.(row.bfid).catch((err) => this.log.warn({ event: 'lm.abandon_failed', bfid: row.bfid, err }));
  }

  private async moverGone(slot: MoverSlot, reason: string): Promise<void> {
    if (this.movers.get(slot.name) === slot) this.movers.delete(slot.name);
    this.log.warn({ event: 'lm.mover_gone', mover: slot.name, reason, requestId: slot.requestId });
    // Stopping, or no longer leading: the sessions close because we close
    // them. What they held stays assigned; the next leader adopts it (the
    // mover claims it in its Hello) or re-queues it after the grace period.
    if (this.stopped || !this.leading || slot.term !== this.term) return;
    for (let attempt = 1; ; attempt++) {
    try {
      if (slot.inFlight) {
        await this.deps.pool.query(`UPDATE transfers SET finished_at = now(), ok = false, error_code = 'DRIVE_ERROR', error_message = $2 WHERE id = $1 AND finished_at IS NULL`, [slot.inFlight.transferId, `mover went away: ${reason}`]);
      }
      const ids = await requeueForMover(this.deps.pool, slot.name, { code: 'DRIVE_ERROR', message: `mover ${slot.name} went away: ${reason}` });
      for (const id of ids) this.notify(id);
      await this.deps.pool.query(`UPDATE movers SET state = 'offline', updated_at = now() WHERE name = $1`, [slot.name]);
    } catch (err) {
      if (slot.term === this.term && (await this.waitForDatabase(err, attempt, `re-queueing the work of mover ${slot.name}`))) continue;
      this.log.error({ event: 'lm.requeue_failed', mover: slot.name, err });
    }
    break;
    }
    this.schedule();
  }

  /**
   * The database is unreachable and this manager still has to record what a
   * mover told it: wait (doubling backoff, 250 ms to 5 s) and say whether to
   * try again. False for any other error, or once stopping.
   */
  private async waitForDatabase(err: unknown, attempt: number, what: string): Promise<boolean> {
    if (this.stopped || !isDbUnavailable(err)) return false;
    this.deps.availability?.reportFailure(err);
    if (attempt === 1) this.log.warn({ event: 'lm.db_retrying', what, err: (err as Error).message });
    await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** (attempt - 1), 5_000)));
    return !this.stopped;
  }

  private reapSilentMovers(timeoutMs: number): void {
    const now = this.deps.clock.now();
    for (const slot of this.movers.values()) {
      if (now - slot.session.lastSeen > timeoutMs) slot.session.close(`no heartbeat for ${now - slot.session.lastSeen} ms`);
    }
  }

  // --- scheduling ----------------------------------------------------------------------

  /** Ask for a scheduling pass; passes run one at a time, and a request during one causes another. */
  schedule(): void {
    // Only the leader schedules; a standby's submit/cancel reach the leader through the database (NOTIFY).
    if (this.stopped || !this.leading) return;
    this.rescheduleWanted = true;
    this.scheduling = this.scheduling.then(async () => {
      while (this.rescheduleWanted && !this.stopped && this.leading) {
        this.rescheduleWanted = false;
        await this.pass().catch((err) => {
          // An outage is logged once by the availability watcher, not once per pass.
          if (isDbUnavailable(err) && this.deps.availability) this.deps.availability.reportFailure(err);
          else this.log.error({ event: 'lm.schedule_failed', err });
        });
      }
    });
  }

  /** Who hears about reads held for shelved volumes (see shelvedHolds). */
  onShelvedReads(listener: (held: readonly { label: string; shelf: string | null }[]) => void): void {
    this.onShelved = listener;
  }

  /** Who says which volumes are being ejected (the shelf component's eject job). */
  holdLeavingVolumes(leaving: () => ReadonlySet<string>): void {
    this.leaving = leaving;
  }

  /**
   * Volumes on the shelf that queued reads wait for (shelf policy "operator":
   * intake let them in). They are held out of scheduling until `volume
   * import` brings the volume back and schedules again. Returns the held
   * volumes and the reads failed here.
   */
  private async shelvedHolds(reads: readonly ShelvedRead[]): Promise<{ held: Map<string, string | null>; failed: Set<number> }> {
    const held = new Map<string, string | null>();
    const failed = new Set<number>();
    for (const r of reads) {
      if (r.policy === 'operator') {
        held.set(r.label, r.shelf);
        continue;
      }
      // Policy "fail" for a read queued before its volume left: the same
      // answer a read submitted now gets (SHELVED), not an endless wait.
      const where = r.shelf ? ` "${r.shelf}"` : '';
      await finishRequest(this.deps.pool, r.id, { ok: false, code: 'SHELVED', message: `volume ${r.label} went to shelf${where} while this read was queued, and its shelf policy is "fail"` });
      failed.add(r.id);
      this.log.info({ event: 'lm.shelved_fail', requestId: r.id, volume: r.label });
      this.notify(r.id);
    }
    if (held.size > 0) this.onShelved?.([...held].map(([label, shelf]) => ({ label, shelf })));
    return { held, failed };
  }

  private async pass(): Promise<void> {
    // No new work while the database is unreachable: every step below needs it.
    if (this.deps.availability && !this.deps.availability.up) return;
    // Every mover busy: nothing to decide, so no query (a pass runs on every
    // state report; at thousands of files a day the queries add up).
    const open = (m: MoverSlot): boolean => (m.state === 'idle' || m.state === 'have_bound') && m.requestId === null && !m.dismounting && !m.settling;
    if (![...this.movers.values()].some(open)) {
      if (this.offlineStale) await this.loadOffline();
      return;
    }
    const snap = await passSnapshot(this.deps.pool, this.deps.library, this.moverVolumeLabels());
    this.setOffline(snap.offline);
    // A queued write whose file is already active was written by a mover whose
    // WorkDone was lost (a crash): the snapshot settled it as done, never written twice.
    for (const id of snap.settled) {
      this.log.warn({ event: 'lm.settled_written', requestId: id });
      this.notify(id);
    }
    // A robot waiting for its operator moves no cartridge: only work on tapes
    // already in drives goes on (media-changer/robot-hold.ts).
    const robotHold = snap.robotHold;
    if (!robotHold) this.dismountOffline();
    const { held, failed } = await this.shelvedHolds(snap.shelvedReads);
    const leaving = this.leaving();
    for (const label of leaving) if (!held.has(label)) held.set(label, null);
    if (!robotHold) this.dismountLeaving(leaving);
    const free = [...this.movers.values()].filter((m) => open(m) && !this.offline.has(m.name));
    if (free.length === 0) return;
    const { libraryState, suspects, inDrives } = snap;
    const rows = held.size === 0 && failed.size === 0
      ? snap.open
      : snap.open.filter((r) => !failed.has(r.id) && !(r.state === 'queued' && r.kind === 'read' && r.volumeLabel !== null && held.has(r.volumeLabel)));
    let volumes = snap.volumes;
    let wakeAt: number | undefined;
    // A retry after a drive or media error goes to another mover while one is connected (docs/faults-drive-media.md).
    const avoid = await lastFailedMovers(this.deps.pool, rows.filter((r) => r.state === 'queued' && r.attempts > 0).map((r) => r.id), RETRY_ELSEWHERE_CODES);
    for (const slot of free) {
      const elsewhere = this.movers.size > 1;
      const input = {
        now: this.deps.clock.now(),
        libraryState,
        requests: rows.filter((r) => !(elsewhere && r.state === 'queued' && avoid.get(r.id) === slot.name)).map(toQueued).filter((r): r is QueuedRequest => r !== null),
        movers: [...this.movers.values()].map((m) => this.moverView(m, volumes)),
        suspects,
        config: this.deps.config,
      };
      const decision = decide(input, slot.name);
      if (robotHold && needsRobot(decision, slot.volume)) {
        // Look again soon: the hold ends when its alarm is resolved, by `robot reset` or by hand.
        wakeAt = Math.min(wakeAt ?? Infinity, this.deps.clock.now() + 1000);
        continue;
      }
      if (decision.kind === 'wait') {
        if (decision.untilMs !== undefined) wakeAt = Math.min(wakeAt ?? Infinity, decision.untilMs);
        continue;
      }
      if (decision.kind === 'dismount') {
        if (slot.volume) {
          slot.dismounting = true;
          slot.session.send('dismount', { volume: slot.volume });
          this.log.info({ event: 'lm.dismount', mover: slot.name, volume: slot.volume, reason: decision.reason });
        }
        continue;
      }
      const row = rows.find((r) => String(r.id) === decision.requestId);
      if (!row) continue;
      if (decision.kind === 'read' && decision.volumeLabel !== undefined) {
        // The tape sits in another drive whose mover has it, or whose mover
        // may still come back (just after a take-over): leave the read to
        // that mover. Assigning it here would fail for good with CONFLICT at
        // the robot.
        const drive = inDrives.get(decision.volumeLabel);
        if (drive !== undefined && drive !== slot.hello.drive) {
          // The catalogue's location can be stale (a restarted mover sends a
          // cartridge home at start): wait only for a connected owner that
          // says it has the tape, or for one that may still come back.
          const owner = [...this.movers.values()].find((m) => m.hello.drive === drive);
          const ownerHasIt = owner !== undefined && (owner.volume === decision.volumeLabel || owner.assignedVolume === decision.volumeLabel);
          if (ownerHasIt || (owner === undefined && Date.now() < this.graceUntil)) {
            wakeAt = Math.min(wakeAt ?? Infinity, this.deps.clock.now() + 1000);
            continue;
          }
        }
      }
      let volume = decision.volumeLabel;
      if (decision.kind === 'write' && volume === undefined) {
        try {
          // Volumes sitting in another drive (its mover busy, or offline with the
          // tape still in it) cannot be mounted here: never offer them.
          const inOtherDrives = [...inDrives].filter(([, drive]) => drive !== slot.hello.drive).map(([label]) => label);
          volume = (await this.deps.volumes.nextWriteVolume({
            library: this.deps.library,
            storageGroup: row.storageGroup ?? 'none',
            fileFamily: row.fileFamily ?? 'none',
            wrapper: row.wrapper ?? 'cpio_odc',
            size: row.size,
            veto: [...decision.veto, ...inOtherDrives, ...this.moverVolumeLabels(slot), ...leaving],
          })).label;
        } catch (err) {
          const code = isTapestryError(err) ? err.code : 'INTERNAL';
          await this.fail(row, code, (err as Error).message);
          this.notify(row.id);
          continue;
        }
      }
      const assigned = await assignRequest(this.deps.pool, { id: row.id, mover: slot.name, drive: slot.hello.drive, volume: volume ?? null });
      if (!assigned) continue;
      slot.inFlight = { transferId: assigned.transferId };
      const token = randomBytes(16).toString('hex');
      // The body is built before the assignment is published: a long-poll that
      // ran meanwhile would otherwise send encp to the mover before the mover
      // has been told to expect it.
      const body = this.assignBody(row, volume!, token, assigned.file);
      slot.requestId = row.id;
      slot.assignedVolume = volume ?? null;
      slot.state = 'busy';
      slot.lastKind = row.kind;
      slot.dismountDelayMs = row.dismountDelayMs ?? undefined;
      row.state = 'assigned';
      row.mover = slot.name;
      row.volumeLabel = volume ?? null;
      slot.session.send('assign', body);
      // Now the mover expects the token: publish where encp meets it (any API process reads it from the row).
      await publishAssignment(this.deps.pool, row.id, slot.name, slot.hello.dataAddress, token);
      this.log.info({ event: 'lm.assign', mover: slot.name, requestId: row.id, kind: row.kind, volume, reason: decision.reason });
      this.notify(row.id);
      // The next mover in this pass must see the volume as taken (and know its facts).
      if (volume !== undefined && !volumes.has(volume)) volumes = new Map([...volumes, ...(await volumeFactsOf(this.deps.pool, [volume]))]);
    }
    this.wakeTimer?.abort();
    this.wakeTimer = null;
    if (wakeAt !== undefined) {
      const wake = (this.wakeTimer = new AbortController());
      this.deps.clock.sleep(Math.max(10, wakeAt - this.deps.clock.now()), wake.signal).then(() => this.schedule(), () => undefined);
    }
  }

  private assignBody(row: RequestRow, volume: string, token: string, file: AssignedFile | null): import('../src/protocol/index.ts').Assign {
    return {
      requestId: String(row.id),
      kind: row.kind,
      uniqueId: row.uniqueId,
      bfid: row.bfid,
      volume,
      fileNo: row.fileNo ?? 0,
      size: row.size,
      storageGroup: row.storageGroup ?? 'none',
      fileFamily: row.fileFamily ?? 'none',
      fileFamilyWidth: row.width ?? 1,
      wrapper: row.wrapper ?? 'cpio_odc',
      path: file?.nsPath ?? '',
      token,
      dismountDelayMs: row.dismountDelayMs ?? 0,
      crc: row.kind === 'read' ? file?.crc ?? null : null,
      sanityCrc: row.kind === 'read' ? file?.sanityCrc ?? null : null,
      sanitySize: file?.sanitySize ?? 0,
      clientAddress: row.kind === 'write' ? row.clientCallback : null,
    };
  }

  /** A volume being ejected that sits idle in a drive goes home now, not after the dismount delay. */
  private dismountLeaving(leaving: ReadonlySet<string>): void {
    for (const slot of this.movers.values()) {
      if (slot.state !== 'have_bound' || !slot.volume || !leaving.has(slot.volume) || slot.requestId !== null || slot.dismounting) continue;
      slot.dismounting = true;
      slot.session.send('dismount', { volume: slot.volume });
      this.log.info({ event: 'lm.dismount', mover: slot.name, volume: slot.volume, reason: 'volume is being ejected' });
    }
  }

  /** An offline mover keeps no tape: once its transfer is done, its bound volume goes home. */
  private dismountOffline(): void {
    for (const slot of this.movers.values()) {
      if (!this.offline.has(slot.name) || slot.state !== 'have_bound' || !slot.volume || slot.requestId !== null || slot.dismounting) continue;
      slot.dismounting = true;
      slot.session.send('dismount', { volume: slot.volume });
      this.log.info({ event: 'lm.dismount', mover: slot.name, volume: slot.volume, reason: 'mover is offline' });
    }
  }

  /** Volumes in, or on their way to, the drives of the movers (all, or all but `except`). */
  private moverVolumeLabels(except?: MoverSlot): string[] {
    return [...this.movers.values()].filter((m) => m !== except).flatMap((m) => [m.volume, m.assignedVolume]).filter((l): l is string => l !== null);
  }

  private moverView(m: MoverSlot, volumes: ReadonlyMap<string, VolumeFacts>): MoverView {
    const label = m.assignedVolume ?? m.volume;
    const facts = label ? volumes.get(label) : undefined;
    // An offline mover is never given work, nor left work as a bound tape's owner.
    const state = m.state === 'busy' ? 'active' : this.offline.has(m.name) ? 'offline' : m.state;
    return {
      name: m.name,
      state,
      ...(facts ? { volume: { ...facts, location: m.location } } : {}),
      ...(m.boundSince !== undefined ? { boundSince: m.boundSince } : {}),
      ...(m.lastKind ? { lastKind: m.lastKind } : {}),
      ...(m.dismountDelayMs !== undefined ? { dismountDelayMs: m.dismountDelayMs } : {}),
    };
  }
}

function toQueued(r: RequestRow): QueuedRequest | null {
  const base = {
    id: String(r.id),
    uniqueId: r.uniqueId,
    state: r.state as 'queued' | 'assigned' | 'active',
    priority: r.priority,
    admin: r.admin,
    queuedAt: r.queuedAt.getTime(),
    size: r.size,
    storageGroup: r.storageGroup ?? 'none',
    ...(r.mover ? { mover: r.mover } : {}),
    ...(r.dismountDelayMs !== null ? { dismountDelayMs: r.dismountDelayMs } : {}),
  };
  if (r.kind === 'read') {
    if (r.volumeLabel === null || r.fileNo === null) return null;
    return { ...base, kind: 'read', volumeLabel: r.volumeLabel, fileNo: r.fileNo };
  }
  return { ...base, kind: 'write', fileFamily: r.fileFamily ?? 'none', wrapper: r.wrapper ?? 'cpio_odc', width: r.width ?? 1 };
}
