-- A vote on an approval request that needs more than one approver (APPROVAL_VOTE) is
-- told to the receivers: who approved, and how many more approvers it needs. Before,
-- nobody heard of a first vote until the second decided the request, and the second
-- approver had no way to learn one was awaited. Its row now records its notification
-- like the other events told one by one, so one a crash lost, or a stop cut off, is told
-- again at the next start. The rows are few: at most approvals_required - 1 per request.
--
-- audit_told (migrations 005, 007, 008) is rebuilt with it at the end of its predicate,
-- still an OR chain of equalities (see 005 for why not IN), in the order of TOLD_EVENTS
-- in src/domain: the store's query repeats the predicate, and SQLite uses a partial
-- index only for a query whose WHERE repeats it. Rows of this event written before
-- this migration record no notification and are never told again.
DROP INDEX audit_told;
CREATE INDEX audit_told ON audit(at) WHERE event = 'SUCCESS' OR event = 'FAILED' OR event = 'ROLLED_BACK'
  OR event = 'ROLLBACK_FAILED' OR event = 'PRE_CHECK_FAILED' OR event = 'DISRUPTION_BLOCKED' OR event = 'INTERRUPTED'
  OR event = 'CIRCUIT_TRIPPED' OR event = 'EXPIRED' OR event = 'SERVICE_PAUSED' OR event = 'SERVICE_RESUMED'
  OR event = 'RUNBOOK_PAUSED' OR event = 'RUNBOOK_RESUMED' OR event = 'RUNBOOKS_RELOAD_REFUSED'
  OR event = 'APPROVED' OR event = 'REJECTED' OR event = 'CANCELLED' OR event = 'INTAKE_REFUSED'
  OR event = 'APPROVAL_VOTE';
