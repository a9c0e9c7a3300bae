-- A person may end a runbook's open circuit (CIRCUIT_CLOSED by hand) or a cooldown
-- (COOLDOWN_CLEARED) before its time: for a target they have fixed, or a wait a clock
-- set back has lengthened by the step. Both are told to the receivers, and their rows
-- now record their notification like the other events told one by one. CIRCUIT_CLOSED
-- rows a trial run's success writes record none and are never told.
--
-- A cooldown is read from the last run's start (rate_events), so ending it writes
-- what it ended: `through` is the start of the last run it covers, per runbook (or its
-- Kubernetes-object key) and service (or object); a clock set back does not make the
-- clearing miss the run it was for, as a time of clearing would. The next run on that
-- service or object deletes the row: it has its cooldown again.
--
-- audit_told (migrations 005, 007, 008, 011) is rebuilt with them at the end of its
-- predicate, in the order of TOLD_EVENTS in src/domain (see 008).
CREATE TABLE IF NOT EXISTS cooldown_clears (
  runbook TEXT NOT NULL,
  subject TEXT NOT NULL,
  through INTEGER NOT NULL,
  PRIMARY KEY (runbook, subject)
);
DROP INDEX audit_told;
CREATE INDEX audit_told ON audit(at) WHERE event = 'SUCCESS' OR event = 'FAILED' OR event = 'ROLLED_BACK'
  OR event = 'ROLLBACK_FAILED' OR event = 'PRE_CHECK_FAILED' OR event = 'DISRUPTION_BLOCKED' OR event = 'INTERRUPTED'
  OR event = 'CIRCUIT_TRIPPED' OR event = 'EXPIRED' OR event = 'SERVICE_PAUSED' OR event = 'SERVICE_RESUMED'
  OR event = 'RUNBOOK_PAUSED' OR event = 'RUNBOOK_RESUMED' OR event = 'RUNBOOKS_RELOAD_REFUSED'
  OR event = 'APPROVED' OR event = 'REJECTED' OR event = 'CANCELLED' OR event = 'INTAKE_REFUSED'
  OR event = 'APPROVAL_VOTE' OR event = 'CIRCUIT_CLOSED' OR event = 'COOLDOWN_CLEARED';
