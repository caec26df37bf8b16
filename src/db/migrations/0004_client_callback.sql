-- encp's callback listener for a write (`host:port`): the mover connects there
-- to receive the file, since the receiving side opens the data connection.
-- Kept with the request so a request re-queued after a mover failure, or
-- after a library-manager restart, still reaches the waiting encp.
ALTER TABLE requests ADD COLUMN client_callback text;
