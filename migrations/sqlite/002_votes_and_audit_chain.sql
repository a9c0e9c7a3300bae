-- Two-person approvals: each approval keeps the votes cast so far (JSON list of
-- {by, at, comment}); it executes when approvals_required votes are in.
ALTER TABLE approvals ADD COLUMN votes TEXT NOT NULL DEFAULT '[]';

-- Tamper evidence: every audit row carries the hash of the previous row and its own
-- hash over (prev_hash, seq, at, event, incident_id, runbook, execution_id, actor, details).
-- Rows written before this migration have NULL hashes; the chain starts after them.
ALTER TABLE audit ADD COLUMN prev_hash TEXT;
ALTER TABLE audit ADD COLUMN hash TEXT;
