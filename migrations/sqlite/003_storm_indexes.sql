-- Alert storms write one incident row per alert. incidents.alert_key had an index
-- that no query uses (a resolve finds its firing row through the dedup_key, pending
-- approvals through approvals.alert_key), and every insert paid for it.
DROP INDEX IF EXISTS incidents_alert_key;
