-- A run that started before its circuit last closed is not counted by the breaker when it
-- fails, and alerts held while the circuit was open are counted from its last close: both
-- read a runbook's last CIRCUIT_CLOSED row. Through audit_runbook that read walked every row
-- of the runbook since (an alert storm writes one per alert: about 80 ms for 300,000 rows,
-- on the event loop, inside the transaction that ends a failed run). Storm rows do not enter
-- this index; each insert only evaluates its condition.
CREATE INDEX audit_circuit_closed ON audit(runbook) WHERE event = 'CIRCUIT_CLOSED';
