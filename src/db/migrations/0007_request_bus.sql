-- The database is the bus between the request API and the library manager
-- (docs/faults-process.md): any API process serves encp whichever library
-- manager process leads, so an assignment lives on the request row, not in
-- the memory of the process that made it.
--
-- data_address/token: where encp meets the mover and the one-time token it
-- presents there. Set only once the mover has been sent its Assign (so encp
-- never reaches a mover that does not expect it); cleared on every re-queue.
ALTER TABLE requests ADD COLUMN data_address text;
ALTER TABLE requests ADD COLUMN token text;

-- Notifications (LISTEN/NOTIFY, delivered at commit, coalesced per transaction):
--   tapestry_request, payload the request id: its state or assignment changed
--     (the API's long-polls wake up);
--   tapestry_queue, payload the library: there is new or re-prioritised
--     queued work (the leading library manager schedules).
CREATE FUNCTION requests_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM pg_notify('tapestry_queue', NEW.library);
    RETURN NEW;
  END IF;
  IF NEW.state IS DISTINCT FROM OLD.state OR NEW.token IS DISTINCT FROM OLD.token OR NEW.mover IS DISTINCT FROM OLD.mover THEN
    PERFORM pg_notify('tapestry_request', NEW.id::text);
  END IF;
  IF (NEW.state = 'queued' AND OLD.state IS DISTINCT FROM 'queued') OR NEW.priority IS DISTINCT FROM OLD.priority
     OR (OLD.state IN ('assigned', 'active') AND NEW.state NOT IN ('assigned', 'active')) THEN
    PERFORM pg_notify('tapestry_queue', NEW.library);
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER requests_notify AFTER INSERT OR UPDATE ON requests
  FOR EACH ROW EXECUTE FUNCTION requests_notify();

-- A library's state change (unlock, pause, ...) also wakes its scheduler.
CREATE FUNCTION libraries_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.state IS DISTINCT FROM OLD.state THEN
    PERFORM pg_notify('tapestry_queue', NEW.name);
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER libraries_notify AFTER UPDATE ON libraries
  FOR EACH ROW EXECUTE FUNCTION libraries_notify();
