-- Alert storms write one incident row per alert. incidents.alert_key had an index
-- that no query uses (a resolve finds its firing row through the dedup_key, pending
-- approvals through approvals.alert_key), and every insert paid for it.
DROP INDEX IF EXISTS incidents_alert_key;

-- Housekeeping prunes finished executions and decided approvals older than the
-- history retention every few seconds; these keep that a range scan, not a walk
-- over every row kept.
CREATE INDEX executions_finished ON executions(finished_at) WHERE state <> 'running';
CREATE INDEX approvals_decided ON approvals(decided_at) WHERE status <> 'pending';
