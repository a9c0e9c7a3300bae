-- An approval request that leaves the pending state is told to the receivers however
-- it leaves it: approved, rejected, cancelled (its runbook changed, or its alerts
-- resolved), as its expiry was already. Those events' rows (APPROVED, REJECTED,
-- CANCELLED) record their notification like the other events told one by one, so a
-- notification a crash lost, or a stop cut off, is told again at the next start.
--
-- audit_told (migration 005) is rebuilt with them at the end of its predicate, still
-- an OR chain of equalities (see 005 for why not IN), in the order of TOLD_EVENTS in
-- src/domain: the store's query repeats the predicate, and SQLite uses a partial index
-- only for a query whose WHERE repeats it. A storm's rows (its decisions, its
-- resolves) still enter no index; only a request actually decided adds a row here.
-- Rows of these events written before this migration record no notification and are
-- never told again.
DROP INDEX audit_told;
CREATE INDEX audit_told ON audit(at) WHERE event = 'SUCCESS' OR event = 'FAILED' OR event = 'ROLLED_BACK'
  OR event = 'ROLLBACK_FAILED' OR event = 'PRE_CHECK_FAILED' OR event = 'DISRUPTION_BLOCKED' OR event = 'INTERRUPTED'
  OR event = 'CIRCUIT_TRIPPED' OR event = 'EXPIRED' OR event = 'SERVICE_PAUSED' OR event = 'SERVICE_RESUMED'
  OR event = 'RUNBOOK_PAUSED' OR event = 'RUNBOOK_RESUMED' OR event = 'RUNBOOKS_RELOAD_REFUSED'
  OR event = 'APPROVED' OR event = 'REJECTED' OR event = 'CANCELLED';
