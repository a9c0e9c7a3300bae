-- The Kubernetes objects each run under way acts on (its plan's kubernetesTargets), beside
-- its blast-radius claim: a run still under way on an object holds off the next run of the
-- runbook on that object, whichever service either is for, as it holds off the next on its
-- service. Written with the claim, deleted when the claim is released. The blast-radius
-- limits count blast_claims only.
CREATE TABLE run_objects (
  execution_id TEXT NOT NULL,
  runbook      TEXT NOT NULL,
  object       TEXT NOT NULL,
  service      TEXT NOT NULL,
  PRIMARY KEY (execution_id, object)
);
CREATE INDEX run_objects_runbook ON run_objects(runbook, object);
