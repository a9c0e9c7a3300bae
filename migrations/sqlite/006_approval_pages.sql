-- GET /api/v1/approvals lists requests newest first, (requested_at, id) descending,
-- and pages on with a cursor holding the last row's key. These indexes let a page seek
-- to its cursor and read `limit` rows. Without them every page read and sorted every
-- request of its status, or every one kept for --history-retention: 35 ms per page
-- with 10,000 pending, 100 ms with 30,000 kept, paid again for each page.
-- approvals_status (status, expires_at) stays: expiry reads it.
CREATE INDEX approvals_listed ON approvals(status, requested_at, id);
CREATE INDEX approvals_requested ON approvals(requested_at, id);
