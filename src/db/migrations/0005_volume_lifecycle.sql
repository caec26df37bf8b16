-- Tapestry schema, version 5: the volume lifecycle (delete, restore, recycle,
-- erase). Append-only: change the schema in a new file.

-- `volume erase` removes a volume's row but keeps its history (Enstore keeps
-- the state table when a volume is erased). History rows therefore carry the
-- label the volume had when the row was written (a deleted volume is renamed
-- LABEL.deleted, an erased one is gone), and volume_id becomes a plain number:
-- ids come from a sequence and are never reused, so an erased volume's rows
-- still belong together.
ALTER TABLE volume_history ADD COLUMN label text;
-- What the changed thing was before (value is what it became); NULL for rows
-- written before version 5 and for events without a before (declared, ...).
ALTER TABLE volume_history ADD COLUMN old_value text;
UPDATE volume_history h SET label = v.label FROM volumes v WHERE v.id = h.volume_id;
ALTER TABLE volume_history DROP CONSTRAINT volume_history_volume_id_fkey;

-- Writers need not know about the label: it is filled from the volume row.
CREATE FUNCTION volume_history_label() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.label IS NULL THEN
    NEW.label := (SELECT label FROM volumes WHERE id = NEW.volume_id);
  END IF;
  IF NEW.label IS NULL THEN
    RAISE EXCEPTION 'volume_history: no volume % and no label given', NEW.volume_id;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER volume_history_label BEFORE INSERT ON volume_history
  FOR EACH ROW EXECUTE FUNCTION volume_history_label();
ALTER TABLE volume_history ALTER COLUMN label SET NOT NULL;
CREATE INDEX volume_history_by_label ON volume_history (label, at);

-- Mount accounting outlives an erased volume the same way (the id is kept).
ALTER TABLE mounts DROP CONSTRAINT mounts_volume_id_fkey;
