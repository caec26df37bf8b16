import { errorSpec, isTapestryError } from '../../src/errors/index.ts';

/** Print rows as an aligned text table (the human form of every report; `--json` gives the data). */
export function table(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/**
 * One place turns an error into CLI output and an exit code (STYLE: map errors
 * once in the CLI): `tapestry: CODE: message` and the operator hint.
 */
export function reportError(prog: string, err: unknown): number {
  if (isTapestryError(err)) {
    process.stderr.write(`${prog}: ${err.code}: ${err.message}\n`);
    if (process.env.TAPESTRY_VERBOSE_ERRORS) process.stderr.write(`  hint: ${errorSpec(err.code).hint}\n`);
    return err.exitCode;
  }
  process.stderr.write(`${prog}: INTERNAL: ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}
