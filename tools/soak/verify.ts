/**
 * The end-of-soak check of every file the client submitted: the catalogue
 * says active with the size and adler32 the client computed, the cartridge
 * holds at (volume, file_no) the synthetic record with that seed and length
 * followed by a filemark, and the adler32 recomputed from the record's seed
 * matches. Then the catalogue as a whole: no file registered twice, no active
 * soak file the client does not know, and every volume's end-of-data equals
 * its last file_no + 1 and the cartridge's filemark count.
 */
import type pg from 'pg';
import type { CartridgeStore } from '../../hardware-sim/cartridge-store.ts';
import { syntheticChecksums } from '../../src/checksum/synthetic.ts';
import type { SoakFile } from './synthetic-client.ts';

export interface Verification {
  readonly submitted: number;
  readonly verified: number;
  readonly verifiedBytes: number;
  /** Files that did not verify, with why (the first 20). */
  readonly problems: readonly { path: string; bfid: string; reason: string }[];
  readonly problemCount: number;
  readonly registeredTwice: number;
  readonly unknownActive: number;
  readonly eodMismatches: readonly string[];
  readonly volumesUsed: number;
}

interface FileRow {
  bfid: string;
  ns_path: string;
  state: string;
  size: string;
  crc_adler32: string | null;
  file_no: number | null;
  label: string | null;
}

export async function verifySoak(pool: pg.Pool, store: CartridgeStore, files: readonly SoakFile[]): Promise<Verification> {
  const { rows } = await pool.query<FileRow>(
    `SELECT f.bfid, f.ns_path, f.state, f.size, f.crc_adler32, f.file_no, v.label
       FROM files f LEFT JOIN volumes v ON v.id = f.volume_id
      WHERE f.ns_path LIKE '/soak/%'`,
  );
  const byBfid = new Map(rows.map((r) => [r.bfid, r]));
  const problems: { path: string; bfid: string; reason: string }[] = [];
  let problemCount = 0;
  const problem = (f: SoakFile, reason: string): void => {
    problemCount++;
    if (problems.length < 20) problems.push({ path: f.path, bfid: f.bfid, reason });
  };
  let verified = 0;
  let verifiedBytes = 0;
  for (const f of files) {
    const row = byBfid.get(f.bfid);
    if (!row) { problem(f, 'no catalogue row'); continue; }
    if (row.state !== 'active') { problem(f, `catalogue state ${row.state}`); continue; }
    if (Number(row.size) !== f.size) { problem(f, `catalogue size ${row.size}, submitted ${f.size}`); continue; }
    if (row.crc_adler32 === null || Number(row.crc_adler32) !== f.crc) { problem(f, `catalogue adler32 ${row.crc_adler32}, client computed ${f.crc}`); continue; }
    if (row.label === null || row.file_no === null) { problem(f, 'active without a position'); continue; }
    try {
      const cart = await store.open(row.label);
      const at = cart.fileStart(row.file_no);
      const rec = cart.synthetic(at);
      if (rec.seed !== f.seed || rec.dataBytes !== f.size) { problem(f, `tape ${row.label}:${row.file_no} holds seed ${rec.seed}/${rec.dataBytes} bytes`); continue; }
      if (at + 1 >= cart.recordCount || cart.record(at + 1).type !== 'filemark') { problem(f, `tape ${row.label}:${row.file_no} has no filemark after its record`); continue; }
      const crc = syntheticChecksums(rec.seed, rec.dataBytes).crc;
      if (crc !== Number(row.crc_adler32)) { problem(f, `adler32 from the tape's seed ${crc} ≠ catalogue ${row.crc_adler32}`); continue; }
    } catch (err) {
      problem(f, `tape ${row.label}:${row.file_no}: ${(err as Error).message}`);
      continue;
    }
    verified++;
    verifiedBytes += f.size;
  }

  const known = new Set(files.map((f) => f.bfid));
  const unknownActive = rows.filter((r) => r.state === 'active' && !known.has(r.bfid)).length;
  const { rows: twice } = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM (SELECT ns_path FROM files WHERE state = 'active' AND ns_path LIKE '/soak/%' GROUP BY ns_path HAVING count(*) > 1) d`,
  );

  const eodMismatches: string[] = [];
  const { rows: vols } = await pool.query<{ label: string; eod_file_no: number | null; last: number | null }>(
    `SELECT v.label, v.eod_file_no, max(f.file_no) FILTER (WHERE f.state = 'active') AS last
       FROM volumes v LEFT JOIN files f ON f.volume_id = v.id
      GROUP BY v.label, v.eod_file_no ORDER BY v.label`,
  );
  let volumesUsed = 0;
  for (const v of vols) {
    if (v.eod_file_no === null) continue;
    volumesUsed++;
    const expected = (v.last ?? 0) + 1;
    if (v.eod_file_no !== expected) eodMismatches.push(`${v.label}: eod_file_no ${v.eod_file_no}, last active file ${v.last ?? 'none'}`);
    const cart = await store.open(v.label);
    if (cart.filemarkCount !== v.eod_file_no) eodMismatches.push(`${v.label}: eod_file_no ${v.eod_file_no}, ${cart.filemarkCount} filemarks on the cartridge`);
  }
  return { submitted: files.length, verified, verifiedBytes, problems, problemCount, registeredTwice: Number(twice[0]?.n ?? 0), unknownActive, eodMismatches, volumesUsed };
}
