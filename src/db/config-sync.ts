import type { TapestryConfig } from '../config/index.ts';
import type { Queryable } from './pool.ts';

/**
 * Mirror the config's media types, libraries, drives and movers into their
 * tables so reports and foreign keys can join them. Upserts only: a library
 * or drive removed from the config keeps its row (volumes and history refer
 * to it), and run-time columns (library state, drive counters) are untouched.
 */
export async function syncConfigToDb(db: Queryable, config: TapestryConfig): Promise<void> {
  const media = [...config.mediaTypes.values()];
  await db.query(
    `INSERT INTO media_types (name, capacity_bytes, rate_bytes_per_sec, block_size)
     SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::int[])
     ON CONFLICT (name) DO UPDATE SET capacity_bytes = EXCLUDED.capacity_bytes,
       rate_bytes_per_sec = EXCLUDED.rate_bytes_per_sec, block_size = EXCLUDED.block_size`,
    [media.map((m) => m.name), media.map((m) => m.capacityBytes), media.map((m) => m.rateBytesPerSec), media.map((m) => m.blockSize)],
  );
  const libs = [...config.libraries.values()];
  await db.query(
    `INSERT INTO libraries (name, robot, media_type) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
     ON CONFLICT (name) DO UPDATE SET robot = EXCLUDED.robot, media_type = EXCLUDED.media_type`,
    [libs.map((l) => l.name), libs.map((l) => l.robot), libs.map((l) => l.mediaType)],
  );
  const drives = config.drives;
  await db.query(
    `INSERT INTO drives (name, library, robot, element) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[])
     ON CONFLICT (name) DO UPDATE SET library = EXCLUDED.library, robot = EXCLUDED.robot, element = EXCLUDED.element, updated_at = now()`,
    [drives.map((d) => d.name), drives.map((d) => d.library), drives.map((d) => d.robot), drives.map((d) => d.element)],
  );
  // One mover per drive, named after it (`tapestry start --component mover --name drive-1`).
  await db.query(
    `INSERT INTO movers (name, drive, library) SELECT * FROM unnest($1::text[], $1::text[], $2::text[])
     ON CONFLICT (name) DO UPDATE SET drive = EXCLUDED.drive, library = EXCLUDED.library`,
    [drives.map((d) => d.name), drives.map((d) => d.library)],
  );
}
