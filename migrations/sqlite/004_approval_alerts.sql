-- In an alert storm, alerts that would each ask approval for the very same plan ask
-- once: the first opens the request, the others join it while it is pending.
-- plan_key is a digest of the runbook, the service and the rendered plan (NULL for
-- requests nobody may join: manual runs, and those written before this migration);
-- alerts counts the alerts the request stands for.
ALTER TABLE approvals ADD COLUMN plan_key TEXT;
ALTER TABLE approvals ADD COLUMN alerts INTEGER NOT NULL DEFAULT 1;
CREATE INDEX approvals_plan_key ON approvals(plan_key) WHERE status = 'pending' AND plan_key IS NOT NULL;
-- A manual run's request stands for no alert.
UPDATE approvals SET alerts = 0 WHERE alert_key IS NULL;

-- The alerts a pending request stands for. A resolved alert leaves it; the last one
-- to leave cancels it. Rows go when the request is decided.
CREATE TABLE approval_alerts (
  alert_key   TEXT NOT NULL,
  approval_id TEXT NOT NULL,
  incident_id TEXT NOT NULL,
  PRIMARY KEY (alert_key, approval_id)
) WITHOUT ROWID;
CREATE INDEX approval_alerts_approval ON approval_alerts(approval_id);
INSERT INTO approval_alerts (alert_key, approval_id, incident_id)
  SELECT alert_key, id, incident_id FROM approvals WHERE status = 'pending' AND alert_key IS NOT NULL;
