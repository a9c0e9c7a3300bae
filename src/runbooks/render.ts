import type { Plan, RenderedStep } from '../domain/decision.js';
import { isClusterFact, loweredReplicaCap, MAX_REPLICAS_VALUE, PLANNED_FROM_VALUE, REPLICA_CAP_CHECK, runbookReplicaCap } from '../domain/enrichment.js';
import { checkParam, quoteUntrusted } from '../domain/params.js';
import type { ActionSpec, CheckSpec, KubernetesActionSpec, ParamKind, Placeholder, Runbook, Template } from '../domain/runbook.js';
import type { RenderedAction, RenderedCheck, RenderedKubernetesAction } from '../domain/steps.js';
import { namedCheck, namedCheckValueKeys } from './named.js';
import { remoteAddressFromValue, type ValueSpan } from './remote-address.js';
import { compileTemplate, isLiteral, literalText, placeholders } from './template.js';
import { originOf } from './url.js';
import { promqlRegexLiteral } from '../lib/index.js';

/**
 * Rendering is the only place untrusted values (alert labels, incident context)
 * enter an action or a check. Every value is checked against the safe pattern for
 * the position it fills, BEFORE any step runs; one bad value refuses the whole
 * plan, rollback included (a plan that could not be rolled back is not started).
 */
export type Refusal = { ok: false; param: string; reason: string };
export type PlanRender = { ok: true; plan: Plan } | Refusal;
export type ChecksRender = { ok: true; checks: RenderedCheck[] } | Refusal;

interface Renderer {
  /** The template filled in; after a refusal, returns '' and keeps the first refusal. */
  fill(t: Template, where: string): string;
  /** As fill, with where each value landed in the text. */
  fillSpans(t: Template, where: string): { text: string; spans: ValueSpan[] };
  refuse(param: string, reason: string): void;
  /** A value the incident has (context, labels, enrichment), unchecked: for what the plan records beside its steps. */
  value(name: string): string | undefined;
  readonly used: Record<string, string>;
  readonly refusal: Refusal | undefined;
}

function createRenderer(values: Readonly<Record<string, string>>): Renderer {
  const used: Record<string, string> = {};
  let refusal: Refusal | undefined;
  const refuse = (param: string, reason: string): void => {
    refusal ??= { ok: false, param, reason };
  };
  const fillSpans = (t: Template, where: string): { text: string; spans: ValueSpan[] } => {
    let out = '';
    // Where each value landed: [start, end) and its placeholder, to tell the alert's text from the runbook's.
    const spans: ValueSpan[] = [];
    for (const part of t.parts) {
      if (typeof part === 'string') {
        out += part;
        continue;
      }
      const value = lookup(values, part.param);
      if (value === undefined) {
        refuse(part.param, `no value for placeholder {${part.param}} (not in the incident's context or labels)`);
        return { text: '', spans: [] };
      }
      const why = unsafe(part.kind, value);
      if (why) {
        refuse(part.param, `placeholder {${part.param}} in ${where}: value ${quoteUntrusted(value)} ${why}`);
        return { text: '', spans: [] };
      }
      used[part.param] = value;
      const text = written(part, value);
      spans.push({ start: out.length, end: out.length + text.length, param: part.param });
      out += text;
    }
    if (spans.length > 0 && out.includes('${')) {
      const formed = referenceFromValues(out, spans);
      if (formed) {
        refuse(formed.param, `placeholder {${formed.param}} in ${where}: with the text around it, its value would form or change the secret reference ${quoteUntrusted(formed.text)}`);
        return { text: '', spans: [] };
      }
    }
    return { text: out, spans };
  };
  return {
    used,
    get refusal() {
      return refusal;
    },
    refuse,
    value: (name) => lookup(values, name),
    fill: (t, where) => fillSpans(t, where).text,
    fillSpans,
  };
}

