import { DECISION_ACTIONS, AUDIT_EVENTS, type DecisionAction, type Incident, type LoadProblem } from '../domain/index.js';
import { alertmanagerAlertSchema, alertmanagerToIncidents, genericToIncident, incidentSchema, unreadableConfidenceMessage } from '../ingest/index.js';
import { durationHint, impossibleTime, parseDuration, parseRfc3339 } from '../lib/index.js';
import {
  checkKeys,
  createReporter,
  expectMap,
  formatPath,
  has,
  isMapValue,
  parseYamlSource,
  readBool,
  readList,
  readNonEmptyString,
  readOneOf,
  readPositiveInt,
  readString,
  readStringList,
  scalarAsText,
  sortByLine,
  type Reporter,
  type YamlMap,
  type YamlPath,
} from '../runbooks/index.js';

/**
 * The runbook test-file format read by `rectify test`, in the spirit of
 * `promtool test rules`: given incidents (a normalised incident or one
 * Alertmanager alert), a guardrail state and a clock, the expected decision, runbook,
 * reason and rendered actions. Parsing collects every problem with its YAML path
 * and line; a file with any problem runs no test.
 */
export const EXECUTOR_KINDS = ['kubernetes', 'prometheus', 'http', 'command'] as const;
export type ExecutorKind = (typeof EXECUTOR_KINDS)[number];
/**
 * What `settings.executors` may list: the executors a rectify may run without. The
 * others (http, command) every rectify has (see createExecutors), so a test cannot
 * leave them out: it would decide EXECUTOR_UNAVAILABLE where rectify never does.
 */
export const OPTIONAL_EXECUTOR_KINDS = ['kubernetes', 'prometheus'] as const;
const ALWAYS_EXECUTOR_KINDS: readonly ExecutorKind[] = EXECUTOR_KINDS.filter((k) => !(OPTIONAL_EXECUTOR_KINDS as readonly string[]).includes(k));
const CIRCUIT_STATES = ['closed', 'open', 'half_open'] as const;

/** The instant tests run at when the file names none: a Thursday, midnight UTC. */
export const DEFAULT_TEST_CLOCK = Date.UTC(2026, 0, 1);

export interface TestSettings {
  /** Every executor the test's rectify has: http and command, and the optional ones listed. */
  executors: ExecutorKind[];
  maxConcurrentExecutions: number;
  circuitRecoveryMs: number;
  circuitFailureThreshold: number;
  dryRun: boolean;
}

export interface PastExecution {
  runbook: string;
  service: string;
  at: number;
  /** Still running: it holds a blast-radius slot. */
  running: boolean;
}

export interface CircuitSeed {
  state: (typeof CIRCUIT_STATES)[number];
  failures: number;
  openedAt: number | null;
}

export interface GuardState {
  paused: boolean;
  executions: PastExecution[];
  circuits: Record<string, CircuitSeed>;
}

/** A time as written: absolute, or a duration before the test's clock. */
type When = { at: number } | { ago: number };
const resolve = (w: When, now: number): number => ('at' in w ? w.at : now - w.ago);

/** The state as written; `ago` times are resolved against each test's clock. */
interface StateSpec {
  paused: boolean;
  executions: Array<Omit<PastExecution, 'at'> & { when: When }>;
  circuits: Record<string, Omit<CircuitSeed, 'openedAt'> & { openedAt: When | null }>;
}

function resolveState(spec: StateSpec, now: number): GuardState {
  const circuits: Record<string, CircuitSeed> = {};
  for (const [id, c] of Object.entries(spec.circuits)) circuits[id] = { state: c.state, failures: c.failures, openedAt: c.openedAt === null ? null : resolve(c.openedAt, now) };
  return {
    paused: spec.paused,
    executions: spec.executions.map((e) => ({ runbook: e.runbook, service: e.service, running: e.running, at: resolve(e.when, now) })),
    circuits,
  };
}

