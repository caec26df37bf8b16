/**
 * The soak's acquisition client: what encp does for a write, for files that
 * exist only as (seed, length). It submits through the request intake with a
 * callback address, and its callback listener serves every mover that
 * connects: it checks the mover's header against the ticket, sends NO data
 * bytes — the mover writes one synthetic record instead — and then the
 * trailer with the adler32 it computed from the seed, and reads the result.
 * A retry (another assignment, another mover) simply connects again.
 */
import net from 'node:net';
import { syntheticChecksums } from '../../src/checksum/synthetic.ts';
import { decodeDataMessage, FrameDecoder, type Assign } from '../../src/protocol/index.ts';
import type { Intake } from '../../library-manager/intake.ts';
import { dataFrame } from '../../movers/data-channel.ts';

export interface SoakFile {
  readonly n: number;
  readonly path: string;
  readonly size: number;
  readonly seed: number;
  readonly crc: number;
  bfid: string;
  requestId: number;
  /** Result frames the client got: ok ones, and failures by code. */
  okResults: number;
  failedResults: Map<string, number>;
}

export class SyntheticClient {
  readonly byBfid = new Map<string, SoakFile>();
  readonly files: SoakFile[] = [];
  /** Connections refused: an unknown bfid, a header that does not match the ticket. */
  refused = 0;
  private server: net.Server | null = null;
  private address = '';
  private readonly sockets = new Set<net.Socket>();
  /** Movers that connected before intake.write returned the ticket (as encp holds an unknown token a moment). */
  private readonly early = new Map<string, (f: SoakFile) => void>();

  private readonly dirs = new Set<string>();

  /** `mkdir` makes a namespace directory (tags are inherited from /soak). */
  constructor(
    private readonly intake: Intake,
    private readonly mkdir: (dir: string) => Promise<unknown>,
  ) {}

  /** What the movers are told: the seed of a write this client submitted, else null (real data). */
  readonly seedOf = (a: Assign): number | null => (a.kind === 'write' ? this.byPath.get(a.path)?.seed ?? null : null);
  /**
   * By path, registered before the submission: a mover may be assigned the
   * write (and ask) before intake.write has returned the bfid to us.
   */
  private readonly byPath = new Map<string, SoakFile>();

  async listen(): Promise<void> {
    const server = net.createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  }

  /** Submit file number `n` (its content is the 64 KiB block of `seed`, repeated). */
  async submit(n: number, size: number, seed: number, maxRetry: number): Promise<SoakFile> {
    // A directory per 1,000 files, as a DAQ writes runs.
    const dir = `/soak/run-${String(Math.floor(n / 1000)).padStart(3, '0')}`;
    if (!this.dirs.has(dir)) {
      await this.mkdir(dir);
      this.dirs.add(dir);
    }
    const path = `${dir}/f${String(n).padStart(6, '0')}.raw`;
    const file: SoakFile = { n, path, size, seed, crc: syntheticChecksums(seed, size).crc, bfid: '', requestId: 0, okResults: 0, failedResults: new Map() };
    // Intake creates the file row first, then queues: register the bfid as
    // soon as it is known, before any mover can connect for it.
    this.byPath.set(path, file);
    const ticket = await this.intake.write({ uniqueId: `soak-${seed}-${n}`, path, size, callback: this.address, clientHost: 'soak', maxRetry });
    file.bfid = ticket.bfid;
    file.requestId = ticket.requestId;
    this.byBfid.set(file.bfid, file);
    this.files.push(file);
    this.early.get(file.bfid)?.(file);
    this.early.delete(file.bfid);
    return file;
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const decoder = new FrameDecoder();
    let file: SoakFile | null = null;
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = decoder.feed(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        const msg = decodeDataMessage(frame);
        if (msg.type === 'header') {
          const h = msg.header;
          const answer = (known: SoakFile): void => {
            if (h.direction !== 'write' || h.size !== known.size) {
              this.refused++;
              socket.destroy();
              return;
            }
            file = known;
            socket.write(dataFrame('trailer', { crcAdler32: known.crc, size: known.size }));
          };
          const known = h.bfid === null ? undefined : this.byBfid.get(h.bfid);
          if (known) answer(known);
          else if (h.bfid !== null) this.early.set(h.bfid, answer);
          else {
            this.refused++;
            socket.destroy();
            return;
          }
        } else if (msg.type === 'result' && file) {
          if (msg.result.ok) file.okResults++;
          else file.failedResults.set(msg.result.code ?? 'UNKNOWN', (file.failedResults.get(msg.result.code ?? 'UNKNOWN') ?? 0) + 1);
          socket.end();
        }
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
