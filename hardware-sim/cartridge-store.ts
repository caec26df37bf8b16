/**
 * The shelf of simulated cartridges under one directory (`var/tapes/`). It hands
 * out one Cartridge object per label, so two drives (or a drive and a fault
 * injected by the operator) never hold two file handles of the same cartridge.
 */
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { TapestryError } from '../src/errors/index.ts';
import { Cartridge, cartridgeExists, validateLabel, type CartridgeInit, type CartridgeOptions } from './cartridge.ts';

export class CartridgeStore {
  /** Open (or opening) cartridges; a promise so concurrent open() calls share one handle. */
  private readonly cache = new Map<string, Promise<Cartridge>>();

  constructor(
    readonly tapesDir: string,
    private readonly options: CartridgeOptions = {},
  ) {}

  /** Create an empty cartridge and return it open; EXISTS if the label is taken. */
  async create(init: CartridgeInit): Promise<Cartridge> {
    validateLabel(init.label);
    if (this.cache.has(init.label)) throw this.existsError(init.label);
    const dir = this.dirOf(init.label);
    const created = (async () => {
      await mkdir(this.tapesDir, { recursive: true });
      // A directory without meta.json is a create that crashed half-way: reuse it.
      if (await cartridgeExists(dir)) throw this.existsError(init.label);
      return Cartridge.create(dir, init, this.options);
    })();
    return this.remember(init.label, created);
  }

  /** The open cartridge for `label`; NOT_FOUND if there is none. */
  async open(label: string): Promise<Cartridge> {
    validateLabel(label);
    // Everything up to remember() runs synchronously, so concurrent opens share one promise.
    return this.cache.get(label) ?? this.remember(label, Cartridge.open(this.dirOf(label), label, this.options));
  }

  async exists(label: string): Promise<boolean> {
    validateLabel(label);
    return cartridgeExists(this.dirOf(label));
  }

  /** Labels of every complete cartridge, sorted. */
  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.tapesDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const labels: string[] = [];
    for (const name of names.sort()) {
      if (await cartridgeExists(this.dirOf(name))) labels.push(name);
    }
    return labels;
  }

  // --- cartridge-level faults (DESIGN §6), by label for the operator API ---

  async corruptRecord(label: string, record: number, options: { silent?: boolean } = {}): Promise<void> {
    await (await this.open(label)).corruptRecord(record, options);
  }

  async setEarlyEndOfTape(label: string, bytes: number | null): Promise<void> {
    await (await this.open(label)).setEarlyEndOfTape(bytes);
  }

  async setWriteProtected(label: string, on: boolean): Promise<void> {
    await (await this.open(label)).setWriteProtected(on);
  }

  /** Close every open cartridge. The store can be used again afterwards (it reopens). */
  async close(): Promise<void> {
    const open = [...this.cache.values()];
    this.cache.clear();
    const results = await Promise.allSettled(open);
    await Promise.all(results.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
  }

  private dirOf(label: string): string {
    return path.join(this.tapesDir, label);
  }

  private existsError(label: string): TapestryError {
    return new TapestryError('EXISTS', `cartridge ${label} already exists`, { context: { label } });
  }

  private remember(label: string, pending: Promise<Cartridge>): Promise<Cartridge> {
    this.cache.set(label, pending);
    // A failed open or create must not stick in the cache.
    pending.catch(() => {
      if (this.cache.get(label) === pending) this.cache.delete(label);
    });
    return pending;
  }
}
