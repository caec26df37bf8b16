import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { filesCsv } from '../../export/csv.ts';
import { adler32Hex, filesCsvName, metadataFileName, metadataJson } from '../../export/format.ts';
import { parseSize } from '../../src/config/units.ts';
import { TapestryError } from '../../src/errors/index.ts';
import { VERSION } from '../../src/version.ts';
import { printJson, reportError, table } from '../lib/output.ts';
import { writeTape } from './write-tape.ts';

/**
 * `tapestry-tape-writer --cartridge DIR --label L --out METADATA_DIR FILE... [--as /ns/path ...]`:
 * write files to a new simulated cartridge outside any library, with the
 * metadata that `tapestry volume import-metadata` takes. No server, no database.
 */
const PROG = 'tapestry-tape-writer';

const size = (what: string) => (value: string): number => {
  const n = parseSize(value);
  if (n === null || n < 1) throw new InvalidArgumentError(`${what} is a size such as 256KiB, 18TB or a number of bytes`);
  return n;
};
const collect = (value: string, list: string[]): string[] => [...list, value];

interface Options {
  cartridge: string;
  label: string;
  mediaType: string;
  blockSize: number;
  capacity: number;
  storageGroup: string;
  fileFamily: string;
  out: string;
  as: string[];
  prefix?: string;
  force?: boolean;
  json?: boolean;
}

/** Each file through a temp name + rename, so a reader never sees half a metadata file. */
async function writeOutputs(dir: string, files: Record<string, string>): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    const target = path.join(dir, name);
    await writeFile(`${target}.tmp-${process.pid}`, text);
    await rename(`${target}.tmp-${process.pid}`, target);
    written.push(target);
  }
  return written;
}

const program = new Command(PROG)
  .description('write files to a new cartridge directory outside any library, plus the <label>.metadata.json and <label>.files.csv that `tapestry volume import-metadata` takes')
  .version(VERSION)
  .argument('<file...>', 'local files to write, in tape order')
  .requiredOption('--cartridge <dir>', 'the new cartridge directory to create (must not exist, or be empty)')
  .requiredOption('--label <label>', 'volume label (barcode), 6 to 8 capital letters and digits, e.g. FT0001L9')
  .requiredOption('--out <dir>', 'where to write <label>.metadata.json and <label>.files.csv')
  .option('--as <nspath>', 'namespace path of the file in the same place in the list (repeat once per file, in order)', collect, [])
  .option('--prefix <dir>', 'namespace directory for files without --as: <dir>/<file name> (default /import/<label>)')
  .option('--media-type <type>', 'media type, as the importing library names it', 'LTO9')
  .option('--block-size <size>', 'tape block size', size('--block-size'), 256 * 1024)
  .option('--capacity <size>', 'native capacity of the cartridge', size('--capacity'), 18e12)
  .option('--storage-group <sg>', 'storage group recorded for the volume', 'default')
  .option('--file-family <ff>', 'file family recorded for the volume', 'imported')
  .option('--force', 'replace metadata files of this label already in --out')
  .option('--json', 'print the metadata document instead of a table')
  .showHelpAfterError()
  .exitOverride()
  .action(async (sources: string[], opts: Options) => {
    if (opts.as.length > 0 && opts.as.length !== sources.length) {
      throw new TapestryError('USERERROR', `${opts.as.length} --as path(s) for ${sources.length} file(s): give one --as per file, in order, or none`);
    }
    const prefix = (opts.prefix ?? `/import/${opts.label}`).replace(/\/+$/, '');
    const files = sources.map((source, i) => ({ source, path: opts.as[i] ?? `${prefix}/${path.basename(source)}` }));
    const out = path.resolve(opts.out);
    // Refuse an existing metadata target before writing a whole tape for nothing.
    for (const name of [metadataFileName(opts.label), filesCsvName(opts.label)]) {
      if (!opts.force && (await stat(path.join(out, name)).catch(() => null))) {
        throw new TapestryError('EXISTS', `${path.join(out, name)} already exists; use --force to replace it`);
      }
    }
    const metadata = await writeTape({
      cartridgeDir: path.resolve(opts.cartridge),
      label: opts.label,
      mediaType: opts.mediaType,
      capacityBytes: opts.capacity,
      blockSize: opts.blockSize,
      storageGroup: opts.storageGroup,
      fileFamily: opts.fileFamily,
      files,
      exportedBy: `${PROG} ${VERSION}`,
    });
    const [jsonFile, csvFile] = await writeOutputs(out, {
      [metadataFileName(opts.label)]: metadataJson(metadata),
      [filesCsvName(opts.label)]: filesCsv(metadata),
    });
    if (opts.json) return printJson(JSON.parse(metadataJson(metadata)));
    process.stdout.write(table(['FILE_NO', 'SIZE', 'ADLER32', 'PATH'], metadata.files.map((f) => [f.fileNo, f.size, adler32Hex(f.adler32), f.path])) + '\n');
    process.stdout.write(`${opts.label}: ${metadata.files.length} file(s) written to ${path.resolve(opts.cartridge)}\n  metadata  ${jsonFile}\n  file list ${csvFile}\n`);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = err instanceof CommanderError ? (err.exitCode === 0 ? 0 : 2) : reportError(PROG, err);
}
