-- An Alertmanager notification cut short by its webhook's max_alerts (ALERTS_TRUNCATED)
-- is the one trace of alerts rectify never saw: Alertmanager does not send them later.
-- Its notice is now told one by one, once per group a minute and for ten groups a minute
-- at most, and its row records its notification like the other events told one by one,
-- so one a crash lost, or a stop cut off, or still waiting for a later round while a
-- receiver is down, is told again at the next start. The others (a storm of cut-short
-- groups) are told as manual notifications, summed up by the repeat filter; their rows
-- record none and are never told again. Only the rows that record a notification enter
-- the index (ten a minute at most): a long storm of cut-short groups writes a manual row
-- per group and group_interval, and those would push older unsettled outcomes out of
-- the rows startup examines.
--
-- audit_told (migrations 005, 007, 008, 011, 012) is rebuilt with it at the end of its
-- predicate, in the order of TOLD_EVENTS in src/domain (see 008), as the one term that
-- also reads the row's details; the store's query repeats the predicate exactly
-- (src/store/sqlite/tx.ts). Rows of this event written before this migration record no
-- notification: they do not enter the index and are never told again.
DROP INDEX audit_told;
CREATE INDEX audit_told ON audit(at) WHERE event = 'SUCCESS' OR event = 'FAILED' OR event = 'ROLLED_BACK'
  OR event = 'ROLLBACK_FAILED' OR event = 'PRE_CHECK_FAILED' OR event = 'DISRUPTION_BLOCKED' OR event = 'INTERRUPTED'
  OR event = 'CIRCUIT_TRIPPED' OR event = 'EXPIRED' OR event = 'SERVICE_PAUSED' OR event = 'SERVICE_RESUMED'
  OR event = 'RUNBOOK_PAUSED' OR event = 'RUNBOOK_RESUMED' OR event = 'RUNBOOKS_RELOAD_REFUSED'
  OR event = 'APPROVED' OR event = 'REJECTED' OR event = 'CANCELLED' OR event = 'INTAKE_REFUSED'
  OR event = 'APPROVAL_VOTE' OR event = 'CIRCUIT_CLOSED' OR event = 'COOLDOWN_CLEARED'
  OR (event = 'ALERTS_TRUNCATED' AND json_extract(details, '$.notification_id') IS NOT NULL);