export interface Expectation {
  action: DecisionAction;
  event?: string;
  /** null: no runbook matched. */
  runbook?: string | null;
  reason?: string;
  /** Rendered action summaries, in order. */
  actions?: string[];
  /** Rendered rollback summaries; null: the plan has no rollback. */
  rollback?: string[] | null;
  /** Placeholder values the plan used (only those listed are compared). */
  params?: Record<string, string>;
}

export interface RunbookTest {
  name: string;
  /** YAML path of the test (`tests[2]`) and its line, for messages. */
  path: string;
  line?: number;
  now: number;
  state: GuardState;
  incident: Incident;
  enrichment?: Record<string, string>;
  guardrails?: { ok: boolean; detail: string };
  expect: Expectation;
}

/** A runbook id the file names (in a `state:`, or as a test's `expect.runbook`), where it is written: it must be one the file loads. */
export interface RunbookRef {
  runbook: string;
  path: string;
  line?: number;
}

export interface RunbookTestFile {
  file: string;
  /** Runbook files or folders, as written (relative to the test file). */
  runbooks: string[];
  settings: TestSettings;
  tests: RunbookTest[];
  /** Every runbook id named in a `state:` (executions, circuits) or an `expect.runbook`, checked once the runbooks are loaded. */
  runbookRefs: RunbookRef[];
}

const FILE_KEYS = ['runbooks', 'clock', 'settings', 'state', 'tests'];
const SETTINGS_KEYS = ['executors', 'max_concurrent_executions', 'circuit_recovery', 'circuit_failure_threshold', 'dry_run'];
const STATE_KEYS = ['paused', 'executions', 'circuits'];
const EXECUTION_KEYS = ['runbook', 'service', 'at', 'ago', 'running'];
const CIRCUIT_KEYS = ['state', 'failures', 'opened_at', 'opened_ago'];
const TEST_KEYS = ['name', 'clock', 'state', 'incident', 'alert', 'enrichment', 'guardrails', 'expect'];
const EXPECT_KEYS = ['action', 'event', 'runbook', 'reason', 'actions', 'rollback', 'params'];
/** The keys of one Alertmanager alert: any other (`anotations:`) would be dropped unread. */
const ALERT_KEYS = Object.keys(alertmanagerAlertSchema.shape);


export function parseTestFile(text: string, file: string): { suite?: RunbookTestFile; problems: LoadProblem[] } {
  const source = parseYamlSource(text);
  if (source.errors.length) {
    return { problems: source.errors.map((e) => ({ file, path: '', message: `YAML syntax error at line ${e.line}: ${e.message}`, line: e.line })) };
  }
  if (source.notPlain.length) return { problems: source.notPlain.map((p) => ({ file, path: formatPath(p.path), message: p.message, line: p.line })) };
  const problems: LoadProblem[] = [];
  const r = createReporter(file, source.lineOf, problems, source.writtenAt, source.keyOf, source.emptyPairAt);
  // Runbook ids in a state, with where each is written: which exist is known only once the runbooks are loaded.
  const refs: StateRefs = [];
  const doc = source.value;
  if (!isMapValue(doc)) {
    r.report([], `expected a map with "runbooks:" and "tests:", got ${r.got([], doc)}`);
    return { problems };
  }
  checkKeys(r, doc, FILE_KEYS, []);
  let runbooks: string[] | undefined;
  if (!has(doc, 'runbooks')) r.report([], 'missing "runbooks": the runbook files or folders to test, relative to this file');
  else {
    runbooks = readStringList(r, doc.runbooks, ['runbooks']);
    if (runbooks && runbooks.length === 0) r.report(['runbooks'], 'expected at least one runbook file or folder');
  }
  const clock = has(doc, 'clock') ? readTime(r, doc.clock, ['clock']) : DEFAULT_TEST_CLOCK;
  const settings = readSettings(r, doc.settings, ['settings']);
  const state = readState(r, doc.state, ['state'], refs);
  const tests: RunbookTest[] = [];
  if (!has(doc, 'tests')) r.report([], 'missing "tests": a list of tests');
  else {
    const list = readList(r, doc.tests, ['tests']);
    if (list && list.length === 0) r.report(['tests'], 'expected at least one test');
    list?.forEach((item, i) => {
      const t = readTest(r, item, ['tests', i], clock ?? DEFAULT_TEST_CLOCK, state, refs);
      const line = source.lineOf(['tests', i], 'value');
      if (t && line !== undefined) t.line = line;
      if (t) tests.push(t);
    });
  }
  if (problems.length || !runbooks || !settings || !state) return { problems: sortByLine(problems) };
  const runbookRefs = refs.map(({ runbook, path, at }): RunbookRef => {
    const line = source.lineOf(path, at);
    return { runbook, path: formatPath(path), ...(line !== undefined ? { line } : {}) };
  });
  return { suite: { file, runbooks, settings, tests, runbookRefs }, problems: [] };
}

