-- rectify schema, version 1. Forward-only: a later change is a new numbered file.

-- One row per alert occurrence (or API incident) that rectify decided on.
-- dedup_key is unique: the second delivery of the same occurrence is a duplicate.
CREATE TABLE incidents (
  id           TEXT PRIMARY KEY,
  dedup_key    TEXT NOT NULL UNIQUE,
  alert_key    TEXT,
  source       TEXT NOT NULL,
  received_at  INTEGER NOT NULL,
  status       TEXT NOT NULL,
  service      TEXT NOT NULL,
  root_cause   TEXT NOT NULL,
  confidence   REAL NOT NULL,
  body         TEXT NOT NULL,
  action       TEXT NOT NULL,
  event        TEXT NOT NULL,
  runbook      TEXT,
  reason       TEXT NOT NULL,
  approval_id  TEXT,
  execution_id TEXT
);
CREATE INDEX incidents_alert_key ON incidents(alert_key) WHERE alert_key IS NOT NULL;
CREATE INDEX incidents_received_at ON incidents(received_at);

-- The audit log: append-only, enforced by the database itself.
CREATE TABLE audit (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  at           INTEGER NOT NULL,
  event        TEXT NOT NULL,
  incident_id  TEXT,
  runbook      TEXT,
  execution_id TEXT,
  actor        TEXT NOT NULL,
  details      TEXT NOT NULL
);
CREATE INDEX audit_incident ON audit(incident_id) WHERE incident_id IS NOT NULL;
CREATE INDEX audit_runbook ON audit(runbook) WHERE runbook IS NOT NULL;
CREATE INDEX audit_execution ON audit(execution_id) WHERE execution_id IS NOT NULL;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only: DELETE refused'); END;

CREATE TABLE executions (
  id            TEXT PRIMARY KEY,
  incident_id   TEXT,
  runbook       TEXT NOT NULL,
  service       TEXT NOT NULL,
  state         TEXT NOT NULL,           -- running | succeeded | failed | aborted | interrupted
  trigger       TEXT NOT NULL,           -- auto | approval | manual
  actor         TEXT NOT NULL,
  plan          TEXT NOT NULL,
  steps         TEXT NOT NULL DEFAULT '[]',
  started_at    INTEGER NOT NULL,
  finished_at   INTEGER,
  success       INTEGER,
  rolled_back   INTEGER,
  outcome       TEXT,
  circuit_trial INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX executions_running ON executions(state) WHERE state = 'running';
CREATE INDEX executions_runbook ON executions(runbook, started_at);

CREATE TABLE approvals (
  id                 TEXT PRIMARY KEY,
  incident_id        TEXT NOT NULL,
  alert_key          TEXT,
  runbook            TEXT NOT NULL,
  service            TEXT NOT NULL,
  status             TEXT NOT NULL,      -- pending | approved | rejected | expired | cancelled
  reason             TEXT NOT NULL,
  plan               TEXT NOT NULL,
  requested_at       INTEGER NOT NULL,
  requested_by       TEXT NOT NULL,
  expires_at         INTEGER NOT NULL,
  approvals_required INTEGER NOT NULL DEFAULT 1,
  decided_at         INTEGER,
  decided_by         TEXT,
  comment            TEXT,
  execution_id       TEXT
);
CREATE INDEX approvals_status ON approvals(status, expires_at);
CREATE INDEX approvals_alert_key ON approvals(alert_key) WHERE alert_key IS NOT NULL;

-- Sliding-window rate limit and cooldown: one row per execution start, pruned after the window.
CREATE TABLE rate_events (
  runbook      TEXT NOT NULL,
  service      TEXT NOT NULL,
  at           INTEGER NOT NULL,
  execution_id TEXT NOT NULL
);
CREATE INDEX rate_events_key ON rate_events(runbook, service, at);

CREATE TABLE circuits (
  runbook            TEXT PRIMARY KEY,
  state              TEXT NOT NULL,      -- closed | open | half_open
  failures           INTEGER NOT NULL,
  opened_at          INTEGER,
  trial_execution_id TEXT,
  updated_at         INTEGER NOT NULL
);

-- Executions in flight: what the blast-radius limits count. Released when the run ends.
CREATE TABLE blast_claims (
  execution_id TEXT PRIMARY KEY,
  runbook      TEXT NOT NULL,
  service      TEXT NOT NULL,
  claimed_at   INTEGER NOT NULL
);
CREATE INDEX blast_claims_runbook ON blast_claims(runbook, service);

CREATE TABLE settings (
  key        TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  updated_by TEXT NOT NULL
);
