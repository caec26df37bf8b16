import type { Command } from 'commander';
import type { LibraryInventory } from '../../media-changer/service.ts';
import { TapestryError } from '../../src/errors/index.ts';
import { ApiClient } from '../lib/api-client.ts';
import { printJson, table } from '../lib/output.ts';

interface LibrarySummary {
  name: string;
  robot: string;
  mediaType: string;
  drives: string[];
}

/** `--library`, else TAPESTRY_LIBRARY, else the library holding `drive`, else the only library. */
async function resolveLibrary(api: ApiClient, given: string | undefined, drive?: string): Promise<string> {
  const explicit = given ?? process.env.TAPESTRY_LIBRARY;
  if (explicit) return explicit;
  const libs = await api.get<LibrarySummary[]>('/libraries');
  const withDrive = drive === undefined ? [] : libs.filter((l) => l.drives.includes(drive));
  if (withDrive.length === 1) return withDrive[0]!.name;
  if (libs.length === 1) return libs[0]!.name;
  throw new TapestryError('USERERROR', `several libraries (${libs.map((l) => l.name).join(', ')}); say which with --library`);
}

function printInventory(inv: LibraryInventory): void {
  const lines: string[] = [];
  lines.push(`library ${inv.library}  robot ${inv.robot} (${inv.robotState})  media ${inv.mediaType}`);
  lines.push('');
  lines.push(table(['DRIVE', 'ELEMENT', 'CARTRIDGE', 'HOME SLOT', 'STATE'], inv.drives.map((d) => [d.name, `D${d.element}`, d.label ?? 'empty', d.homeSlot === null ? null : `S${d.homeSlot}`, d.state])));
  lines.push('');
  const full = inv.slots.filter((s) => s.label !== null);
  lines.push(`slots: ${full.length} of ${inv.slots.length} full`);
  lines.push(table(['SLOT', 'CARTRIDGE'], full.map((s) => [`S${s.slot}`, s.label])));
  lines.push('');
  lines.push(table(['MAIL SLOT', 'CARTRIDGE'], inv.mailslots.map((m) => [`I${m.mailslot}`, m.label ?? 'empty'])));
  process.stdout.write(lines.join('\n') + '\n');
}

export function registerRobotCommands(program: Command): void {
  const robot = program.command('robot').description('the tape library robot: inventory, mount, dismount, reset after an operator fault');

  robot
    .command('inventory')
    .description('list slots, drives and mail slots with the cartridges in them')
    .option('--library <name>', 'library (default: the only one, or TAPESTRY_LIBRARY)')
    .option('--json', 'print JSON')
    .action(async (opts: { library?: string; json?: boolean }) => {
      const api = new ApiClient();
      const lib = await resolveLibrary(api, opts.library);
      const inv = await api.get<LibraryInventory>(`/libraries/${encodeURIComponent(lib)}`);
      if (opts.json) printJson(inv);
      else printInventory(inv);
    });

  for (const verb of ['mount', 'dismount'] as const) {
    robot
      .command(`${verb} <label> <drive>`)
      .description(verb === 'mount' ? 'move a cartridge from its slot into a drive and thread it' : 'unthread a cartridge and move it back to its home slot')
      .option('--library <name>', 'library (default: the one that has the drive)')
      .option('--json', 'print JSON')
      .action(async (label: string, drive: string, opts: { library?: string; json?: boolean }) => {
        const api = new ApiClient();
        const lib = await resolveLibrary(api, opts.library, drive);
        const result = await api.post<Record<string, unknown>>(`/libraries/${encodeURIComponent(lib)}/${verb}`, { label, drive });
        if (opts.json) printJson(result);
        else if (verb === 'mount') process.stdout.write(`${label} mounted on ${drive} (from slot S${String(result.fromSlot)})\n`);
        else process.stdout.write(`${label} dismounted from ${drive} to slot S${String(result.toSlot)}\n`);
      });
  }

  robot
    .command('reset <robot>')
    .description('after clearing a jam or an operator fault: check the robot is ready, resolve its alarm, let its libraries mount again')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const api = new ApiClient();
      const result = await api.post<{ robot: string; state: string; resolved: boolean }>(`/robots/${encodeURIComponent(name)}/reset`, { by: process.env.USER ?? 'operator' });
      if (opts.json) printJson(result);
      else process.stdout.write(`robot ${result.robot} is ${result.state}; ${result.resolved ? 'operator alarm resolved, mounts resume' : 'it had no open operator alarm'}\n`);
    });
}
