import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnrichmentRefused, formatProblem, KUBERNETES_ENRICHMENT, namedWorkload, placeholderValue, podOwnerGiven, refusedBeforeClusterRead, refusedByOwnersReplicas, refusedByPodOwner, type DecisionResult, type LoadProblem, type RenderedCheck, type Runbook } from '../domain/index.js';
import { createEngine, createExecutionTracker } from '../engine/index.js';
import type { CheckRunner, Enricher } from '../execute/ports.js';
import type { RunOutcome } from '../execute/runner.js';
import { createManualClock, didYouMean } from '../lib/index.js';
import { createLogger, noopMetrics } from '../observability/index.js';
import { createDecide, defaultStages, withoutDecidedAgainClause, type ExecutionPlan, type Renderer } from '../pipeline/index.js';
import { CHECK_TYPES, createRunbookIndex, duplicateRunbookId, loadRunbookFile, loadRunbooks, neverChosen, renderChecks, renderPlan, type RunbookIndex } from '../runbooks/index.js';
import type { Store, Tx } from '../store/ports.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import type { Expectation, GuardState, RunbookTest, RunbookTestFile } from './file.js';

/**
 * Runs runbook tests through the real engine: the same match, guardrail stages,
 * rendering and verdict-to-decision code as `rectify serve`, on an in-memory
 * SQLite store seeded with the test's guardrail state, at the test's clock. Nothing
 * is executed: an execution the engine claims is recorded and never started, and
 * checks are never run (a MEDIUM runbook's guardrail checks answer what the test says).
 */
const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/sqlite', import.meta.url));
const APPROVAL_TTL_MS = 3_600_000;
const ACTOR = 'rectify test';
const NOT_EVALUATED = { ok: false, detail: 'not evaluated (rectify test: give the test guardrails: pass or fail)' };

/** What the engine decided, with the plan it rendered (when it rendered one). */
export interface Got {
  action: string;
  event: string;
  runbook: string | null;
  reason: string;
  plan: { actions: string[]; rollback: string[] | null; params: Record<string, string> } | null;
}

export interface Mismatch {
  field: string;
  expected: unknown;
  got: unknown;
}

export interface TestOutcome {
  test: RunbookTest;
  got: Got;
  mismatches: Mismatch[];
  /** What to change in the test when the decision turned on something only the test gives (its `enrichment:`). */
  hint?: string;
}

/**
 * The runbooks a test file names, relative to it: files and folders, loaded as at startup.
 * `warnings`: their load warnings, as `rectify lint` reports them (a runbook never chosen
 * among them all, in the order the tests match them).
 */
export function loadSuiteRunbooks(suite: RunbookTestFile): { runbooks: Runbook[]; problems: LoadProblem[]; warnings: LoadProblem[] } {
  const base = dirname(suite.file);
  const runbooks: Runbook[] = [];
  const problems: LoadProblem[] = [];
  const warnings: LoadProblem[] = [];
  const seen = new Map<string, Runbook>();
  suite.runbooks.forEach((entry, i) => {
    const path = resolve(base, entry);
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      problems.push({ file: suite.file, path: `runbooks[${i}]`, message: `no such runbook file or folder: ${path}` });
      return;
    }
    const loaded = isDir ? loadRunbooks(path) : loadRunbookFile(path);
    problems.push(...loaded.problems);
    // A runbook never chosen is judged below over every entry's runbooks together, as the
    // tests match them: one entry's own verdict would miss a catch-all in an earlier entry,
    // and name a runbook twice.
    const own = new Set(neverChosen(loaded.runbooks).map(formatProblem));
    warnings.push(...loaded.warnings.filter((w) => !own.has(formatProblem(w))));
    for (const rb of loaded.runbooks) {
      const first = seen.get(rb.id);
      if (first !== undefined) {
        problems.push(duplicateRunbookId(rb, first));
        continue;
      }
      seen.set(rb.id, rb);
      runbooks.push(rb);
    }
  });
  // No runbook loaded: every test would decide NO_RUNBOOK, and one expecting no runbook
  // would pass whatever the library holds (a path to the wrong folder, an empty one).
  if (problems.length === 0 && runbooks.length === 0) {
    problems.push({ file: suite.file, path: 'runbooks', message: `loaded no runbook: ${suite.runbooks.map((e) => JSON.stringify(e)).join(', ')} ${suite.runbooks.length === 1 ? 'holds' : 'hold'} none; name the runbook files or folders to test, relative to this file` });
  }
  // A state naming a runbook the file does not load seeds nothing that runbook reads, and
  // an expected runbook it does not load is never chosen: its tests would pass or fail for
  // another reason than the one written.
  if (problems.length === 0) {
    const ids = [...seen.keys()];
    for (const ref of suite.runbookRefs) {
      if (seen.has(ref.runbook)) continue;
      problems.push({
        file: suite.file,
        path: ref.path,
        message: `unknown runbook ${JSON.stringify(ref.runbook)}: no runbook this file loads has that id${didYouMean(ref.runbook, ids)}`,
        ...(ref.line !== undefined ? { line: ref.line } : {}),
      });
    }
  }
  warnings.push(...neverChosen(runbooks));
  return { runbooks, problems, warnings };
}

