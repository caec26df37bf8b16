import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { ExportResult } from '../../export/export-volume.ts';
import { adler32Hex } from '../../export/format.ts';
import type { ImportOutcome } from '../../export/service.ts';
import { TapestryError } from '../../src/errors/index.ts';
import { ApiClient } from '../lib/api-client.ts';
import { formatBytes, localUser } from '../lib/format.ts';
import { printJson, table } from '../lib/output.ts';

/** Reading a whole tape to check it takes as long as the tape takes to read: wait up to a day. */
const IMPORT_TIMEOUT_MS = 24 * 3600 * 1000;

async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new TapestryError('NOT_FOUND', `cannot read metadata file ${file}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause, context: { file } });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new TapestryError('MALFORMED', `${file}: not JSON (${(cause as Error).message})`, { cause, context: { file } });
  }
}

/**
 * `tapestry volume export` and `tapestry volume import-metadata`
 * (docs/export-format.md), registered on the `volume` command group. Paths are
 * made absolute here: the server writes and reads them on its own host.
 */
export function registerVolumeExportCommands(volume: Command): void {
  volume
    .command('export <label>')
    .description('write the volume\'s metadata (<label>.metadata.json + <label>.files.csv) and, with the simulator, a copy of its cartridge (<label>.tape/) into DIR')
    .requiredOption('--out <dir>', 'directory to write into (on the server\'s host; created if missing)')
    .option('--force', 'replace an earlier export of this volume in DIR')
    .option('--json', 'print JSON')
    .action(async (label: string, opts: { out: string; force?: boolean; json?: boolean }) => {
      const r = await new ApiClient().post<ExportResult>(`/volumes/${encodeURIComponent(label)}/export`, { out: path.resolve(opts.out), force: opts.force === true });
      if (opts.json) return printJson(r);
      if (r.files.length > 0) {
        process.stdout.write(table(['FILE_NO', 'SIZE', 'ADLER32', 'PATH'], r.files.map((f) => [f.fileNo, f.size, adler32Hex(f.adler32), f.path])) + '\n');
      }
      process.stdout.write(`${r.label}: exported ${r.files.length} file(s), ${formatBytes(r.bytes)}${r.deletedFiles > 0 ? `, ${r.deletedFiles} deleted file(s) listed apart` : ''}; end-of-data file ${r.eodFileNo}\n`);
      process.stdout.write(`  metadata  ${r.metadataFile}\n  file list ${r.csvFile}\n  cartridge ${r.cartridgeCopy ?? '- (no simulated library: the physical tape travels with the metadata)'}\n`);
    });

  volume
    .command('import-metadata <metadata-file>')
    .description('register a tape written elsewhere from its <label>.metadata.json, after checking every file on the cartridge against it')
    .option('--cartridge <dir>', 'cartridge directory to copy into the library\'s tapes directory (on the server\'s host); without it the cartridge must be there already')
    .option('--library <name>', 'library that takes the volume (default: the metadata\'s, else the only one)')
    .option('--file-family <ff>', 'file family for the volume (default: the metadata\'s)')
    .option('--storage-group <sg>', 'storage group for the volume (default: the metadata\'s)')
    .option('--enter', 'simulator: put the cartridge into a mail slot and have the robot move it to a free slot, so it can be read at once')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { cartridge?: string; library?: string; fileFamily?: string; storageGroup?: string; enter?: boolean; json?: boolean }) => {
      const metadata = await readJsonFile(file);
      const body = {
        metadata,
        ...(opts.cartridge !== undefined ? { cartridge: path.resolve(opts.cartridge) } : {}),
        ...(opts.library !== undefined ? { library: opts.library } : {}),
        ...(opts.fileFamily !== undefined ? { fileFamily: opts.fileFamily } : {}),
        ...(opts.storageGroup !== undefined ? { storageGroup: opts.storageGroup } : {}),
        enter: opts.enter === true,
        actor: localUser(),
      };
      const r = await new ApiClient(undefined, IMPORT_TIMEOUT_MS).post<ImportOutcome>('/volumes/import-metadata', body);
      if (opts.json) return printJson(r);
      if (r.files.length > 0) {
        process.stdout.write(table(['FILE_NO', 'BFID', 'SIZE', 'ADLER32', 'PATH'], r.files.map((f) => [f.fileNo, f.bfid, f.size, adler32Hex(f.adler32), f.path])) + '\n');
      }
      const where = r.location.ref === null ? r.location.kind : `${r.location.kind} ${r.location.ref}`;
      process.stdout.write(`${r.label}: imported into ${r.library} as ${r.volumeFamily}, ${r.files.length} file(s) active, end-of-data file ${r.eodFileNo}; location ${where}\n`);
      if (r.note) process.stdout.write(`  note: ${r.note}\n`);
    });
}
