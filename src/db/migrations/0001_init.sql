-- Tapestry schema, version 1 (DESIGN §4). Append-only: change the schema in a new file.

-- Libraries, drives and movers mirror the config file; the config is synced
-- into these rows at start so reports and foreign keys have something to join.
CREATE TABLE libraries (
  name            text PRIMARY KEY,
  robot           text NOT NULL,
  media_type      text NOT NULL,
  -- Enstore's library-manager states, plus BROKEN set by a NOACCESS storm.
  state           text NOT NULL DEFAULT 'unlocked'
                  CHECK (state IN ('unlocked', 'locked', 'ignore', 'pause', 'noread', 'nowrite', 'broken')),
  state_reason    text,
  state_changed_at timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE media_types (
  name               text PRIMARY KEY,
  capacity_bytes     bigint NOT NULL CHECK (capacity_bytes > 0),
  rate_bytes_per_sec bigint,            -- NULL: unlimited (simulator)
  block_size         integer NOT NULL CHECK (block_size > 0)
);

CREATE TABLE drives (
  name            text PRIMARY KEY,
  library         text NOT NULL REFERENCES libraries(name) ON UPDATE CASCADE,
  robot           text NOT NULL,
  element         integer NOT NULL CHECK (element > 0),
  state           text NOT NULL DEFAULT 'up' CHECK (state IN ('up', 'down', 'offline')),
  mounts          bigint NOT NULL DEFAULT 0,
  bytes_read      bigint NOT NULL DEFAULT 0,
  bytes_written   bigint NOT NULL DEFAULT 0,
  read_errors     integer NOT NULL DEFAULT 0,
  write_errors    integer NOT NULL DEFAULT 0,
  last_error      text,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (robot, element)
);

CREATE TABLE movers (
  name            text PRIMARY KEY,
  drive           text NOT NULL REFERENCES drives(name),
  library         text NOT NULL REFERENCES libraries(name) ON UPDATE CASCADE,
  -- Enstore's mover states, lower-cased.
  state           text NOT NULL DEFAULT 'offline'
                  CHECK (state IN ('idle', 'setup', 'mount_wait', 'seek', 'active', 'have_bound',
                                   'dismount_wait', 'draining', 'offline', 'error')),
  volume_label    text,
  request_id      bigint,
  host            text,
  data_address    text,
  last_seen       timestamptz,
  consecutive_failures integer NOT NULL DEFAULT 0,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mover_failures (
  id              bigserial PRIMARY KEY,
  mover           text NOT NULL REFERENCES movers(name) ON DELETE CASCADE,
  at              timestamptz NOT NULL DEFAULT now(),
  volume_label    text,
  code            text NOT NULL,
  message         text
);
CREATE INDEX mover_failures_by_mover ON mover_failures (mover, at);

-- Namespace: directories with inherited tags. The root has id 1 and no parent.
CREATE TABLE namespace_dirs (
  id              bigserial PRIMARY KEY,
  parent_id       bigint REFERENCES namespace_dirs(id),
  name            text NOT NULL,
  owner           text NOT NULL DEFAULT 'root',
  "group"         text NOT NULL DEFAULT 'root',
  mode            integer NOT NULL DEFAULT 493,   -- 0755
  -- file_family, file_family_width, file_family_wrapper, library, storage_group
  tags            jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CHECK ((parent_id IS NULL) = (name = ''))
);
CREATE UNIQUE INDEX namespace_dirs_name ON namespace_dirs (coalesce(parent_id, 0), name);
INSERT INTO namespace_dirs (id, parent_id, name) VALUES (1, NULL, '');
SELECT setval('namespace_dirs_id_seq', 1);

CREATE TABLE volumes (
  id              bigserial PRIMARY KEY,
  label           text NOT NULL UNIQUE,
  library         text NOT NULL REFERENCES libraries(name) ON UPDATE CASCADE,
  media_type      text NOT NULL,
  capacity_bytes  bigint NOT NULL CHECK (capacity_bytes > 0),
  remaining_bytes bigint NOT NULL CHECK (remaining_bytes >= 0),
  block_size      integer NOT NULL CHECK (block_size > 0),
  -- Next file number to write (Enstore's eod_cookie); NULL = blank, no VOL1 yet.
  eod_file_no     integer CHECK (eod_file_no IS NULL OR eod_file_no >= 1),
  -- The volume family storage_group.file_family.wrapper; 'none' marks blank pools.
  storage_group   text NOT NULL DEFAULT 'none',
  file_family     text NOT NULL DEFAULT 'none',
  wrapper         text NOT NULL DEFAULT 'none',
  -- Enstore keeps system and user inhibits apart so an operator's setting is
  -- never undone by the system, and vice versa.
  system_inhibit_access text NOT NULL DEFAULT 'none' CHECK (system_inhibit_access IN ('none', 'NOACCESS', 'NOTALLOWED', 'DELETED')),
  system_inhibit_state  text NOT NULL DEFAULT 'none' CHECK (system_inhibit_state IN ('none', 'full', 'readonly', 'migrating', 'migrated', 'duplicating', 'duplicated', 'cloning', 'cloned')),
  user_inhibit_access   text NOT NULL DEFAULT 'none' CHECK (user_inhibit_access IN ('none', 'NOACCESS', 'NOTALLOWED')),
  user_inhibit_state    text NOT NULL DEFAULT 'none' CHECK (user_inhibit_state IN ('none', 'full', 'readonly', 'migrated')),
  system_inhibit_access_at timestamptz,
  system_inhibit_state_at  timestamptz,
  user_inhibit_access_at   timestamptz,
  user_inhibit_state_at    timestamptz,
  write_protected char(1) NOT NULL DEFAULT 'n' CHECK (write_protected IN ('u', 'y', 'n')),
  -- Where the cartridge is: slot N, in drive D, in mail slot N, on a shelf, unknown.
  location_kind   text NOT NULL DEFAULT 'slot' CHECK (location_kind IN ('slot', 'drive', 'mailslot', 'shelf', 'unknown')),
  location_ref    text,
  -- What a read of an ejected volume does: fail at once, or wait for an operator.
  shelf_policy    text NOT NULL DEFAULT 'fail' CHECK (shelf_policy IN ('fail', 'operator')),
  declared_at     timestamptz NOT NULL DEFAULT now(),
  first_access_at timestamptz,
  last_access_at  timestamptz,
  modified_at     timestamptz NOT NULL DEFAULT now(),
  mounts          bigint NOT NULL DEFAULT 0,
  read_accesses   bigint NOT NULL DEFAULT 0,
  write_accesses  bigint NOT NULL DEFAULT 0,
  read_errors     bigint NOT NULL DEFAULT 0,
  write_errors    bigint NOT NULL DEFAULT 0,
  -- Kept equal to aggregates over files by trigger (DESIGN §4 invariant).
  active_files    integer NOT NULL DEFAULT 0,
  active_bytes    bigint NOT NULL DEFAULT 0,
  deleted_files   integer NOT NULL DEFAULT 0,
  deleted_bytes   bigint NOT NULL DEFAULT 0,
  unknown_files   integer NOT NULL DEFAULT 0,
  unknown_bytes   bigint NOT NULL DEFAULT 0,
  comment         text NOT NULL DEFAULT ''
);
CREATE INDEX volumes_family ON volumes (library, storage_group, file_family, wrapper);

CREATE TABLE volume_history (
  id              bigserial PRIMARY KEY,
  volume_id       bigint NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
  at              timestamptz NOT NULL DEFAULT now(),
  kind            text NOT NULL,   -- system_inhibit_access, user_inhibit_state, location, comment, family, ...
  value           text,
  actor           text NOT NULL DEFAULT 'system',
  reason          text
);
CREATE INDEX volume_history_by_volume ON volume_history (volume_id, at);

-- Files: the namespace entry and the bit-file record in one row. A file is
-- 'writing' from the moment encp creates it until its bytes, filemark and CRC
-- are confirmed; only then 'active'. Deleting keeps the row (the tape keeps the bytes).
CREATE TABLE files (
  bfid            text PRIMARY KEY,
  dir_id          bigint NOT NULL REFERENCES namespace_dirs(id),
  name            text NOT NULL,
  ns_path         text NOT NULL,
  state           text NOT NULL DEFAULT 'writing' CHECK (state IN ('writing', 'active', 'deleted')),
  size            bigint NOT NULL CHECK (size >= 0),
  crc_adler32     bigint CHECK (crc_adler32 BETWEEN 0 AND 4294967295),
  sanity_size     bigint,
  sanity_crc      bigint,
  volume_id       bigint REFERENCES volumes(id),
  file_no         integer CHECK (file_no IS NULL OR file_no >= 1),
  storage_group   text NOT NULL,
  file_family     text NOT NULL,
  wrapper         text NOT NULL,
  library         text NOT NULL,
  drive           text,
  uid             integer NOT NULL DEFAULT 0,
  gid             integer NOT NULL DEFAULT 0,
  owner           text NOT NULL DEFAULT 'root',
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  deleted_at      timestamptz,
  CHECK (state <> 'active' OR (volume_id IS NOT NULL AND file_no IS NOT NULL AND crc_adler32 IS NOT NULL))
);
-- A path names at most one live file; deleted files keep their path for reports.
CREATE UNIQUE INDEX files_live_path ON files (ns_path) WHERE state <> 'deleted';
CREATE INDEX files_by_dir ON files (dir_id, name) WHERE state <> 'deleted';
-- Two files can never claim one position on one tape.
CREATE UNIQUE INDEX files_position ON files (volume_id, file_no) WHERE file_no IS NOT NULL;

-- Volume counters follow file rows: 'unknown' = on the volume but not confirmed ('writing').
CREATE FUNCTION volume_file_counters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.volume_id IS NOT NULL THEN
    UPDATE volumes SET
      active_files  = active_files  - (OLD.state = 'active')::int,
      active_bytes  = active_bytes  - CASE WHEN OLD.state = 'active'  THEN OLD.size ELSE 0 END,
      deleted_files = deleted_files - (OLD.state = 'deleted')::int,
      deleted_bytes = deleted_bytes - CASE WHEN OLD.state = 'deleted' THEN OLD.size ELSE 0 END,
      unknown_files = unknown_files - (OLD.state = 'writing')::int,
      unknown_bytes = unknown_bytes - CASE WHEN OLD.state = 'writing' THEN OLD.size ELSE 0 END
    WHERE id = OLD.volume_id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.volume_id IS NOT NULL THEN
    UPDATE volumes SET
      active_files  = active_files  + (NEW.state = 'active')::int,
      active_bytes  = active_bytes  + CASE WHEN NEW.state = 'active'  THEN NEW.size ELSE 0 END,
      deleted_files = deleted_files + (NEW.state = 'deleted')::int,
      deleted_bytes = deleted_bytes + CASE WHEN NEW.state = 'deleted' THEN NEW.size ELSE 0 END,
      unknown_files = unknown_files + (NEW.state = 'writing')::int,
      unknown_bytes = unknown_bytes + CASE WHEN NEW.state = 'writing' THEN NEW.size ELSE 0 END
    WHERE id = NEW.volume_id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER files_volume_counters AFTER INSERT OR DELETE OR UPDATE OF state, size, volume_id ON files
  FOR EACH ROW EXECUTE FUNCTION volume_file_counters();

-- The library manager's queue lives here, so a restart loses nothing.
CREATE TABLE requests (
  id              bigserial PRIMARY KEY,
  unique_id       text NOT NULL UNIQUE,      -- a client's resubmission finds its first request
  library         text NOT NULL REFERENCES libraries(name) ON UPDATE CASCADE,
  kind            text NOT NULL CHECK (kind IN ('read', 'write')),
  state           text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'assigned', 'active', 'done', 'failed', 'cancelled')),
  priority        integer NOT NULL DEFAULT 1,
  admin           boolean NOT NULL DEFAULT false,
  -- reads: the volume label; writes: the volume family storage_group.file_family.wrapper
  key             text NOT NULL,
  bfid            text REFERENCES files(bfid),
  volume_label    text,
  file_no         integer,
  size            bigint NOT NULL DEFAULT 0,
  storage_group   text,
  file_family     text,
  wrapper         text,
  width           integer CHECK (width IS NULL OR width > 0),
  mover           text,
  attempts        integer NOT NULL DEFAULT 0,
  max_retry       integer NOT NULL DEFAULT 3,
  dismount_delay_ms integer,
  client_host     text,
  client_user     text,
  error_code      text,
  error_message   text,
  result          jsonb,
  queued_at       timestamptz NOT NULL DEFAULT now(),
  assigned_at     timestamptz,
  started_at      timestamptz,
  finished_at     timestamptz
);
CREATE INDEX requests_open ON requests (library, state, key) WHERE state IN ('queued', 'assigned', 'active');

CREATE TABLE mounts (
  id              bigserial PRIMARY KEY,
  volume_id       bigint NOT NULL REFERENCES volumes(id),
  drive           text NOT NULL REFERENCES drives(name),
  mover           text,
  state           text NOT NULL DEFAULT 'mounting' CHECK (state IN ('mounting', 'mounted', 'dismounting', 'dismounted', 'failed')),
  -- what the mount was for: write-enabled mounts count against family width
  purpose         text NOT NULL DEFAULT 'read' CHECK (purpose IN ('read', 'write')),
  requested_at    timestamptz NOT NULL DEFAULT now(),
  mounted_at      timestamptz,
  dismount_at     timestamptz,
  dismounted_at   timestamptz,
  error           text
);
CREATE INDEX mounts_by_volume ON mounts (volume_id, requested_at);
CREATE INDEX mounts_open ON mounts (drive) WHERE state IN ('mounting', 'mounted', 'dismounting');

-- One row per encp transfer (Enstore's encp_xfer / encp_error).
CREATE TABLE transfers (
  id              bigserial PRIMARY KEY,
  request_id      bigint REFERENCES requests(id),
  bfid            text,
  direction       text NOT NULL CHECK (direction IN ('read', 'write')),
  volume_label    text,
  file_no         integer,
  mover           text,
  drive           text,
  bytes           bigint NOT NULL DEFAULT 0,
  crc_adler32     bigint,
  started_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz,
  ok              boolean,
  error_code      text,
  error_message   text,
  client_host     text
);
CREATE INDEX transfers_by_request ON transfers (request_id);

-- Alarms are deduplicated by key: a repeat bumps count and last_at.
CREATE TABLE alarms (
  id              bigserial PRIMARY KEY,
  key             text NOT NULL,
  severity        text NOT NULL CHECK (severity IN ('critical', 'error', 'warning', 'info')),
  code            text NOT NULL,
  message         text NOT NULL,
  detail          jsonb NOT NULL DEFAULT '{}'::jsonb,
  count           integer NOT NULL DEFAULT 1,
  first_at        timestamptz NOT NULL DEFAULT now(),
  last_at         timestamptz NOT NULL DEFAULT now(),
  resolved_at     timestamptz,
  resolved_by     text
);
CREATE UNIQUE INDEX alarms_open_key ON alarms (key) WHERE resolved_at IS NULL;

-- Volumes a storage group may take from the common blank pool of a library.
CREATE TABLE quotas (
  library         text NOT NULL REFERENCES libraries(name) ON UPDATE CASCADE,
  storage_group   text NOT NULL,
  quota           integer NOT NULL CHECK (quota >= 0),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (library, storage_group)
);
