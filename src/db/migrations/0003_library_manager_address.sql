-- Where each library manager listens for movers, so a mover started as its own
-- process (`tapestry start --component mover`) can find it through the database.
ALTER TABLE libraries ADD COLUMN lm_address text;
ALTER TABLE libraries ADD COLUMN lm_started_at timestamptz;