export async function runSuite(suite: RunbookTestFile, runbooks: readonly Runbook[]): Promise<TestOutcome[]> {
  const index = createRunbookIndex(runbooks);
  const out: TestOutcome[] = [];
  // One at a time: each test has its own store and clock, and order of output is order of file.
  for (const test of suite.tests) out.push(await runTest(suite, index, test));
  return out;
}

async function runTest(suite: RunbookTestFile, index: RunbookIndex, test: RunbookTest): Promise<TestOutcome> {
  const store = openSqliteStore({ path: ':memory:', migrationsDir: MIGRATIONS_DIR });
  try {
    await store.transact((tx) => seed(tx, test.state, test.now));
    const clock = createManualClock(test.now);
    const s = suite.settings;
    const available = new Set<string>(s.executors);
    const renderer: Renderer = { renderPlan, renderChecks };
    const decide = createDecide(defaultStages({ index, renderer }), {
      maxConcurrentExecutions: s.maxConcurrentExecutions,
      circuitRecoveryMs: s.circuitRecoveryMs,
      available,
      globalDryRun: s.dryRun,
    });
    const answer = test.guardrails ?? NOT_EVALUATED;
    const checks = new Map<string, CheckRunner>(
      CHECK_TYPES.map((type) => [type, { type, run: async (_c: RenderedCheck) => ({ ok: answer.ok, detail: answer.detail, attempts: 1 }) } as CheckRunner]),
    );
    // The enricher exists only where Kubernetes does, as in `rectify serve`, and there it
    // always does: what it reads is the test's enrichment, nothing when the test gives
    // none. So a count only the cluster can say (old_replicas, ready_replicas) is never
    // the incident's own, as live: with no enrichment it is missing, and the plan that
    // needs it is refused. What the enricher refuses before reading the cluster (a pod
    // and a pod_name naming different pods, a name no Kubernetes object can have) it
    // refuses here too, whatever the enrichment given. What it refuses once it has read
    // the pod's owner (an owner name, kind or count given beside the pod that is not the
    // owner's) it refuses on the owner the enrichment gives (see refusedByEnrichedOwner).
    const enrichment = test.enrichment ?? {};
    const enricher: Enricher | undefined = available.has('kubernetes')
      ? {
          enrich: async (values, _signal, opts = {}) => {
            const checkPodOwner = opts.checkPodOwner === true;
            return refusedBeforeClusterRead(values, checkPodOwner) ?? refusedByEnrichedOwner(values, checkPodOwner, enrichment) ?? { ...enrichment };
          },
        }
      : undefined;
    const notRun = async (req: { id: string }): Promise<RunOutcome> => ({ executionId: req.id, state: 'interrupted', success: false, rolledBack: false, outcome: 'not executed: rectify test only decides', event: 'INTERRUPTED' });
    const engine = createEngine({
      store,
      catalog: index,
      renderer,
      decide,
      executions: createExecutionTracker(notRun),
      checks,
      ...(enricher ? { enricher } : {}),
      clock,
      log: createLogger({ level: 'silent' }),
      metrics: noopMetrics,
      approvalTtlMs: APPROVAL_TTL_MS,
      dryRun: s.dryRun,
      circuitFailureThreshold: s.circuitFailureThreshold,
    });
    const [result] = await engine.accept([test.incident], { actor: ACTOR, mayRead: true });
    const got = describeResult(store, result!);
    const hint = enricher ? missingCountHint(test, got) : undefined;
    return { test, got, mismatches: compare(test.expect, got), ...(hint !== undefined ? { hint } : {}) };
  } finally {
    store.close();
  }
}

/**
 * The service's judgement of the pod's owner (refusedByPodOwner, refusedByOwnersReplicas),
 * made on the owner the test's `enrichment:` gives as the cluster's answer: its
 * `workload`, `deployment` or `statefulset`, of kind `workload_kind` (else the kind its
 * key names; a bare `workload` is a Deployment's), with the count `replicas` (else
 * `old_replicas`); an enrichment naming none is a pod no workload owns. Made only where
 * the service reads the pod: given a namespace and the pod, and no deployment or
 * statefulset beside it unless the runbook acts on the pod. Left out, an alert's
 * `deployment: web` beside a pod the enrichment gives to payments-api was taken as the
 * owner, and a `deployment!~"payments-.*"` exclusion held where the service refuses.
 */