function readTime(r: Reporter, v: unknown, path: YamlPath): number | undefined {
  const text = v instanceof Date ? v.toISOString() : v;
  const ms = typeof text === 'string' ? parseRfc3339(text) : undefined;
  if (ms !== undefined) return ms;
  // A date that does not exist (2026-02-31, T24:00:00) is named as such: Date.parse would move it.
  r.report(path, (typeof text === 'string' ? impossibleTime(text) : undefined) ?? `expected an RFC 3339 time such as "2026-11-24T03:00:00Z", got ${r.got(path, v)}`);
  return undefined;
}

function readDurationMs(r: Reporter, v: unknown, path: YamlPath): number | undefined {
  const ms = typeof v === 'string' ? parseDuration(v) : undefined;
  if (ms !== undefined) return ms;
  r.report(path, `expected a duration such as "90s", "5m" or "1h", got ${r.got(path, v)}${durationHint(v)}`);
  return undefined;
}

/** `at: <RFC 3339>` or `ago: <duration>` before the test's clock; neither means the clock itself. */
function readWhen(r: Reporter, m: YamlMap, path: YamlPath, atKey: string, agoKey: string): When | undefined {
  if (has(m, atKey) && has(m, agoKey)) {
    r.report([...path, agoKey], `give either ${atKey} or ${agoKey}, not both`, 'key');
    return undefined;
  }
  if (has(m, atKey)) {
    const at = readTime(r, m[atKey], [...path, atKey]);
    return at === undefined ? undefined : { at };
  }
  if (has(m, agoKey)) {
    const ago = readDurationMs(r, m[agoKey], [...path, agoKey]);
    return ago === undefined ? undefined : { ago };
  }
  return { ago: 0 };
}

function readSettings(r: Reporter, v: unknown, path: YamlPath): TestSettings | undefined {
  const out: TestSettings = { executors: [...EXECUTOR_KINDS], maxConcurrentExecutions: 3, circuitRecoveryMs: 300_000, circuitFailureThreshold: 3, dryRun: false };
  if (v === undefined || v === null) return out;
  const m = expectMap(r, v, path);
  if (!m) return undefined;
  const before = r.count();
  checkKeys(r, m, SETTINGS_KEYS, path);
  if (has(m, 'executors')) {
    const list = readList(r, m.executors, [...path, 'executors']);
    if (list) {
      out.executors = [...ALWAYS_EXECUTOR_KINDS];
      list.forEach((e, i) => {
        const at = [...path, 'executors', i];
        if (typeof e === 'string' && (ALWAYS_EXECUTOR_KINDS as readonly string[]).includes(e)) {
          r.report(at, `rectify always has the ${e} executor, so a test cannot leave it out: list only the optional ones (${OPTIONAL_EXECUTOR_KINDS.join(', ')})`);
          return;
        }
        const kind = readOneOf(r, e, OPTIONAL_EXECUTOR_KINDS, at);
        if (kind) out.executors.push(kind);
      });
    }
  }
  if (has(m, 'max_concurrent_executions')) out.maxConcurrentExecutions = readPositiveInt(r, m.max_concurrent_executions, [...path, 'max_concurrent_executions']) ?? 0;
  if (has(m, 'circuit_failure_threshold')) out.circuitFailureThreshold = readPositiveInt(r, m.circuit_failure_threshold, [...path, 'circuit_failure_threshold']) ?? 0;
  if (has(m, 'circuit_recovery')) out.circuitRecoveryMs = readDurationMs(r, m.circuit_recovery, [...path, 'circuit_recovery']) ?? 0;
  if (has(m, 'dry_run')) out.dryRun = readBool(r, m.dry_run, [...path, 'dry_run']) ?? false;
  return r.count() === before ? out : undefined;
}

