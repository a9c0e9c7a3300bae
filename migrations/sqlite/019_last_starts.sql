-- The start of the last run per runbook (or its Kubernetes-object key) and service (or
-- object): what a cooldown runs from. It was read from the last rate-limit row, which
-- housekeeping prunes once it is older than the hour max_per_hour reads and the longest
-- cooldown of the runbooks loaded; a cooldown lengthened by a reload or a restart past the
-- age of that row no longer found the run it was to hold off from. A row here is replaced
-- by the next run's start (the one recorded last, as the rate-limit row read was) and
-- pruned only when older than the longest cooldown a runbook may have (a year) and a
-- minute. Filled from the rate-limit rows kept: the last recorded of each.
CREATE TABLE last_starts (
  runbook TEXT NOT NULL,
  subject TEXT NOT NULL,
  at      INTEGER NOT NULL,
  PRIMARY KEY (runbook, subject)
);
CREATE INDEX last_starts_at ON last_starts(at);
-- (SQLite takes the bare column `at` from the row MAX(rowid) picks.)
INSERT INTO last_starts (runbook, subject, at)
  SELECT runbook, service, at FROM (SELECT runbook, service, at, MAX(rowid) FROM rate_events GROUP BY runbook, service);
