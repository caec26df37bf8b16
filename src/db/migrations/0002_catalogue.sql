-- Tapestry schema, version 2: what the namespace, the file clerk and the volume
-- clerk need beyond version 1. Append-only: change the schema in a new file.

-- bfids are BRAND + seconds * 100000 + (nextval % 100000): the sequence is
-- shared by every process, so two allocations in the same second never get the
-- same counter unless 100000 are made in that one second.
CREATE SEQUENCE bfid_seq;

-- A write that failed after the mover had claimed a position on tape: the row
-- stays 'writing' (its bytes may be on tape, counted as 'unknown' on the
-- volume) but no longer owns its path, so the user can write the path again.
ALTER TABLE files ADD COLUMN abandoned_at timestamptz;
DROP INDEX files_live_path;
CREATE UNIQUE INDEX files_live_path ON files (ns_path) WHERE state <> 'deleted' AND abandoned_at IS NULL;
DROP INDEX files_by_dir;
CREATE INDEX files_by_dir ON files (dir_id, name) WHERE state <> 'deleted' AND abandoned_at IS NULL;

-- Path walks join on (parent_id, name); the unique index of version 1 is on an
-- expression (coalesce(parent_id, 0)) that such a join cannot use.
CREATE INDEX namespace_dirs_parent ON namespace_dirs (parent_id, name);
