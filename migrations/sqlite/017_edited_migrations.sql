-- Migrations 003, 004, 009 and 013 were edited after builds had applied them. A database
-- one of those builds wrote holds the earlier text's checksum; rectify accepts it (the
-- earlier checksums are listed in src/store/sqlite/migrate.ts) and this migration brings
-- it to the schema and rows the current texts make. Every statement leaves a database
-- that applied the current texts as it is.
--
-- 003 as first shipped dropped incidents_alert_key only: the indexes housekeeping prunes
-- finished executions and decided approvals through are made here.
CREATE INDEX IF NOT EXISTS executions_finished ON executions(finished_at) WHERE state <> 'running';
CREATE INDEX IF NOT EXISTS approvals_decided ON approvals(decided_at) WHERE status <> 'pending';

-- 004 as first shipped counted a manual run's request as 1 alert; it stands for none.
-- (A request without an alert key is never joined by an alert: 0 is what the current
-- text and rectify since write for it.)
UPDATE approvals SET alerts = 0 WHERE alert_key IS NULL AND alerts <> 0;

-- 009 as first shipped replaced incidents_received_at by an index on seen_at, which it
-- set to received_at and rectify then wrote at every insert. Pruning reads
-- received_at's index; seen_at is kept as it is (a row's first delivery is no later
-- than its latest, so pruning keeps and drops the same rows).
DROP INDEX IF EXISTS incidents_seen_at;
CREATE INDEX IF NOT EXISTS incidents_received_at ON incidents(received_at);

-- 013 as first shipped indexed every ALERTS_TRUNCATED row in audit_told; migration 015
-- rebuilt audit_told since, so nothing of it is left to change here.
