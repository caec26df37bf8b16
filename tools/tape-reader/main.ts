import { readFile } from 'node:fs/promises';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { adler32Hex } from '../../export/format.ts';
import { parseMetadataText } from '../../export/validate.ts';
import { TapestryError } from '../../src/errors/index.ts';
import { VERSION } from '../../src/version.ts';
import { printJson, reportError, table } from '../lib/output.ts';
import { restoreFiles } from './restore.ts';

/**
 * `tapestry-tape-reader <cartridge-dir> <metadata-file> --out DIR [--file N]`:
 * restore the files of a tape with its metadata, without a Tapestry server or
 * database. Exit 0 only when every selected file was restored and verified.
 */
const PROG = 'tapestry-tape-reader';

function fileNumber(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('a file number is a whole number ≥ 1 (file 0 is the VOL1 label)');
  return n;
}

async function readMetadata(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    throw new TapestryError('NOT_FOUND', `cannot read metadata file ${file}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause, context: { file } });
  }
}

const program = new Command(PROG)
  .description('restore files from a tape (a cartridge directory) using its <label>.metadata.json; no server or database needed')
  .version(VERSION)
  .argument('<cartridge-dir>', 'the cartridge directory (e.g. an export\'s <label>.tape/, or var/tapes/<label>)')
  .argument('<metadata-file>', 'the volume\'s <label>.metadata.json')
  .requiredOption('--out <dir>', 'restore below this directory: each file at its namespace path without the leading /')
  .option('--file <n>', 'only the file at this tape position (file_no)', fileNumber)
  .option('--force', 'overwrite files that already exist below --out')
  .option('--json', 'print JSON')
  .showHelpAfterError()
  .exitOverride()
  .action(async (cartridgeDir: string, metadataFile: string, opts: { out: string; file?: number; force?: boolean; json?: boolean }) => {
    const metadata = parseMetadataText(await readMetadata(metadataFile), metadataFile);
    const report = await restoreFiles({ cartridgeDir, metadata, out: opts.out, fileNo: opts.file, force: opts.force === true });
    if (opts.json) printJson(report);
    else {
      process.stdout.write(table(
        ['FILE_NO', 'SIZE', 'ADLER32', 'RESULT', 'PATH', 'RESTORED TO'],
        report.files.map((f) => [f.fileNo, f.size, adler32Hex(f.adler32), f.ok ? 'ok' : f.code, f.path, f.ok ? f.target : '-']),
      ) + '\n');
    }
    const failed = report.files.filter((f) => !f.ok);
    for (const f of failed) process.stderr.write(`${PROG}: ${f.code}: ${f.message}\n`);
    if (failed.length > 0) {
      process.stderr.write(`${PROG}: ${failed.length} of ${report.files.length} file(s) not restored; nothing unverified was left at a target path\n`);
      process.exitCode = 1;
    }
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = err instanceof CommanderError ? (err.exitCode === 0 ? 0 : 2) : reportError(PROG, err);
}
