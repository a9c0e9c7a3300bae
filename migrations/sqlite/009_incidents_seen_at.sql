-- The dedup retention counts from an occurrence's last delivery, not its first.
-- Alertmanager sends a firing alert again every repeat_interval (4 h by default) with
-- the same fingerprint and startsAt; with the key pruned the retention after the first
-- delivery, an alert firing for a day was decided again, and its fix run again, at the
-- first re-delivery past the retention. seen_at is the latest re-delivery of the row's
-- dedup key, 0 until one comes, so an insert (one per alert of a storm) writes nothing
-- more; pruning still finds old rows through received_at's index and keeps those
-- delivered again since.
ALTER TABLE incidents ADD COLUMN seen_at INTEGER NOT NULL DEFAULT 0;
