-- The audit log filtered by time (GET /api/v1/audit and its export with `since`) keeps
-- each row by its own time. Times need not rise with seq: after the clock is stepped
-- back, rows are written with times older than rows before them, so the first row at
-- or after a time cannot be found by bisecting seqs. This index finds the rows at or
-- after a time directly; paging still goes by seq.
CREATE INDEX audit_at ON audit(at);