type StateRefs = Array<{ runbook: string; path: YamlPath; at: 'key' | 'value' }>;

function readState(r: Reporter, v: unknown, path: YamlPath, refs: StateRefs): StateSpec | undefined {
  const out: StateSpec = { paused: false, executions: [], circuits: {} };
  if (v === undefined || v === null) return out;
  const m = expectMap(r, v, path);
  if (!m) return undefined;
  const before = r.count();
  checkKeys(r, m, STATE_KEYS, path);
  if (has(m, 'paused')) out.paused = readBool(r, m.paused, [...path, 'paused']) ?? false;
  readList(r, m.executions, [...path, 'executions'])?.forEach((item, i) => {
    const at = [...path, 'executions', i];
    const e = expectMap(r, item, at, 'a map {runbook, service, at or ago, running}');
    if (!e) return;
    checkKeys(r, e, EXECUTION_KEYS, at);
    const runbook = readNonEmptyString(r, e.runbook, [...at, 'runbook']);
    const service = readNonEmptyString(r, e.service, [...at, 'service']);
    const when = readWhen(r, e, at, 'at', 'ago');
    const running = has(e, 'running') ? readBool(r, e.running, [...at, 'running']) : false;
    if (runbook) refs.push({ runbook, path: [...at, 'runbook'], at: 'value' });
    if (runbook && service && when !== undefined && running !== undefined) out.executions.push({ runbook, service, when, running });
  });
  if (has(m, 'circuits')) {
    const cm = expectMap(r, m.circuits, [...path, 'circuits'], 'a map of runbook id to circuit');
    for (const [id, c] of Object.entries(cm ?? {})) {
      const at = [...path, 'circuits', id];
      refs.push({ runbook: id, path: at, at: 'key' });
      // `restart-pod: open` is short for {state: open}.
      const body = typeof c === 'string' ? { state: c } : expectMap(r, c, at, 'a circuit state (closed, open, half_open) or a map {state, failures, opened_at or opened_ago}');
      if (!body) continue;
      checkKeys(r, body, CIRCUIT_KEYS, at);
      const state = readOneOf(r, body.state, CIRCUIT_STATES, typeof c === 'string' ? at : [...at, 'state']);
      const failures = has(body, 'failures') ? readNonNegativeInt(r, body.failures, [...at, 'failures']) : 0;
      const openedAt = state === 'closed' ? null : readWhen(r, body, at, 'opened_at', 'opened_ago');
      if (state && failures !== undefined && openedAt !== undefined) out.circuits[id] = { state, failures, openedAt };
    }
  }
  return r.count() === before ? out : undefined;
}

function readNonNegativeInt(r: Reporter, v: unknown, path: YamlPath): number | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  r.report(path, `expected an integer >= 0, got ${r.got(path, v)}`);
  return undefined;
}