/**
 * A secret reference (`${…}`, resolved by the executor at run time) in `out` with any
 * character from a value: one value is checked not to hold "${", but two side by
 * side ("$" and "{file:/x}"), or a value beside the runbook's own text, could still
 * make one, naming a secret or a file the runbook never named.
 */
function referenceFromValues(out: string, spans: readonly ValueSpan[]): { text: string; param: string } | undefined {
  for (let i = out.indexOf('${'); i >= 0; i = out.indexOf('${', i + 1)) {
    const close = out.indexOf('}', i + 2);
    const end = close < 0 ? out.length : close + 1;
    const from = spans.find((v) => v.start < end && i < v.end);
    if (from) return { text: out.slice(i, end), param: from.param };
  }
  return undefined;
}

function lookup(values: Readonly<Record<string, string>>, name: string): string | undefined {
  if (!Object.prototype.hasOwnProperty.call(values, name)) return undefined;
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** A checked value as the text around it needs it (Placeholder.escape). */
function written(part: Placeholder, value: string): string {
  if (!part.escape) return value;
  return promqlRegexLiteral(value, part.escape === 'promql_regex' ? 'escaping' : 'raw');
}

function unsafe(kind: ParamKind, value: string): string | undefined {
  const check = checkParam(kind, value);
  if (!check.ok) return check.reason;
  // Secret references are resolved after rendering: a value that smuggles one in
  // would make the executor send a secret wherever this value goes.
  if (value.includes('${')) return 'contains "${", which would be read as a secret reference';
  return undefined;
}

export function renderPlan(runbook: Runbook, values: Readonly<Record<string, string>>): PlanRender {
  const rr = createRenderer(values);
  const opts: StepOptions = { maxUnavailable: runbook.maxUnavailable, replicaCap: replicaCap(runbook, values) };
  const actions = runbook.actions.map((a, i) => renderStep(rr, a, i, 'action', opts));
  const rollback = runbook.rollback ? runbook.rollback.map((a, i) => renderStep(rr, a, i, 'rollback', opts)) : null;
  if (rr.refusal) return rr.refusal;
  return { ok: true, plan: { params: { ...rr.used }, actions, rollback } };
}

/** @param where how steps are named in refusals: "pre_check" gives "pre_check 2". */
export function renderChecks(specs: readonly CheckSpec[], values: Readonly<Record<string, string>>, where = 'check'): ChecksRender {
  // Most runbooks have no pre- or post-checks; a storm renders them once per alert.
  if (specs.length === 0) return { ok: true, checks: [] };
  const rr = createRenderer(values);
  const checks = specs.map((c, i) => renderCheck(rr, c, values, `${where} ${i + 1}`));
  if (rr.refusal) return rr.refusal;
  return { ok: true, checks };
}

/** What the runbook adds to every Kubernetes step: its blast-radius share, and the most replicas a scale to a filled count may ask for. */
interface StepOptions {
  maxUnavailable: string | null;
  replicaCap: ReplicaCap;
}

/** The most replicas a scale to a count filled from values may ask for, and whose cap it is (for the refusal). */
interface ReplicaCap {
  max: number;
  by: string;
}

/**
 * A runbook's replica cap (runbookReplicaCap: the lowest `max_replicas` of its
 * current_replicas_below_max checks, else DEFAULT_MAX_REPLICAS); the incident's
 * `max_replicas` may lower it, never raise it (as the check and enrichment's
 * `new_replicas` read it). Without it, a label `new_replicas=999999` filled
 * `--replicas={new_replicas}` as written: the 6-digit integer pattern was its only
 * bound, and the check that enforces the cap is optional.
 */
function replicaCap(runbook: Runbook, values: Readonly<Record<string, string>>): ReplicaCap {
  const own = runbookReplicaCap(runbook);
  const max = loweredReplicaCap(own.max, lookup(values, MAX_REPLICAS_VALUE));
  if (max < own.max) return { max, by: `the incident's ${MAX_REPLICAS_VALUE}, which may lower the runbook's ${own.max}` };
  return { max, by: own.fromCheck ? `the runbook's ${REPLICA_CAP_CHECK} max_replicas` : "rectify's default max_replicas" };
}

function renderStep(rr: Renderer, spec: ActionSpec, index: number, phase: 'action' | 'rollback', opts: StepOptions): RenderedStep {
  const rendered = renderAction(rr, spec, `${phase} ${index + 1}`, phase, opts);
  return { index, phase, type: spec.type, summary: summarize(rendered), spec: rendered };
}

function renderAction(rr: Renderer, spec: ActionSpec, where: string, phase: RenderedStep['phase'], opts: StepOptions): RenderedAction {
  switch (spec.type) {
    case 'kubernetes': {
      const args: Record<string, string> = {};
      for (const [k, t] of Object.entries(spec.args)) args[k] = rr.fill(t, where);
      // The executor enforces the runbook's max_unavailable on evictions, drains and scale-downs.
      if (opts.maxUnavailable !== null) args.max_unavailable = opts.maxUnavailable;
      // Scaling to 0 only when the runbook itself says 0 (never a value from an alert);
      // compile allows that only on HIGH-risk runbooks, so a person approves every run.
      const replicas = spec.args.replicas;
      if (spec.verb === 'scale' && replicas && isLiteral(replicas) && literalText(replicas) === '0') args.allow_zero = 'true';
      // The count the plan's replicas were worked out from (the cluster's, read when the
      // alert was decided): the executor refuses a scale the workload has since moved past
      // the other way (a scale-up from 3 to 4 after an autoscaler raised it to 6 would lower it).
      // (A plan cache keys on this value too: see renderReads.)
      const from = phase === 'action' && spec.verb === 'scale' && replicas && !isLiteral(replicas) ? rr.value(PLANNED_FROM_VALUE) : undefined;
      if (from !== undefined && /^[0-9]{1,9}$/.test(from)) args.planned_from = from;
      const rendered: RenderedKubernetesAction = {
        type: 'kubernetes',
        verb: spec.verb,
        kind: spec.kind,
        name: fillKube(rr, spec.name, 'k8s_name', where),
        namespace: spec.namespace ? fillKube(rr, spec.namespace, 'k8s_label', where) : null,
        args,
        timeoutMs: spec.timeoutMs,
      };
      if (spec.verb === 'scale' && replicas && !isLiteral(replicas)) checkFilledReplicas(rr, replicas, rendered, where, phase, opts.replicaCap);
      const revision = spec.args.to_revision;
      if (spec.verb === 'rollout_undo' && revision && !isLiteral(revision)) checkFilledRevision(rr, revision, rendered, where);
      return rendered;
    }
    case 'http':
      return {
        type: 'http',
        method: spec.method,
        url: fillUrl(rr, spec.url, where),
        headers: fillHeaders(rr, spec.headers, where),
        body: fillBody(rr, spec.body, where),
        expectStatus: [...spec.expectStatus],
        timeoutMs: spec.timeoutMs,
      };
    case 'command':
      return { type: 'command', argv: spec.argv.map((t, i) => fillArgument(rr, t, where, i)), timeoutMs: spec.timeoutMs };
  }
}

/**
 * A command argument: each value fits the argument pattern, and the argument they
 * make with the runbook's text must not be a URL or a remote address whose scheme,
 * host or user a value chose (see remoteAddressFromValue).
 */
function fillArgument(rr: Renderer, t: Template, where: string, index: number): string {
  const { text, spans } = rr.fillSpans(t, where);
  if (rr.refusal || spans.length === 0) return text;
  const remote = remoteAddressFromValue(text, spans);
  if (remote) {
    rr.refuse(
      remote.param,
      `placeholder {${remote.param}} in ${where}: value ${quoteUntrusted(rr.used[remote.param] ?? '')} makes argv[${index}] ${quoteUntrusted(text)} ${remote.form}: an alert must not choose the file or host a program reads; write the scheme and host in the runbook`,
    );
    return text;
  }
  const segment = pathSegmentFromValue(text, spans);
  if (segment) {
    const value = quoteUntrusted(rr.used[segment.param] ?? '');
    const made = segment.form === undefined ? `is only "/" (argv[${index}] ${quoteUntrusted(text)})` : `makes argv[${index}] ${quoteUntrusted(text)} have ${segment.form}`;
    rr.refuse(segment.param, `placeholder {${segment.param}} in ${where}: value ${value} ${made}: a label must not widen or climb out of the directory the runbook names`);
  }
  return text;
}

/**
 * A path a value widens or leaves: a value of "/" alone (form undefined) after the
 * runbook's own text, or an empty path segment ("//") or a "." or ".." one that a value
 * helped form (one of its characters, or a separator around it, is a value's). Filled
 * into "/var/cache/app/{queue}", "/" is the whole directory, as an empty value
 * (refused) would be; given whole, or after an option's "=" or a list's "," or ":"
 * ("--mountpoint={mountpoint}"), "/" is a path like any other the value could name.
 * The argument pattern refuses "." and ".." segments in a value alone, but beside the
 * runbook's text or another value one can form: "/srv/{svc}/cache" with "a/" is
 * "/srv/a//cache", "/srv/..{svc}" with "/etc" is "/srv/../etc". A segment starts after
 * "/", "=", "," or ":" ("--paths=a,../etc", "PATH=a:.."), as programs reading key=value
 * arguments and lists take it. The runbook's own "//" and ".." (`https://…`,
 * `../shared`) are its author's.
 */
function pathSegmentFromValue(text: string, spans: readonly ValueSpan[]): { param: string; form: string | undefined } | undefined {
  const slashes = spans.find((v) => /^\/+$/.test(text.slice(v.start, v.end)) && v.start > 0 && !SEGMENT_START.test(text[v.start - 1]!));
  if (slashes) return { param: slashes.param, form: undefined };
  const from = (lo: number, hi: number): string | undefined => spans.find((v) => v.start < hi && lo < v.end)?.param;
  // Empty segments: "//" (a "/" at either end of which, or between which, is a value's).
  for (let i = text.indexOf('//'); i >= 0; i = text.indexOf('//', i + 1)) {
    const param = from(i, i + 2);
    if (param !== undefined) return { param, form: 'an empty path segment ("//")' };
  }
  // "." and ".." segments, with the separators around them ([start - 1, end + 1) within the text).
  for (let start = 0; start <= text.length; ) {
    const rest = text.slice(start).search(SEGMENT_SEPARATOR);
    const end = rest < 0 ? text.length : start + rest;
    const seg = text.slice(start, end);
    if (seg === '.' || seg === '..') {
      const param = from(start > 0 ? start - 1 : start, rest < 0 ? end : end + 1);
      if (param !== undefined) return { param, form: `a ${JSON.stringify(seg)} path segment` };
    }
    if (rest < 0) break;
    start = end + 1;
  }
  return undefined;
}
const SEGMENT_SEPARATOR = /[/=,:]/;
/** What may stand right before a value of "/" alone: an option's "=", a list's "," or ":". */
const SEGMENT_START = /[=,:]/;

function renderCheck(rr: Renderer, spec: CheckSpec, values: Readonly<Record<string, string>>, where: string): RenderedCheck {
  switch (spec.type) {
    case 'named': {
      // Named checks read incident values directly; those they read are checked here like placeholders.
      for (const [key, kind] of Object.entries(namedCheck(spec.name)?.reads ?? {})) {
        const v = lookup(values, key);
        if (v === undefined) continue;
        const why = unsafe(kind, v);
        if (why) rr.refuse(key, `{${key}} read by ${where} (${spec.name}): value ${quoteUntrusted(v)} ${why}`);
      }
      const read: Record<string, string> = {};
      for (const key of namedCheckValueKeys(spec.name)) {
        const v = lookup(values, key);
        if (v !== undefined) read[key] = v;
      }
      return { type: 'named', name: spec.name, params: { ...spec.params }, values: read, timeoutMs: spec.timeoutMs, intervalMs: spec.intervalMs, ...(spec.onNoData ? { onNoData: spec.onNoData } : {}) };
    }
    case 'promql':
      return {
        type: 'promql',
        query: rr.fill(spec.query, where),
        expect: { ...spec.expect },
        forMs: spec.forMs,
        timeoutMs: spec.timeoutMs,
        intervalMs: spec.intervalMs,
        onEmpty: spec.onEmpty,
        ...(spec.onNoData ? { onNoData: spec.onNoData } : {}),
      };
    case 'http':
      return {
        type: 'http',
        method: spec.method,
        url: fillUrl(rr, spec.url, where),
        headers: fillHeaders(rr, spec.headers, where),
        expectStatus: [...spec.expectStatus],
        timeoutMs: spec.timeoutMs,
        intervalMs: spec.intervalMs,
      };
    case 'kubernetes':
      return {
        type: 'kubernetes',
        condition: spec.condition,
        kind: spec.kind,
        name: fillKube(rr, spec.name, 'k8s_name', where),
        namespace: spec.namespace ? fillKube(rr, spec.namespace, 'k8s_label', where) : null,
        params: { ...spec.params },
        timeoutMs: spec.timeoutMs,
        intervalMs: spec.intervalMs,
        ...(spec.onNoData ? { onNoData: spec.onNoData } : {}),
      };
  }
}

/**
 * A replica count filled from values, refused here rather than by the executor, so
 * the decision is PARAM_REFUSED before anything is claimed: no execution, no rate
 * limit unit, no breaker failure. The executor refuses a 0 from a value too, but only
 * once the run has started, and then whoever can send alerts could spend a runbook's
 * rate limit and open its circuit with a count rectify never acts on. The count the
 * values make together must be a whole number, and not 0: only a runbook that writes
 * `--replicas=0` itself scales to 0. Nor, for a scale-up, above the runbook's cap (see
 * replicaCap): refused, not lowered to it, since a count nobody asked for is not what
 * was asked. Only a scale-up: a count above the cap but not above the cluster's count
 * before the run (`old_replicas`, a cluster fact an alert never gives) lowers or keeps
 * the workload, as a scale-down from 30 to 20 under a cap of 10 does; refused, it
 * could not run at all. Without that count (not read) a count above the cap is refused,
 * since nothing says it is a scale-down; the executor refuses an action whose workload
 * has since moved past its target the other way (planned_from).
 * One exception to both: a rollback's `{old_replicas}`, the cluster's own count before
 * the run (an alert's value of that name is dropped), which may be 0 or above the cap
 * (a deployment already past it is put back as it was); the executor puts a 0 back only
 * when this run's own scale read it.
 */
function checkFilledReplicas(rr: Renderer, t: Template, a: RenderedKubernetesAction, where: string, phase: RenderedStep['phase'], cap: ReplicaCap): void {
  if (rr.refusal) return;
  const text = a.args.replicas ?? '';
  const filled = placeholders(t);
  const param = filled[0]?.param ?? '';
  const check = checkParam('integer', text);
  if (!check.ok) {
    rr.refuse(param, `${where}: replicas ${quoteUntrusted(text)} ${check.reason}`);
    return;
  }
  if (phase === 'rollback' && t.parts.length === 1 && filled.length === 1 && isClusterFact(param)) return;
  const target = `${a.kind} ${a.namespace ? `${a.namespace}/` : ''}${a.name}`;
  const count = Number(text);
  // The value quoted is the placeholder's; the count it makes is said apart when the runbook's text adds to it (`1{n}`).
  const value = rr.used[param] ?? text;
  const makes = value === text ? `value ${quoteUntrusted(value)} would scale` : `value ${quoteUntrusted(value)} makes the count ${count} (replicas ${quoteUntrusted(text)}), which would scale`;
  const from = rr.value(PLANNED_FROM_VALUE);
  const current = from !== undefined && checkParam('integer', from).ok ? Number(from) : undefined;
  if (count > cap.max && (current === undefined || count > current)) {
    const fromWhat = current !== undefined ? `from ${current} ` : '';
    const unknown = current === undefined ? ` (its current count was not read from the cluster, so this may not be taken for a scale-down)` : '';
    rr.refuse(
      param,
      `placeholder {${param}} in ${where}: ${makes} ${target} ${fromWhat}to ${count} replicas${unknown}, above the cap of ${cap.max} (${cap.by}): ` +
        `a scale-up to a count from ${replicaSource(filled.map((p) => p.param))} above the cap is refused, not lowered to it; to allow more, ${raiseCapAdvice(a)}`,
    );
    return;
  }
  if (count !== 0) return;
  rr.refuse(
    param,
    `placeholder {${param}} in ${where}: ${makes} ${target} to 0 replicas, removing every replica: rectify scales to 0 only when the runbook itself writes --replicas=0 (a HIGH-risk runbook: a person approves every run), never with a value from an alert or a run's params`,
  );
}

/**
 * A `to_revision` filled from values that makes 0 (or 00): no deployment has revision 0
 * (kubectl reads 0 as "the previous one", rectify as no revision at all). Refused here,
 * so the decision is PARAM_REFUSED before a person is asked to approve a plan the
 * executor would refuse ("not a revision number") once the run had started.
 */
function checkFilledRevision(rr: Renderer, t: Template, a: RenderedKubernetesAction, where: string): void {
  if (rr.refusal) return;
  const text = a.args.to_revision ?? '';
  if (!/^0+$/.test(text)) return;
  const param = placeholders(t)[0]?.param ?? '';
  const value = rr.used[param] ?? text;
  const makes = value === text ? `value ${quoteUntrusted(value)}` : `value ${quoteUntrusted(value)} makes to_revision ${quoteUntrusted(text)}, which`;
  rr.refuse(param, `placeholder {${param}} in ${where}: ${makes} is not a revision number (a deployment's revisions start at 1); to roll back to the previous revision, leave to_revision out`);
}

/**
 * Where the values filling a replica count above the cap come from, as the refusal names
 * them: a cluster fact (`ready_replicas`) is the cluster's. Any other is the alert's or
 * the run's: Kubernetes enrichment's own `replicas` and `new_replicas` are never above
 * both the cap and the count it read (`new_replicas` is computed against this same cap),
 * and without that count read there is none of enrichment's.
 */
function replicaSource(params: readonly string[]): string {
  if (params.length > 0 && params.every(isClusterFact)) return 'the cluster (read by Kubernetes enrichment)';
  return "the alert or the run's params";
}

/**
 * How to raise the cap for this scale. The current_replicas_below_max check reads only
 * `deployment`: in a statefulset's runbook it fails on every run, so its advice there
 * is to write the count in the runbook.
 */
function raiseCapAdvice(a: RenderedKubernetesAction): string {
  if (a.kind === 'statefulset') return 'write the count in the runbook (--replicas=N): a statefulset\'s cap cannot be raised with a check, since current_replicas_below_max reads only a deployment';
  return `set a higher max_replicas on a ${REPLICA_CAP_CHECK} check in the runbook, or write the count in the runbook`;
}

/** `{deployment}-canary`: each value fits, and so must the name they make together. */
function fillKube(rr: Renderer, t: Template, kind: 'k8s_name' | 'k8s_label', where: string): string {
  const text = rr.fill(t, where);
  if (rr.refusal) return text;
  const check = checkParam(kind, text);
  if (!check.ok) rr.refuse(placeholders(t)[0]?.param ?? '', `${where}: name ${quoteUntrusted(text)} ${check.reason}`);
  return text;
}

const AUTHORITY_RE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*([^?#]*)/;
const DOT_SEGMENT_RE = /^(?:\.|%2e){1,2}$/i;

/**
 * The URL is re-parsed after substitution and must keep the runbook's literal
 * origin; values are single segments, but two placeholders side by side could
 * still spell "..", so dot segments are refused too.
 */
function fillUrl(rr: Renderer, t: Template, where: string): string {
  const text = rr.fill(t, where);
  if (rr.refusal) return text;
  // The origin is computed at load; a template built elsewhere is compiled here.
  const origin = t.origin ?? originOf(t);
  let parsed: URL | undefined;
  try {
    parsed = new URL(text);
  } catch {
    parsed = undefined;
  }
  if (!parsed || origin === undefined || parsed.origin !== origin) {
    rr.refuse(placeholders(t)[0]?.param ?? '', `${where}: URL ${quoteUntrusted(text)} does not keep the runbook's origin ${origin ?? t.source}`);
    return text;
  }
  const path = AUTHORITY_RE.exec(text)?.[1] ?? '';
  if (path.split('/').some((seg) => DOT_SEGMENT_RE.test(seg))) {
    rr.refuse(placeholders(t)[0]?.param ?? '', `${where}: URL ${quoteUntrusted(text)} has a "." or ".." path segment`);
  }
  return text;
}

function fillHeaders(rr: Renderer, headers: Readonly<Record<string, Template>>, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, t] of Object.entries(headers)) out[k] = rr.fill(t, where);
  return out;
}

/** Only string leaves are templates; keys, numbers and booleans pass as written. JSON encoding happens later. */
function fillBody(rr: Renderer, body: unknown, where: string): unknown {
  if (typeof body === 'string') return rr.fill(compileTemplate(body, 'text'), where);
  if (Array.isArray(body)) return body.map((b) => fillBody(rr, b, where));
  if (typeof body === 'object' && body !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body)) out[k] = fillBody(rr, v, where);
    return out;
  }
  return body;
}

