/**
 * All benchmarks of issue 3, one after the other, each in its own process
 * (`npm run bench`, or `npx tsx tools/bench/run-all.ts [--quick] [--only NAME,...]`):
 *   scheduling   tools/bench/scheduling.ts   (virtual clock; no options)
 *   throughput   tools/bench/throughput.ts   (1 GiB files, 3 runs; --quick: 256 MiB, 1 run)
 *   small-files  tools/bench/small-files.ts  (1000 x 1 MiB;          --quick: 200 files)
 * Each report is printed as it comes; a summary of exit codes and times ends the run.
 * The whole-process benchmarks start their own `tapestry start` on a temporary
 * installation (they do not use a running one) and need a few GiB free under
 * os.tmpdir() (the full throughput run writes 4 x 1 GiB sources, their copies
 * and about 20 GiB of simulated tape).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});

const HERE = import.meta.dirname;
const quick = values.quick;
const benches: { name: string; file: string; args: string[] }[] = [
  { name: 'scheduling', file: 'scheduling.ts', args: [] },
  { name: 'throughput', file: 'throughput.ts', args: quick ? ['--size', '256MiB', '--runs', '1'] : [] },
  { name: 'small-files', file: 'small-files.ts', args: quick ? ['--files', '200'] : [] },
];
const only = values.only ? new Set(values.only.split(',').map((s) => s.trim())) : null;
if (only) {
  for (const n of only) if (!benches.some((b) => b.name === n)) throw new Error(`--only: no benchmark "${n}" (${benches.map((b) => b.name).join(', ')})`);
}

function run(file: string, args: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    // `npx tsx` as a user would type it; stdio inherited so each report streams as it is produced.
    const child = spawn('npx', ['tsx', path.join(HERE, file), ...args], { stdio: 'inherit', cwd: path.resolve(HERE, '../..') });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(signal ? 128 : code));
  });
}

const summary: string[] = [];
let failed = 0;
for (const b of benches) {
  if (only && !only.has(b.name)) continue;
  process.stdout.write(`\n======== ${b.name}: npx tsx tools/bench/${b.file}${b.args.length ? ' ' + b.args.join(' ') : ''}\n\n`);
  const t0 = Date.now();
  const code = await run(b.file, b.args);
  const secs = ((Date.now() - t0) / 1000).toFixed(0);
  if (code !== 0) failed++;
  summary.push(`${b.name.padEnd(12)} exit ${code} in ${secs} s`);
}
process.stdout.write(`\n======== summary${quick ? ' (--quick)' : ''}\n${summary.join('\n')}\n`);
process.exitCode = failed > 0 ? 1 : 0;