function refusedByEnrichedOwner(values: Readonly<Record<string, string>>, checkPodOwner: boolean, e: Readonly<Record<string, string>>): EnrichmentRefused | undefined {
  if (values.namespace === undefined || (values.pod ?? values.pod_name) === undefined) return undefined;
  if (namedWorkload(values) !== undefined && !podOwnerGiven(values, checkPodOwner)) return undefined;
  const name = e.workload ?? e.deployment ?? e.statefulset;
  const kind = e.workload_kind ?? (e.deployment !== undefined ? 'Deployment' : e.statefulset !== undefined ? 'StatefulSet' : 'Deployment');
  const owner = name === undefined ? undefined : { kind, name };
  return refusedByPodOwner(values, checkPodOwner, owner) ?? (owner && refusedByOwnersReplicas(values, checkPodOwner, { ...owner, replicas: e.replicas ?? e.old_replicas }));
}

/** The state before the test, written through the store's own operations. */
function seed(tx: Tx, state: GuardState, now: number): void {
  if (state.paused) tx.setPaused(true, ACTOR, now);
  // Recorded in the order they started, whatever order the file lists them in: a cooldown
  // runs from the run recorded last (see lastExecutionAt).
  const runs = state.executions.map((e, i) => ({ e, id: `seeded-${i + 1}` })).sort((a, b) => a.e.at - b.e.at);
  for (const { e, id } of runs) {
    tx.consumeRate(e.runbook, e.service, e.at, id);
    if (e.running) tx.claimBlastRadius(id, e.runbook, e.service, e.at);
  }
  for (const [runbook, c] of Object.entries(state.circuits)) {
    tx.setCircuit(runbook, { state: c.state, failures: c.failures, openedAt: c.openedAt, trialExecutionId: c.state === 'half_open' ? 'seeded-trial' : null }, now);
  }
}

/**
 * Where a plan was refused for a count only the cluster says (`old_replicas`,
 * `ready_replicas`) that the test's `enrichment:` does not give: the incident's own is
 * dropped, as live, and a test author reading "no value" of a count the incident has is
 * told where the test gives it.
 */
function missingCountHint(test: RunbookTest, got: Got): string | undefined {
  if (got.event !== 'PARAM_REFUSED') return undefined;
  const fact = KUBERNETES_ENRICHMENT.facts.find((f) => got.reason.startsWith(`no value for placeholder {${f}}: it is read from the cluster`));
  if (fact === undefined || Object.hasOwn(test.enrichment ?? {}, fact)) return undefined;
  const own = placeholderValue(test.incident, fact);
  return `${fact} is the cluster's count: rectify test takes it from the test's enrichment: (what the cluster answers), never from the incident, as rectify serve does; give it there: enrichment: {${fact}: ${JSON.stringify(own ?? '3')}}`;
}

function describeResult(store: Store, r: DecisionResult): Got {
  const got: Got = { action: r.action, event: r.event, runbook: r.runbook, reason: r.reason, plan: null };
  const fromPlan = (p: ExecutionPlan | undefined): Got['plan'] =>
    p ? { actions: p.actions.map((s) => s.summary), rollback: p.rollback ? p.rollback.map((s) => s.summary) : null, params: { ...p.params } } : null;
  if (r.execution_id) got.plan = fromPlan(store.read((tx) => tx.getExecution(r.execution_id!))?.plan as ExecutionPlan | undefined);
  else if (r.approval_id) got.plan = fromPlan(store.read((tx) => tx.getApproval(r.approval_id!))?.plan as ExecutionPlan | undefined);
  else if (r.action === 'dry_run') {
    const found = store.queryAudit({ incident_id: r.incident_id, event: 'DRY_RUN', limit: 1 })[0]?.details;
    const d = typeof found === 'object' ? found : {};
    got.plan = { actions: (d.actions as string[]) ?? [], rollback: (d.rollback as string[] | null) ?? null, params: (d.params as Record<string, string>) ?? {} };
  }
  return got;
}

function compare(e: Expectation, got: Got): Mismatch[] {
  const out: Mismatch[] = [];
  const check = (field: string, expected: unknown, actual: unknown): void => {
    if (JSON.stringify(expected) !== JSON.stringify(actual)) out.push({ field, expected, got: actual });
  };
  check('action', e.action, got.action);
  if (e.event !== undefined) check('event', e.event, got.event);
  if (e.runbook !== undefined) check('runbook', e.runbook, got.runbook);
  // A reason written as it read before its re-delivery clause ("; decided again at the
  // alert's next delivery") was added still matches: the decision is the same.
  if (e.reason !== undefined) check('reason', e.reason, e.reason === withoutDecidedAgainClause(got.reason) ? e.reason : got.reason);
  if (e.actions !== undefined) check('actions', e.actions, got.plan ? got.plan.actions : undefined);
  if (e.rollback !== undefined) check('rollback', e.rollback, got.plan ? got.plan.rollback : undefined);
  if (e.params !== undefined) {
    for (const [k, v] of Object.entries(e.params)) check(`params.${k}`, v, got.plan ? (got.plan.params[k] ?? null) : undefined);
  }
  return out;
}

/** `rectify test runbooks/tests/`: the test files in a folder, by name. */
export function isTestFileName(name: string): boolean {
  return /\.tests?\.ya?ml$/.test(name) && !name.startsWith('.');
}

