-- The dedup retention counts from an occurrence's last delivery, not its first.
-- Alertmanager sends a firing alert again every repeat_interval (4 h by default) with
-- the same fingerprint and startsAt; with the key pruned the retention after the first
-- delivery, an alert firing for a day was decided again, and its fix run again, at the
-- first re-delivery past the retention. seen_at is the latest delivery of the row's
-- dedup key (its first, until a duplicate comes); pruning reads it through its index,
-- which takes the place of received_at's (nothing else reads received_at in order).
ALTER TABLE incidents ADD COLUMN seen_at INTEGER NOT NULL DEFAULT 0;
UPDATE incidents SET seen_at = received_at;
DROP INDEX IF EXISTS incidents_received_at;
CREATE INDEX incidents_seen_at ON incidents(seen_at);
