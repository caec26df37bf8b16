/**
 * `npm run soak [-- --days 2 …]`: issue 5 item 7. Prints the summary (or
 * JSON with --json); exits 0 when nothing was lost (tools/soak/report.ts
 * soakPassed), 1 otherwise, 2 on a usage error.
 */
import { parseSoakArgs, type SoakOptions } from './options.ts';
import { formatSoakReport, soakPassed } from './report.ts';
import { runSoak } from './run.ts';

let options: SoakOptions;
try {
  options = parseSoakArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
try {
  const result = await runSoak(options, (line) => process.stderr.write(`soak: ${line}\n`));
  process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatSoakReport(result)}\n`);
  process.exit(soakPassed(result) ? 0 : 1);
} catch (err) {
  process.stderr.write(`soak failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
