-- An automatic run stopped before its next action by a kill switch (PAUSED) or by its
-- alert's resolve (RESOLVED_BEFORE_ACTION) ends with nothing changed, and is told as an
-- outcome. Its row now records its notification like the other events told one by one,
-- so one a crash lost, or a stop cut off, or still waiting for a later round while a
-- receiver is down, is told again at the next start.
--
-- PAUSED is also the event of a decision: an alert held off by a pause, written once per
-- alert of a storm, told as a `blocked` notification the repeat filter sums up, its row
-- recording none. Only the PAUSED rows that record a notification (a run's end, one per
-- run) enter the index: a storm held off by a pause would otherwise push older unsettled
-- outcomes out of the rows startup examines. RESOLVED_BEFORE_ACTION is only ever a run's end.
--
-- audit_told (migrations 005, 007, 008, 011, 012, 013) is rebuilt with them at the end of
-- its predicate, in the order of TOLD_EVENTS in src/domain (see 008); the store's query
-- repeats the predicate exactly (src/store/sqlite/tx.ts). Rows of these events written
-- before this migration record no notification: they are never told again.
DROP INDEX audit_told;
CREATE INDEX audit_told ON audit(at) WHERE event = 'SUCCESS' OR event = 'FAILED' OR event = 'ROLLED_BACK'
  OR event = 'ROLLBACK_FAILED' OR event = 'PRE_CHECK_FAILED' OR event = 'DISRUPTION_BLOCKED' OR event = 'INTERRUPTED'
  OR event = 'CIRCUIT_TRIPPED' OR event = 'EXPIRED' OR event = 'SERVICE_PAUSED' OR event = 'SERVICE_RESUMED'
  OR event = 'RUNBOOK_PAUSED' OR event = 'RUNBOOK_RESUMED' OR event = 'RUNBOOKS_RELOAD_REFUSED'
  OR event = 'APPROVED' OR event = 'REJECTED' OR event = 'CANCELLED' OR event = 'INTAKE_REFUSED'
  OR event = 'APPROVAL_VOTE' OR event = 'CIRCUIT_CLOSED' OR event = 'COOLDOWN_CLEARED'
  OR (event = 'ALERTS_TRUNCATED' AND json_extract(details, '$.notification_id') IS NOT NULL)
  OR (event = 'PAUSED' AND json_extract(details, '$.notification_id') IS NOT NULL)
  OR event = 'RESOLVED_BEFORE_ACTION';
