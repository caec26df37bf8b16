/**
 * `<label>.files.csv`: the active files of an exported volume, one row each,
 * for people and spreadsheets (the JSON document is what programs read).
 * RFC 4180: comma-separated, CRLF line ends, a field quoted when it holds a
 * comma, a quote or a line break (namespace paths may hold all three).
 */
import { adler32Hex, type VolumeMetadata } from './format.ts';

export const CSV_COLUMNS = [
  'file_no', 'path', 'size', 'adler32', 'adler32_hex', 'uid', 'gid', 'user',
  'created_at', 'modified_at', 'bfid', 'sanity_size', 'sanity_adler32',
] as const;

function field(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function filesCsv(m: VolumeMetadata): string {
  const rows = m.files.map((f) => [
    f.fileNo, f.path, f.size, f.adler32, adler32Hex(f.adler32), f.uid, f.gid, f.user,
    f.createdAt, f.modifiedAt, f.bfid, f.sanitySize, f.sanityAdler32,
  ]);
  return [CSV_COLUMNS as readonly (string | number | null)[], ...rows].map((r) => r.map(field).join(',') + '\r\n').join('');
}

/** Split CSV text into rows of fields (RFC 4180 quoting); for tests and tools that read the file back. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      // the \n ends the row
    } else if (c === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) rows.push([...row, cell]);
  return rows;
}