function readTest(r: Reporter, v: unknown, path: YamlPath, fileClock: number, fileState: StateSpec | undefined, refs: StateRefs): RunbookTest | undefined {
  const m = expectMap(r, v, path, 'a test (a map with incident or alert, and expect)');
  if (!m) return undefined;
  const before = r.count();
  checkKeys(r, m, TEST_KEYS, path);
  const index = path[path.length - 1] as number;
  const name = has(m, 'name') ? readNonEmptyString(r, m.name, [...path, 'name']) : `test ${index + 1}`;
  const now = has(m, 'clock') ? readTime(r, m.clock, [...path, 'clock']) : fileClock;
  const state = has(m, 'state') ? readState(r, m.state, [...path, 'state'], refs) : fileState;
  const incident = now === undefined ? undefined : readIncident(r, m, path, now, index);
  const enrichment = has(m, 'enrichment') ? readValues(r, m.enrichment, [...path, 'enrichment']) : undefined;
  const guardrails = has(m, 'guardrails') ? readGuardrails(r, m.guardrails, [...path, 'guardrails']) : undefined;
  const expect = has(m, 'expect') ? readExpect(r, m.expect, [...path, 'expect'], refs) : undefined;
  if (!has(m, 'expect')) r.report(path, 'missing "expect": a test must assert at least the decision (expect: {action: …})');
  if (r.count() !== before || name === undefined || now === undefined || !state || !incident || !expect) return undefined;
  const test: RunbookTest = { name, path: formatTestPath(path), now, state: resolveState(state, now), incident, expect };
  if (enrichment) test.enrichment = enrichment;
  if (guardrails) test.guardrails = guardrails;
  return test;
}

const formatTestPath = (path: YamlPath): string => `tests[${String(path[1])}]`;

/** Exactly one of `incident:` (the normalised incident of POST /api/v1/incidents) or `alert:` (one Alertmanager v4 alert). */
const RESOLVED_INCIDENT = 'a runbook test decides on a firing incident; a resolved one is never matched to a runbook';

function readIncident(r: Reporter, m: YamlMap, path: YamlPath, now: number, index: number): Incident | undefined {
  const newId = () => `test-${index + 1}`;
  if (has(m, 'incident') && has(m, 'alert')) {
    r.report([...path, 'alert'], 'give either incident or alert, not both', 'key');
    return undefined;
  }
  if (has(m, 'incident')) {
    const at = [...path, 'incident'];
    // Said before the schema, which would ask a resolve for the id it needs at intake.
    if (isMapValue(m.incident) && m.incident.status === 'resolved') {
      r.report([...at, 'status'], RESOLVED_INCIDENT);
      return undefined;
    }
    const parsed = incidentSchema.safeParse(m.incident);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) r.report([...at, ...issue.path.map((p) => (typeof p === 'number' ? p : String(p)))], issue.message);
      return undefined;
    }
    if (parsed.data.status !== 'firing') {
      r.report([...at, 'status'], RESOLVED_INCIDENT);
      return undefined;
    }
    return genericToIncident(parsed.data, { now, newId }).incidents[0];
  }
  if (has(m, 'alert')) {
    const at = [...path, 'alert'];
    if (isMapValue(m.alert)) checkKeys(r, m.alert, ALERT_KEYS, at);
    const body = isMapValue(m.alert) && !has(m.alert, 'status') ? { ...m.alert, status: 'firing' } : m.alert;
    const parsed = alertmanagerAlertSchema.safeParse(body);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) r.report([...at, ...issue.path.map((p) => (typeof p === 'number' ? p : String(p)))], issue.message);
      return undefined;
    }
    if (parsed.data.status !== 'firing') {
      r.report([...at, 'status'], 'a runbook test decides on a firing alert; a resolved one is never matched to a runbook');
      return undefined;
    }
    const out = alertmanagerToIncidents({ alerts: [parsed.data] }, { now, newId });
    for (const p of out.problems) r.report([...at, ...p.path.split('.').slice(2)], p.message);
    // The service decides such alerts (LOW_CONFIDENCE, NO_RUNBOOK, so Alertmanager keeps
    // their group); in a test file they are a typo to fix, said where it is.
    if (out.incidents[0]?.no_root_cause) {
      r.report([...at, 'labels', 'alertname'], 'the alert has no alertname, reason or root_cause label: no runbook can match it');
      return undefined;
    }
    const unreadable = out.incidents[0]?.confidence_unreadable;
    if (unreadable) {
      // `labels.<key>` or `annotations.<key>`: the key may hold dots of its own.
      const dot = unreadable.field.indexOf('.');
      r.report([...at, unreadable.field.slice(0, dot), unreadable.field.slice(dot + 1)], unreadableConfidenceMessage(unreadable));
      return undefined;
    }
    return out.incidents[0];
  }
  r.report(path, 'missing "incident" or "alert": what the test decides on');
  return undefined;
}

