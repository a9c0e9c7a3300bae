-- Who asked for an approval request, as decided when they asked: a JSON list of the
-- people (an API token that may do more than send alerts, a manual run's author) whose
-- alert opened the request or joined it. An alert sent by Alertmanager's ingest-only
-- token, or with no tokens, adds no one. A Slack user given no rectify name cannot be
-- told apart from any of them, and none of them may approve it. Kept with the request,
-- so a tokens file reloaded before the approval does not change who asked.
-- NULL for requests written before: who opened them is judged when they are approved.
ALTER TABLE approvals ADD COLUMN asked_by TEXT;
