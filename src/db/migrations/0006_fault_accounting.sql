-- Drive and media fault accounting of the library manager (docs/faults-drive-media.md,
-- reference/enstore.md §3 "Suspect volumes", "NOACCESS storm", "Mover states").

-- A (volume, mover) pair that failed a transfer with a drive or media error:
-- the scheduler never pairs them again. Kept until the mover is brought back
-- online (`tapestry mover online`: its drive was looked at) or the volume's
-- system access inhibit is cleared after these rows were made (`tapestry volume
-- clear <label> system access`: the tape was looked at) — see fault-repo.ts.
CREATE TABLE suspect_pairs (
  volume_label    text NOT NULL,
  mover           text NOT NULL,
  library         text NOT NULL,
  error_code      text NOT NULL,
  error_message   text,
  created_at      timestamptz NOT NULL,
  PRIMARY KEY (volume_label, mover)
);
CREATE INDEX suspect_pairs_library ON suspect_pairs (library);

-- One row per transfer failure counted against a mover (drive/media errors and
-- write CRC mismatches; not end of tape, not a client that went away), in the
-- `mover_failures` table of 0001, which nothing wrote until now.
-- `movers.consecutive_failures` (also from 0001) is reset by a success; both are reset by
-- `tapestry mover online` (failures_since).
ALTER TABLE mover_failures ADD COLUMN request_id bigint;
ALTER TABLE movers ADD COLUMN failures_since timestamptz;

-- Volumes the library manager set NOACCESS, per robot: the NOACCESS storm
-- (≥ N within a window on one robot) sets every library of that robot broken.
-- `libraries.fault_reset_at` (set by `tapestry library reset`) starts the count
-- afresh, so the NOACCESS that caused the storm does not cause the next one.
CREATE TABLE noaccess_events (
  id              bigserial PRIMARY KEY,
  robot           text NOT NULL,
  volume_label    text NOT NULL,
  library         text NOT NULL,
  mover           text,
  at              timestamptz NOT NULL
);
CREATE INDEX noaccess_events_robot_at ON noaccess_events (robot, at);
ALTER TABLE libraries ADD COLUMN fault_reset_at timestamptz;
