-- The audit log is the outbox for notifications told one by one (execution outcomes,
-- breaker trips, expiries, kill switches, refused runbook reloads): the
-- audit row of such an event records its notification_id and what was told, and at
-- startup one a receiver has no delivery record of is told to it again.
--
-- Two partial indexes find those rows without a scan of the log. Their predicates are
-- OR chains of equalities on purpose: SQLite evaluates `event IN (...)` with more than
-- two values through a temporary table built per INSERT, which measured 2 to 3 µs
-- more per row of an alert storm; an OR chain costs nothing measurable. Rows of other
-- events (every storm decision) enter neither index.

-- The rows of events told one by one, by time: the last 24 hours are one range.
CREATE INDEX audit_told ON audit(at) WHERE event = 'SUCCESS' OR event = 'FAILED' OR event = 'ROLLED_BACK'
  OR event = 'ROLLBACK_FAILED' OR event = 'PRE_CHECK_FAILED' OR event = 'DISRUPTION_BLOCKED' OR event = 'INTERRUPTED'
  OR event = 'CIRCUIT_TRIPPED' OR event = 'EXPIRED' OR event = 'SERVICE_PAUSED' OR event = 'SERVICE_RESUMED'
  OR event = 'RUNBOOK_PAUSED' OR event = 'RUNBOOK_RESUMED' OR event = 'RUNBOOKS_RELOAD_REFUSED';

-- The delivery records (NOTIFIED, NOTIFY_FAILED) of one notification, by its id.
CREATE INDEX audit_notification ON audit(json_extract(details, '$.notification_id'))
  WHERE event = 'NOTIFIED' OR event = 'NOTIFY_FAILED';