/** One line for approvers and the audit log. Headers and bodies (where secrets live) are left out. */
function summarize(a: RenderedAction): string {
  switch (a.type) {
    case 'kubernetes':
      return summarizeKube(a);
    case 'http':
      return `${a.method} ${a.url}`;
    case 'command':
      return a.argv.map((s) => (/^[A-Za-z0-9_./:=@+,-]+$/.test(s) ? s : JSON.stringify(s))).join(' ');
  }
}

function summarizeKube(a: RenderedKubernetesAction): string {
  const ns = a.namespace ? ` -n ${a.namespace}` : '';
  const verbs: Record<KubernetesActionSpec['verb'], string> = {
    evict_pod: `kubectl delete pod ${a.name}${ns} (eviction)`,
    delete_pod: `kubectl delete pod ${a.name}${ns} (delete, skips PodDisruptionBudgets)`,
    scale: `kubectl scale ${a.kind} ${a.name} --replicas=${a.args.replicas ?? '?'}${ns}`,
    rollout_restart: `kubectl rollout restart ${a.kind} ${a.name}${ns}`,
    rollout_undo: `kubectl rollout undo ${a.kind} ${a.name}${a.args.to_revision ? ` --to-revision=${a.args.to_revision}` : ''}${ns}`,
    cordon: `kubectl cordon ${a.name}`,
    uncordon: `kubectl uncordon ${a.name}`,
    drain: [
      `kubectl drain ${a.name}`,
      a.args.ignore_daemonsets === 'true' ? ' --ignore-daemonsets' : '',
      a.args.delete_emptydir_data === 'true' ? ' --delete-emptydir-data' : '',
      a.args.grace_period_seconds ? ` --grace-period=${a.args.grace_period_seconds}` : '',
      a.args.timeout_seconds ? ` --timeout=${a.args.timeout_seconds}s` : '',
    ].join(''),
  };
  return verbs[a.verb];
}
