/**
 * The simulated operator at a robot's mail slot (the shelf side of the I/O
 * station). Cartridges the operator takes go "to the shelf": they leave the
 * robot, but their directories stay in the tapes dir, so putting the same
 * label back later brings back the same tape with its data.
 */
import type { SimulatedLibrary } from './library.ts';

export interface MailslotView {
  readonly robot: string;
  readonly mailslots: readonly { mailslot: number; label: string | null }[];
}

export function showMailslots(sim: SimulatedLibrary, robotName: string): MailslotView {
  const robot = sim.robot(robotName);
  return { robot: robot.name, mailslots: robot.contents().mailslots.map((label, i) => ({ mailslot: i + 1, label })) };
}

/** Empty every mail slot; returns the labels now on the shelf. */
export function takeFromMailslots(sim: SimulatedLibrary, robotName: string): string[] {
  return sim.robot(robotName).operatorTakeMailslots();
}

/**
 * Put cartridges into free mail slots. A label with no cartridge in the tapes
 * dir is a new blank one of the robot's media type, created here: the robot
 * checks labels and free slots first, so a refused put creates nothing.
 */
export async function putIntoMailslots(sim: SimulatedLibrary, robotName: string, labels: readonly string[]): Promise<{ label: string; created: boolean }[]> {
  const robot = sim.robot(robotName);
  const blank = sim.blankMedia(robotName);
  robot.operatorPutMailslots(labels);
  const out: { label: string; created: boolean }[] = [];
  for (const label of labels) {
    const created = !(await sim.store.exists(label));
    if (created) await sim.store.create({ label, mediaType: blank.mediaType, capacityBytes: blank.capacityBytes });
    out.push({ label, created });
  }
  return out;
}

/** True when the cartridge holds no record (a blank tape, no VOL1); null when there is no such cartridge in the tapes dir. */
export async function cartridgeIsBlank(sim: SimulatedLibrary, label: string): Promise<boolean | null> {
  if (!(await sim.store.exists(label))) return null;
  return (await sim.store.open(label)).recordCount === 0;
}
