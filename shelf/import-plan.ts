/**
 * What `volume import` does with each cartridge found in a mail slot. Pure:
 * the service looks the label up in the catalogue and on the cartridge, this
 * decides.
 */

/** What is known about one cartridge in a mail slot. */
export interface MailslotCartridge {
  readonly label: string;
  readonly mailslot: number;
  /** The catalogue's volume of that label, if any (its library and location). */
  readonly volume: { readonly library: string; readonly location: { readonly kind: string; readonly ref: string | null } } | null;
  /** True when the tape holds no record at all (no VOL1); null when this process cannot tell (real hardware). */
  readonly blank: boolean | null;
}

export type ImportAction =
  /** A known volume comes back into a storage slot. */
  | { readonly kind: 'return'; readonly label: string; readonly mailslot: number; readonly from: string }
  /** An unknown empty cartridge is entered and declared a blank volume of the common pool. */
  | { readonly kind: 'declare'; readonly label: string; readonly mailslot: number }
  /** Left in the mail slot, with why. */
  | { readonly kind: 'leave'; readonly label: string; readonly mailslot: number; readonly reason: string };

/** One action per cartridge, in mail slot order. */
export function planImport(library: string, cartridges: readonly MailslotCartridge[]): ImportAction[] {
  return [...cartridges]
    .sort((a, b) => a.mailslot - b.mailslot)
    .map((c): ImportAction => {
      const { label, mailslot } = c;
      if (c.volume !== null) {
        if (c.volume.library !== library) {
          return { kind: 'leave', label, mailslot, reason: `volume ${label} belongs to library ${c.volume.library}` };
        }
        const from = c.volume.location.ref === null ? c.volume.location.kind : `${c.volume.location.kind} ${c.volume.location.ref}`;
        return { kind: 'return', label, mailslot, from };
      }
      if (c.blank === true) return { kind: 'declare', label, mailslot };
      // A tape with data but no catalogue entry is foreign: its files must be
      // read into the catalogue first (`tapestry volume import-metadata`).
      const reason = c.blank === false ? 'unknown volume with data on it: use import-metadata' : 'unknown volume and its contents cannot be checked here';
      return { kind: 'leave', label, mailslot, reason };
    });
}
