import type pg from 'pg';
import type { TapestryConfig } from '../src/config/index.ts';
import { isTapestryError } from '../src/errors/index.ts';
import type { Logger } from '../src/logging/index.ts';
import type { NamespaceService } from '../src/namespace/service.ts';
import type { Clock } from '../src/time/clock.ts';
import type { LocationKind } from '../volume-clerk/repo.ts';
import { exportVolume, type ExportRequest, type ExportResult } from './export-volume.ts';
import { importVolume, type ImportRequest, type ImportResult } from './import-volume.ts';

/** What import needs of a media changer (media-changer/service.ts), per robot. */
export interface RobotAccess {
  hasLibrary(library: string): boolean;
  inventory(library: string): Promise<{
    readonly slots: readonly { slot: number; label: string | null }[];
    readonly drives: readonly { name: string; label: string | null }[];
    readonly mailslots: readonly { mailslot: number; label: string | null }[];
  }>;
  enter(label: string): Promise<{ slot: number }>;
}

export interface ExportServiceDeps {
  readonly pool: pg.Pool;
  readonly clock: Clock;
  readonly log: Logger;
  readonly config: Pick<TapestryConfig, 'simulator' | 'libraries' | 'robots'>;
  readonly namespace: Pick<NamespaceService, 'mkdir' | 'dirForNewFile'>;
  /** The file clerk's bfid brand. */
  readonly files: { readonly brand: string };
  readonly volumes: { setLocation(label: string, location: { kind: LocationKind; ref: string | null }, actor?: string): Promise<unknown> };
  /** The simulated robots, where the simulated operator puts cartridges into mail slots. */
  readonly simulator: { robot(name: string): { operatorPutMailslots(labels: readonly string[]): void } } | null;
  readonly changers: readonly RobotAccess[];
  readonly version: string;
}

export interface ImportOptions extends ImportRequest {
  /**
   * Simulator only: after registering, the simulated operator puts the
   * cartridge into a free mail slot and the robot moves it to a free storage
   * slot, so the volume can be read at once. Without it the volume's location
   * stays `unknown` until the cartridge is entered into the robot.
   */
  readonly enter?: boolean;
}

export interface ImportOutcome extends ImportResult {
  readonly location: { readonly kind: LocationKind; readonly ref: string | null };
  /** What an operator still has to do, when anything. */
  readonly note: string | null;
}

/** Export of a volume in the open format, and import of a foreign tape's metadata (docs/export-format.md). */
export class ExportService {
  constructor(private readonly deps: ExportServiceDeps) {}

  private get tapesDir(): string | null {
    return this.deps.config.simulator?.tapesDir ?? null;
  }

  exportVolume(req: ExportRequest): Promise<ExportResult> {
    return exportVolume(
      { pool: this.deps.pool, log: this.deps.log, tapesDir: this.tapesDir, exportedBy: `tapestry ${this.deps.version}`, now: () => new Date(this.deps.clock.now()) },
      req,
    );
  }

  async importMetadata(req: ImportOptions): Promise<ImportOutcome> {
    const result = await importVolume(
      {
        pool: this.deps.pool,
        log: this.deps.log,
        tapesDir: this.tapesDir,
        libraries: this.deps.config.libraries,
        namespace: this.deps.namespace,
        brand: this.deps.files.brand,
        now: () => new Date(this.deps.clock.now()),
      },
      req,
    );
    const placed = await this.locate(result.label, result.library, req.enter === true, req.actor);
    return { ...result, ...placed };
  }

  /**
   * Where the cartridge is, as the robot sees it, recorded on the volume. With
   * `enter` (simulator only) a cartridge the robot does not have is put into a
   * mail slot by the simulated operator and entered by the robot. Never fails
   * the import: it is registered already; a problem here becomes the note.
   */
  private async locate(label: string, library: string, enter: boolean, actor = 'operator'): Promise<Pick<ImportOutcome, 'location' | 'note'>> {
    const changer = this.deps.changers.find((c) => c.hasLibrary(library));
    let location: ImportOutcome['location'] = { kind: 'unknown', ref: null };
    let note: string | null = null;
    try {
      if (!changer) return { location, note: `no robot serves library ${library}; the volume's location is unknown` };
      const inv = await changer.inventory(library);
      const slot = inv.slots.find((s) => s.label === label);
      const mail = inv.mailslots.find((s) => s.label === label);
      const drive = inv.drives.find((d) => d.label === label);
      if (slot) location = { kind: 'slot', ref: String(slot.slot) };
      else if (drive) location = { kind: 'drive', ref: drive.name };
      else if (mail) location = { kind: 'mailslot', ref: String(mail.mailslot) };
      if (location.kind === 'unknown' || location.kind === 'mailslot') {
        const robot = this.deps.config.libraries.get(library)?.robot;
        const simulated = robot !== undefined && this.deps.config.robots.get(robot)?.device === 'sim' && this.deps.simulator !== null;
        if (enter && simulated) {
          if (location.kind === 'unknown') {
            this.deps.simulator!.robot(robot).operatorPutMailslots([label]);
            const io = (await changer.inventory(library)).mailslots.find((s) => s.label === label);
            location = { kind: 'mailslot', ref: io ? String(io.mailslot) : null };
          }
          const { slot: entered } = await changer.enter(label);
          location = { kind: 'slot', ref: String(entered) };
        } else if (enter) {
          note = `--enter works with a simulated robot only: put ${label} into a mail slot of robot ${robot ?? '?'} and enter it into a storage slot before reading`;
        } else {
          note = `${label} is not in a storage slot of the robot yet${location.kind === 'mailslot' ? ' (it is in a mail slot)' : ''}: enter it before reading its files`;
        }
      }
    } catch (err) {
      const why = isTapestryError(err) ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? err);
      note = `registered, but the cartridge could not be entered into the robot: ${why}`;
      this.deps.log.warn({ event: 'volume.import_enter_failed', volume: label, err });
    }
    if (location.kind !== 'unknown') await this.deps.volumes.setLocation(label, location, actor);
    return { location, note };
  }
}
