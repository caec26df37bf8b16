import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../../src/config/index.ts';
import { TapestryError } from '../../src/errors/index.ts';
import { CartridgeStore } from '../../hardware-sim/cartridge-store.ts';

export interface DumpTapeFileOptions {
  /** The simulator's tapes directory (one directory per cartridge, docs/cartridge-format.md). */
  readonly tapesDir: string;
  readonly label: string;
  /** File number: 0 = the VOL1 label, N = the file after the N-th filemark. */
  readonly fileNo: number;
  readonly out: Writable;
}

export interface DumpTapeFileResult {
  readonly records: number;
  readonly bytes: number;
  /**
   * How the dump ended: at the file's filemark; at end-of-data without one (an
   * interrupted write left a partial file); or because the reader of `out` went away.
   */
  readonly end: 'filemark' | 'end_of_data' | 'output_closed';
}

/** Write `buf`, waiting for 'drain' when the stream asks (backpressure); false once the reader has gone (EPIPE). */
async function writeOut(out: Writable, buf: Buffer, failed: () => Error | null): Promise<boolean> {
  const err = failed();
  if (err !== null) return stopQuietly(err);
  if (!out.write(buf)) {
    try {
      await once(out, 'drain');
    } catch (e) {
      return stopQuietly(e as Error);
    }
  }
  return true;
}

/** The reader of our output closing early (`| head`) ends the dump as it ends `cat`; any other error is an error. */
function stopQuietly(err: Error): false {
  if ((err as NodeJS.ErrnoException).code === 'EPIPE') return false;
  throw err;
}

/**
 * Copy file `fileNo` of a simulated cartridge to `out`, record by record,
 * exactly as on tape: for N ≥ 1 a cpio ODC archive. Reads the cartridge files
 * directly and read-only, so it works with or without a running Tapestry.
 * NO_SUCH_VOLUME for an unknown label, BLANK_CHECK past the last file.
 */
export async function dumpTapeFile(options: DumpTapeFileOptions): Promise<DumpTapeFileResult> {
  const { tapesDir, label, fileNo, out } = options;
  const store = new CartridgeStore(tapesDir, { readOnly: true });
  let outError: Error | null = null;
  const onError = (err: Error): void => {
    outError = err;
  };
  out.on('error', onError);
  try {
    if (!(await store.exists(label))) {
      throw new TapestryError('NO_SUCH_VOLUME', `no cartridge ${label} in ${tapesDir}`, { context: { label, tapesDir } });
    }
    const cart = await store.open(label);
    let record = cart.fileStart(fileNo);
    if (record >= cart.recordCount) {
      throw new TapestryError('BLANK_CHECK', `cartridge ${label} has no file ${fileNo}: end of data after file ${fileNo - 1}`, {
        context: { label, fileNo, filemarks: cart.filemarkCount },
      });
    }
    let records = 0;
    let bytes = 0;
    for (; record < cart.recordCount; record++) {
      const r = await cart.readRecord(record);
      if (r.kind === 'filemark') return { records, bytes, end: 'filemark' };
      if (!(await writeOut(out, r.data, () => outError))) return { records, bytes, end: 'output_closed' };
      records++;
      bytes += r.data.length;
    }
    return { records, bytes, end: 'end_of_data' };
  } finally {
    out.off('error', onError);
    await store.close();
  }
}

function fileNumber(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('a file number is a non-negative integer');
  return n;
}

function tapesDirFromConfig(configFile: string | undefined): string {
  const config = loadConfig(configFile);
  if (config.simulator === null) {
    throw new TapestryError('USERERROR', `${config.source ?? 'the configuration'} has no simulator section; pass --tapes-dir`);
  }
  return config.simulator.tapesDir;
}

/** `tapestry tape …`: read simulated cartridges directly, without a server. */
export function registerTapeCommands(program: Command): void {
  const tape = program.command('tape').description('simulated cartridges, read directly from the tapes directory (no server needed)');

  tape
    .command('dump <label>')
    .description('write file N of a cartridge to stdout exactly as on tape (file 0: the VOL1 label; N ≥ 1: a cpio archive, so `| cpio -idv` restores it)')
    .requiredOption('--file <n>', 'file number: filemarks from the start of the tape', fileNumber)
    .option('-c, --config <file>', 'config file whose simulator.tapes_dir to read (default: TAPESTRY_CONFIG or ./tapestry.yaml)')
    .option('--tapes-dir <dir>', 'the tapes directory (instead of the config)')
    .action(async (label: string, opts: { file: number; config?: string; tapesDir?: string }) => {
      const tapesDir = opts.tapesDir ?? tapesDirFromConfig(opts.config);
      const result = await dumpTapeFile({ tapesDir, label, fileNo: opts.file, out: process.stdout });
      if (result.end === 'end_of_data') {
        process.stderr.write(`tapestry: warning: file ${opts.file} of ${label} has no closing filemark (an interrupted write); dumped the ${result.records} records on tape\n`);
      }
    });
}