function readValues(r: Reporter, v: unknown, path: YamlPath): Record<string, string> | undefined {
  const m = expectMap(r, v, path, 'a map of value name to value');
  if (!m) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(m)) {
    if (typeof x === 'string') out[k] = x;
    else if (typeof x === 'number' || typeof x === 'boolean') {
      const text = scalarAsText(r, x, [...path, k], 'a value');
      if (text !== undefined) out[k] = text;
    } else r.report([...path, k], `expected a string, number or boolean, got ${r.got([...path, k], x)}`);
  }
  return out;
}

/** `pass`, `fail` or `{fail: "why"}`: what a MEDIUM runbook's guardrail checks answer. */
function readGuardrails(r: Reporter, v: unknown, path: YamlPath): { ok: boolean; detail: string } | undefined {
  if (v === 'pass') return { ok: true, detail: 'passed (rectify test)' };
  if (v === 'fail') return { ok: false, detail: 'failed (rectify test)' };
  if (isMapValue(v) && Object.keys(v).length === 1 && typeof v.fail === 'string') return { ok: false, detail: v.fail };
  r.report(path, `expected pass, fail or {fail: "why"}, got ${r.got(path, v)}`);
  return undefined;
}

function readExpect(r: Reporter, v: unknown, path: YamlPath, refs: StateRefs): Expectation | undefined {
  const m = expectMap(r, v, path, 'a map {action, event, runbook, reason, actions, rollback, params}');
  if (!m) return undefined;
  const before = r.count();
  checkKeys(r, m, EXPECT_KEYS, path);
  const at = (k: string): YamlPath => [...path, k];
  let action: DecisionAction | undefined;
  if (!has(m, 'action')) r.report(path, 'missing "action": the decision (executed, approval_required, manual, blocked, dry_run, …)');
  else action = readOneOf(r, m.action, DECISION_ACTIONS, at('action'));
  const out: Partial<Expectation> = {};
  if (has(m, 'event')) {
    const e = readOneOf(r, m.event, AUDIT_EVENTS, at('event'));
    if (e) out.event = e;
  }
  if (has(m, 'runbook')) {
    out.runbook = m.runbook === null ? null : readNonEmptyString(r, m.runbook, at('runbook'));
    // A runbook no loaded runbook is never chosen: the test could only fail, or pass for another reason.
    if (typeof out.runbook === 'string') refs.push({ runbook: out.runbook, path: at('runbook'), at: 'value' });
  }
  if (has(m, 'reason')) out.reason = readString(r, m.reason, at('reason'));
  if (has(m, 'actions')) out.actions = readStringList(r, m.actions, at('actions'));
  if (has(m, 'rollback')) out.rollback = m.rollback === null ? null : readStringList(r, m.rollback, at('rollback'));
  if (has(m, 'params')) out.params = readValues(r, m.params, at('params'));
  if (r.count() !== before || !action) return undefined;
  return { ...out, action } as Expectation;
}
