-- Every path lookup that must also see deleted and abandoned rows (the file
-- clerk's fileByPath: "the live file at a path, else the most recent dead
-- one", run for every new file) could use neither partial index on ns_path
-- and scanned the whole files table: the soak's wall time per file grew with
-- the catalogue (258 million rows read by day 15). A plain index serves it.
CREATE INDEX files_by_path ON files (ns_path);
