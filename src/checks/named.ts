import type { RenderedNamedCheck } from '../domain/index.js';
import { checkParam, DEFAULT_MAX_REPLICAS, formatPercent, NAMED_QUERY_WINDOW, parseFraction, quoteUntrusted } from '../domain/index.js';
import type { BeforeActionsRead, CheckOutcome, CheckRunner, StepContext } from '../execute/ports.js';
import { promqlRegexLiteral, systemClock, type Clock } from '../lib/index.js';
import type { HttpRequest } from './http-client.js';
import {
  describeError as describeKubeError,
  isKubeStatus,
  isPodReady,
  isTerminating,
  kubeAttempt,
  kubeCall,
  listWorkloadPods,
  podUidMemoKey,
  readPod,
  readRolloutHistory,
  readWorkload,
  resolvePodOwner,
  serverClockOffset,
  serverClockLeadSince,
  workloadSettled,
  describeWorkload,
  type KubeClients,
  type WorkloadRef,
} from './kubernetes.js';
import { EnrichmentRefused, namedWorkload } from '../domain/index.js';
import { describeError, poll, type Attempt } from './poll.js';
import { formatLabels, formatSampleValue, judgeSeries, queryInstant, seriesNote, type PromqlSample } from './promql.js';

/**
 * The seed's named checks. Each reads names from `check.values` (the incident's
 * context over its labels, plus enrichment) and tunables from `check.params`.
 *
 * Two kinds of check, and they poll differently:
 * - snapshot checks (pre-checks on state that does not change by waiting:
 *   replicas, restarts, revisions, existence) are asked once, with the whole
 *   timeout to answer, so a "no" is answered at once instead of after the whole
 *   timeout;
 * - convergence checks (pod_becomes_ready, metrics_improved,
 *   error_rate_normalized) poll until they pass or their timeout is used up.
 * A check whose executor is missing (no Kubernetes API, no Prometheus URL)
 * fails with the reason; it never passes.
 */

export interface NamedCheckDeps {
  kube?: KubeClients;
  prometheusUrl?: string;
  /** For the restart window, and rectify's time Prometheus queries are evaluated at (compared with Prometheus' clock). */
  clock?: Clock;
  /** For tests of the Prometheus client path. */
  request?: HttpRequest;
}

type Need = 'kubernetes' | 'prometheus';
interface Impl {
  needs: Need;
  /** `at`: the attempt's start (ms since the epoch), the instant a Prometheus query is evaluated at. */
  evaluate(check: RenderedNamedCheck, ctx: StepContext, signal: AbortSignal, at: number): Promise<Attempt>;
}

/** Memo keys shared between a run's pre- and post-checks. */
const MEMO = {
  workload: (ns: string, pod: string) => `kubernetes.workload:${ns}/${pod}`,
  podUid: podUidMemoKey,
  baseline: (query: string) => `prometheus.baseline:${query}`,
};

class CheckInputError extends Error {}

/**
 * How long after the run's start (by the API server's clock) a pod under the name of the
 * one pod_becomes_ready is about must have been created to be taken for a successor: the
 * Date header the clock's lead is read from holds whole seconds, and so does a
 * creationTimestamp. A successor created within it is taken for the old pod.
 */
const CREATED_SINCE_MARGIN_MS = 2_000;

/** A pod as the client reads it (the client's own types are imported by the Kubernetes modules only). */
type Pod = Awaited<ReturnType<typeof listWorkloadPods>>[number];

/** The highest value of finite series (the caller has judged them all finite, or left out the NaN ones). */
function worst(samples: readonly PromqlSample[]): number {
  return samples.reduce((m, s) => (Number.isFinite(s.value) ? Math.max(m, s.value) : m), -Infinity);
}
/** Of several series measured failing, the one a failure is told by: a ±Inf one (no value at all), else the highest. */
function worstRank(v: number): number {
  return Number.isFinite(v) ? v : Infinity;
}

/**
 * Keeps the uid of pod `ns/pod` as a check first read it, unless the run already knows one
 * (an earlier check's read, or the eviction or delete that acted on it): a post-check
 * reading the pod after the action finds its successor under the name, never the pod
 * the run was about.
 */
function rememberUid(ctx: StepContext, ns: string, pod: string, uid: string | undefined): void {
  if (uid !== undefined && !ctx.memo.has(MEMO.podUid(ns, pod))) ctx.memo.set(MEMO.podUid(ns, pod), uid);
}

/**
 * The characters of a pod-template-hash and of a generated pod name's suffix
 * (Kubernetes' rand.SafeEncodeString and rand.String: no vowels, no 0, 1, 3).
 */
const POD_NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** The range window of the default queries (the loader's default timeout for them covers it). */
const W = NAMED_QUERY_WINDOW.promql;

function value(check: RenderedNamedCheck, key: string, kind: 'k8s_name' | 'k8s_label'): string | undefined {
  const v = check.values[key];
  if (v === undefined) return undefined;
  // Already checked at render time; checked again because these go into API paths.
  const c = checkParam(kind, v);
  if (!c.ok) throw new CheckInputError(`value ${key} ${quoteUntrusted(v)} ${c.reason}`);
  return v;
}
function required(check: RenderedNamedCheck, key: string, kind: 'k8s_name' | 'k8s_label'): string {
  const v = value(check, key, kind);
  if (v === undefined) throw new CheckInputError(`needs the incident value "${key}", which the incident and enrichment did not provide`);
  return v;
}
function podName(check: RenderedNamedCheck): string | undefined {
  return value(check, 'pod_name', 'k8s_name') ?? value(check, 'pod', 'k8s_name');
}
function numParam(check: RenderedNamedCheck, names: string[], dflt: number): number {
  for (const n of names) {
    const v = check.params[n];
    if (v === undefined || v === null) continue;
    const x = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (!Number.isFinite(x)) throw new CheckInputError(`param ${n} must be a number, got ${quoteUntrusted(String(v))}`);
    return x;
  }
  return dflt;
}
/**
 * A `fraction` parameter (metrics_improved's `margin`, error_rate_normalized's
 * `threshold`): loaded as a number in (0, 1); a percentage is read too. Checked again
 * here: a threshold of 5 meant as 5 % would pass every error ratio.
 */
function fractionParam(check: RenderedNamedCheck, name: string, dflt: number): number {
  const v = check.params[name];
  if (v === undefined || v === null) return dflt;
  const x = parseFraction(v);
  if (x === undefined) throw new CheckInputError(`param ${name} must be a fraction between 0 and 1 or a percentage such as "10%", got ${quoteUntrusted(String(v))}`);
  return x;
}
/** How much lower than its baseline metrics_improved's signal must be; the registry's default too. */
const DEFAULT_IMPROVEMENT_MARGIN = 0.1;
function stringParam(check: RenderedNamedCheck, name: string): string | undefined {
  const v = check.params[name];
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

export function createNamedCheckRunner(deps: NamedCheckDeps): CheckRunner<RenderedNamedCheck> {
  const clock = deps.clock ?? systemClock;

  function kube(): KubeClients {
    // run() checks needs before evaluating; this only narrows the type.
    if (!deps.kube) throw new CheckInputError('no Kubernetes API configured');
    return deps.kube;
  }

  /**
   * The workload a check is about, by enrichment's rule (`namedWorkload`): the deployment or
   * statefulset the values name, the one the runbook acts on, whose pod beside it is not
   * read (kube-state-metrics' alerts carry the exporter's own pod); only a pod with no
   * workload named is followed to its owner. A runbook acting on the pod had an owner
   * named beside it checked against the pod's by enrichment, so it is that owner.
   */
  async function workloadOf(check: RenderedNamedCheck, ctx: StepContext, signal: AbortSignal): Promise<WorkloadRef> {
    const ns = required(check, 'namespace', 'k8s_label');
    const named = namedWorkload(check.values);
    if (named instanceof EnrichmentRefused) throw new CheckInputError(named.reason.replace(/; nothing was acted on$/, ''));
    if (named !== undefined) return { kind: named.kind, name: value(check, named.key, 'k8s_name')!, namespace: ns };
    const pod = podName(check);
    if (pod === undefined) return { kind: 'Deployment', name: required(check, 'deployment', 'k8s_name'), namespace: ns };
    const remembered = ctx.memo.get(MEMO.workload(ns, pod)) as WorkloadRef | undefined;
    if (remembered) return remembered;
    let p;
    try {
      p = await readPod(kube(), ns, pod, signal);
    } catch (err) {
      if (isKubeStatus(err, 404)) throw new CheckInputError(`pod ${ns}/${pod} not found`);
      throw err;
    }
    rememberUid(ctx, ns, pod, p.metadata?.uid);
    const owner = await resolvePodOwner(kube(), p, signal);
    if (!owner.ok) throw new CheckInputError(owner.reason);
    ctx.memo.set(MEMO.workload(ns, pod), owner.ref);
    return owner.ref;
  }

  /**
   * Every series of the answer (none: no data). The checks judge each (judgeSeries): a
   * NaN one (0/0: a pod with no traffic) never hides one measured failing beside it, and a
   * pass needs every series finite and passing, which for these checks is the worst
   * (highest) one passing.
   */
  async function instant(query: string, signal: AbortSignal, time?: number): Promise<PromqlSample[]> {
    const url = deps.prometheusUrl!;
    // Prometheus' clock is compared with this one, as a promql check's is: far apart, the answer is
    // no measurement (PromqlClockSkewError, inconclusive below), the baseline's included.
    const r = await queryInstant(url, query, { signal, ...(time !== undefined ? { time } : {}), wallNow: () => clock.now(), ...(deps.request ? { request: deps.request } : {}) });
    return r.samples;
  }

  /**
   * Pods of `deployment` in `namespace`: `<deployment>-<pod-template-hash>-<suffix>`, the hash 1
   * to 10 characters and the suffix 5, both of the alphabet Kubernetes writes them in (no vowels,
   * no 0, 1, 3: `bcdfghjklmnpqrstvwxz2456789`); dots escaped for the regex. That keeps out
   * StatefulSet `web-db`'s pod `web-db-0` and pods whose middle part has a character outside
   * it, like DaemonSet `web-agent`'s `web-agent-q9z4m` or Job `web-migrate`'s
   * `web-migrate-x7k2p` (with `[a-z0-9]` they were taken for deployment `web`'s, and their
   * traffic diluted its error ratio). It cannot keep out a workload named `<deployment>-` and
   * 1 to 10 characters of that alphabet whose pods end in 5 of them: DaemonSet `web-db`'s
   * `web-db-x7k2p` matches; give `query` where such a neighbour exists.
   */
  function podRegex(check: RenderedNamedCheck): { ns: string; re: string } {
    const ns = required(check, 'namespace', 'k8s_label');
    const dep = required(check, 'deployment', 'k8s_name');
    return { ns, re: `${promqlRegexLiteral(dep, 'escaping')}-[${POD_NAME_ALPHABET}]{1,10}-[${POD_NAME_ALPHABET}]{5}` };
  }

  const impls: Record<string, Impl> = {
    replicas_greater_than_one: {
      needs: 'kubernetes',
      // Desired replicas, not ready ones: the pod being restarted is usually the
      // unready one, and the executor separately refuses to remove a last ready replica.
      async evaluate(check, ctx, signal) {
        const min = numParam(check, ['min'], 1);
        const w = await readWorkload(kube(), await workloadOf(check, ctx, signal), signal);
        return {
          pass: w.desired > min,
          detail: `${w.kind} ${w.namespace}/${w.name} has ${w.desired} replica(s) (${w.ready} ready); needs more than ${min}`,
          observed: String(w.desired),
        };
      },
    },
    recent_restarts_less_than_three: {
      needs: 'kubernetes',
      // A pod that keeps crashing is not fixed by another restart: hand it to a human.
      // The API keeps only a lifetime restartCount and the last termination time, so
      // "recent" means: the container's restarts count when it last terminated within
      // window_minutes (or the time is unknown); older restart history counts as 0.
      async evaluate(check, ctx, signal) {
        const limit = numParam(check, ['limit', 'max'], 3);
        const windowMs = numParam(check, ['window_minutes'], 60) * 60_000;
        const ns = required(check, 'namespace', 'k8s_label');
        const name = podName(check);
        if (name === undefined) throw new CheckInputError('needs the incident value "pod_name"');
        let pod;
        try {
          pod = await readPod(kube(), ns, name, signal);
        } catch (err) {
          if (isKubeStatus(err, 404)) return { pass: false, detail: `pod ${ns}/${name} not found` };
          throw err;
        }
        rememberUid(ctx, ns, name, pod.metadata?.uid);
        const now = clock.now();
        let worst = 0;
        let worstName = '';
        for (const cs of [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])]) {
          const finished = cs.lastState?.terminated?.finishedAt;
          const at = finished ? new Date(finished).getTime() : NaN;
          const recent = Number.isNaN(at) || now - at <= windowMs;
          const n = recent ? cs.restartCount : 0;
          if (n > worst) {
            worst = n;
            worstName = cs.name;
          }
        }
        return {
          pass: worst < limit,
          detail: `pod ${ns}/${name}: ${worst} recent restart(s)${worstName ? ` (container ${worstName})` : ''}; limit ${limit} in ${windowMs / 60_000}m`,
          observed: String(worst),
        };
      },
    },
    pod_becomes_ready: {
      needs: 'kubernetes',
      // The evicted pod does not come back: its replacement has a new name. So
      // this asks about the workload: rolled out, every desired replica ready
      // (counted from the pods, not only the lagging status), the old pod gone, and
      // at least one replica wanted (0 of 0 ready is no pod that became ready).
      async evaluate(check, ctx, signal) {
        const ref = await workloadOf(check, ctx, signal);
        const w = await readWorkload(kube(), ref, signal);
        let offsetMs = 0;
        let leadMs: number | undefined;
        const sentAt = clock.now();
        const pods = await listWorkloadPods(kube(), w, signal, undefined, (t) => {
          offsetMs = serverClockOffset(t, clock.now());
          leadMs = serverClockLeadSince(t, sentAt);
        });
        const old = podName(check);
        // When the run started, by the API server's clock when that is ahead of rectify's
        // (for the "new:" pods of the detail only).
        const runStart = ctx.startedAt + Math.max(0, offsetMs);
        const created = (p: Pod): number => (p.metadata?.creationTimestamp ? new Date(p.metadata.creationTimestamp).getTime() : NaN);
        let oldUid = old ? (ctx.memo.get(MEMO.podUid(ref.namespace, old)) as string | undefined) : undefined;
        // The pod under the name with no uid known (the run's read before its actions failed
        // or was not made, and nothing else of the run read or removed it) is the old one,
        // but for a StatefulSet's (it recreates its ordinal under the same name; a
        // Deployment's pods never come back under theirs), one not terminating and created since the run started: a
        // successor, judged on its readiness. "Since" is read by the API server's clock (the
        // one its creationTimestamps are written by), the run's start moved by that clock's
        // lead, measured from when this listing was sent, and at least CREATED_SINCE_MARGIN_MS
        // after it: a Date header and a creationTimestamp hold whole seconds, so the old pod,
        // created before the run, is never found that late. With that lead unknown (no Date
        // header, or one further off than believed) the pod is the old one. A doubt goes
        // against the successor (the check fails), never for it. A pod judged old is kept
        // by its uid for the next attempts.
        const named = old === undefined ? undefined : pods.find((p) => p.metadata?.name === old);
        const successor = (p: Pod): boolean =>
          w.kind === 'StatefulSet' && !isTerminating(p) && leadMs !== undefined && created(p) >= ctx.startedAt + leadMs + CREATED_SINCE_MARGIN_MS;
        if (oldUid === undefined && named && !successor(named)) {
          oldUid = named.metadata?.uid;
          rememberUid(ctx, ref.namespace, old!, oldUid);
        }
        const isOld = (p: Pod): boolean => old !== undefined && oldUid !== undefined && p.metadata?.name === old && p.metadata?.uid === oldUid;
        const oldStillThere = pods.some(isOld);
        const ready = pods.filter((p) => isPodReady(p) && !isOld(p));
        const fresh = ready.filter((p) => created(p) >= runStart - 1000).map((p) => p.metadata?.name);
        // A workload scaled to 0 (while the run verified, say) has no pod to become ready:
        // 0 of 0 is nothing serving, not a pod that came back.
        const none = w.desired === 0;
        const pass = !none && workloadSettled(w) && ready.length >= w.desired && !oldStillThere;
        const why = `${oldStillThere ? `; pod ${old} still present` : ''}${none ? '; nothing to become ready: the workload is scaled to 0' : ''}`;
        return {
          pass,
          detail: `${describeWorkload(w)}; ${ready.length} ready pod(s) counted${fresh.length ? `; new: ${fresh.join(', ')}` : ''}${why}`,
          observed: `${ready.length}/${w.desired}`,
        };
      },
    },
    current_replicas_below_max: {
      needs: 'kubernetes',
      async evaluate(check, _ctx, signal) {
        const ns = required(check, 'namespace', 'k8s_label');
        const dep = required(check, 'deployment', 'k8s_name');
        // The runbook's cap; an incident may only lower it, never raise it.
        let max = numParam(check, ['max_replicas', 'max'], DEFAULT_MAX_REPLICAS);
        const fromValues = check.values.max_replicas;
        if (fromValues !== undefined && checkParam('integer', fromValues).ok) max = Math.min(max, Number(fromValues));
        const sc = await kubeCall(kube(), signal, (o) => kube().apps.readNamespacedDeploymentScale({ namespace: ns, name: dep }, o));
        const cur = sc.spec?.replicas ?? 0;
        const text = check.values.new_replicas;
        const target = text !== undefined && checkParam('integer', text).ok ? Number(text) : undefined;
        if (target !== undefined && target > max) {
          return { pass: false, detail: `deployment ${ns}/${dep}: new_replicas ${text} would exceed max ${max}`, observed: String(cur) };
        }
        const bounded = { pass: cur < max, detail: `deployment ${ns}/${dep} has ${cur} replica(s); max ${max}`, observed: String(cur) };
        // This check guards a scale-up: a target at or below the current count would keep or remove replicas.
        if (bounded.pass && target !== undefined && target <= cur) {
          return { pass: false, detail: `deployment ${ns}/${dep}: new_replicas ${text} is not above its ${cur} replica(s); a scale-up never lowers or keeps the count`, observed: String(cur) };
        }
        return bounded;
      },
    },
    deployment_exists: {
      needs: 'kubernetes',
      async evaluate(check, _ctx, signal) {
        const ns = required(check, 'namespace', 'k8s_label');
        const dep = required(check, 'deployment', 'k8s_name');
        try {
          await kubeCall(kube(), signal, (o) => kube().apps.readNamespacedDeployment({ namespace: ns, name: dep }, o));
        } catch (err) {
          if (isKubeStatus(err, 404)) return { pass: false, detail: `deployment ${ns}/${dep} not found` };
          throw err;
        }
        return { pass: true, detail: `deployment ${ns}/${dep} exists` };
      },
    },
    previous_revision_available: {
      needs: 'kubernetes',
      async evaluate(check, _ctx, signal) {
        const ns = required(check, 'namespace', 'k8s_label');
        const dep = required(check, 'deployment', 'k8s_name');
        const h = await readRolloutHistory(kube(), ns, dep, signal);
        const prev = h.revisions.find((r) => r.revision < h.current);
        const all = h.revisions.map((r) => r.revision).join(', ') || 'none';
        return prev
          ? { pass: true, detail: `deployment ${ns}/${dep} is at revision ${h.current}; revision ${prev.revision} (ReplicaSet ${prev.replicaSet}) is available`, observed: String(prev.revision) }
          : { pass: false, detail: `deployment ${ns}/${dep} is at revision ${h.current} and has no earlier revision (revisions: ${all})` };
      },
    },
    metrics_improved: {
      needs: 'prometheus',
      // Before = the query evaluated at the execution's start (Prometheus keeps the
      // history, so the baseline needs no pre-check); after = now, polled; a pass needs
      // after at least `margin` (default 10%) below before.
      async evaluate(check, ctx, signal, at) {
        let query = stringParam(check, 'query');
        if (query === undefined) {
          const { ns, re } = podRegex(check);
          // The busiest pod's CPU, not the pods' average: a pod that a scale-up adds idles
          // at first, and its zero pulled an average down at once, "improved" while the
          // load was not handled at all. A maximum drops only when the busy pods' load does.
          query = `max(sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="${ns}",pod=~"${re}",container!=""}[${W}])))`;
        }
        const threshold = check.params.threshold === undefined ? undefined : numParam(check, ['threshold'], 0);
        let before = ctx.memo.get(MEMO.baseline(query)) as number | undefined;
        if (before === undefined) {
          const b = await instant(query, signal, ctx.startedAt);
          if (b.length === 0) return { pass: false, detail: `no baseline: ${query} had no data at the start of the execution`, unknown: true };
          // The baseline is the worst (highest) series. A ±Inf one is no baseline (+Inf would make
          // any finite value "improved"); not remembered, so never used. NaN series (0/0: no
          // traffic then) are left out: the worst of the others is at most the worst there was,
          // so a value improved on it is improved. Only NaN series: nothing was measured.
          const infinite = b.find((x) => x.value === Infinity || x.value === -Infinity);
          const odd = infinite ?? (b.every((x) => Number.isNaN(x.value)) ? b[0] : undefined);
          if (odd) {
            const labels = b.length > 1 ? ` for ${formatLabels(odd.metric)}` : '';
            return { pass: false, detail: `no baseline: ${query} was ${formatSampleValue(odd.value)}${labels} at the start of the execution, not a finite value`, ...(Number.isNaN(odd.value) ? { unknown: true } : {}) };
          }
          before = worst(b);
          ctx.memo.set(MEMO.baseline(query), before);
        }
        const now = await instant(query, signal, at);
        if (now.length === 0) return { pass: false, detail: `${query} has no data now (before: ${before})`, unknown: true };
        // Lower by at least the margin, not merely lower: the baseline and a poll of unchanged
        // load are two evaluations of the same data, apart by float rounding (0.9906453910908809
        // then 0.9906453910908807), and "any drop" passed on them at the first poll.
        // A baseline of 0 (or below) has no room to improve by a share of itself: it needs a drop below it.
        const margin = fractionParam(check, 'margin', DEFAULT_IMPROVEMENT_MARGIN);
        const most = before - Math.abs(before) * margin;
        const base = before;
        const verdict = judgeSeries(now, (x) => (x < base && x <= most) || (threshold !== undefined && x < threshold), worstRank);
        const note = seriesNote(verdict, now.length);
        const shown = verdict.shown;
        // NaN (no traffic now) is no measurement; -Inf is below every baseline, and no improvement.
        if (shown !== undefined && !Number.isFinite(shown.value)) {
          return { pass: false, detail: `${query} is ${formatSampleValue(shown.value)} now, not a finite value (before: ${before})${note}`, observed: formatSampleValue(shown.value), ...(verdict.measured ? {} : { unknown: true }) };
        }
        const after = shown?.value ?? worst(now);
        return {
          pass: shown === undefined,
          detail: `${query}: before ${before}, now ${after}${note}; improved means at least ${formatPercent(margin)} lower (at most ${Number(most.toPrecision(6))})${threshold !== undefined ? `, or below threshold ${threshold}` : ''}`,
          observed: String(after),
        };
      },
    },
    error_rate_normalized: {
      needs: 'prometheus',
      async evaluate(check, _ctx, signal, at) {
        let query = stringParam(check, 'query');
        if (query === undefined) {
          const { ns, re } = podRegex(check);
          const sel = `namespace="${ns}",pod=~"${re}"`;
          // A revision that never served a 5xx has no 5xx series at all: that is 0 errors, not
          // no data, but only where the requests carry a `code` label at all (the other
          // series are counted times 0). A metric labelling its status otherwise would read
          // 0 errors whatever it served: it stays no data, as does no traffic (a failure).
          query = `(sum(rate(http_requests_total{${sel},code=~"5.."}[${W}])) or sum(rate(http_requests_total{${sel},code=~".+"}[${W}])) * 0) / sum(rate(http_requests_total{${sel}}[${W}]))`;
        }
        const threshold = fractionParam(check, 'threshold', 0.05);
        const samples = await instant(query, signal, at);
        // No data and NaN (0/0: no traffic) are not evidence of health; a NaN series beside one
        // measured above the threshold is that failure, not no data.
        if (samples.length === 0) return { pass: false, detail: `${query} returned no data`, unknown: true };
        const verdict = judgeSeries(samples, (x) => x < threshold, worstRank);
        const note = seriesNote(verdict, samples.length);
        const shown = verdict.shown;
        if (shown === undefined) {
          const v = worst(samples);
          return { pass: true, detail: `error ratio ${v} (threshold ${threshold})`, observed: String(v) };
        }
        if (Number.isNaN(shown.value)) return { pass: false, detail: `${query} is NaN (no traffic?)${note}`, observed: 'NaN', unknown: true };
        // -Inf is below any threshold, and no error ratio at all (a ratio lies in [0, 1]).
        if (!Number.isFinite(shown.value)) return { pass: false, detail: `${query} is ${formatSampleValue(shown.value)}, not a finite error ratio${note}`, observed: formatSampleValue(shown.value) };
        return { pass: false, detail: `error ratio ${shown.value} (threshold ${threshold})${note}`, observed: String(shown.value) };
      },
    },
  };

  /**
   * pod_becomes_ready's read before the run's actions: the uid of the pod it names, kept
   * unless the run knows one already (a pre-check read the pod), so that the check tells
   * that pod from a successor under its name whatever deletes it (a `command:` or `http:`
   * action too), rather than by its creation time. The names are the rendered values,
   * checked again as Kubernetes names; one that is not, or missing, is not read. A read that
   * fails (the pod absent, an API error, no answer within the API call timeout, the run's
   * abort) keeps nothing: the check then judges by creation time, as with no read.
   */
  async function podUidBeforeActions(check: RenderedNamedCheck, ctx: StepContext): Promise<BeforeActionsRead | undefined> {
    let ns: string | undefined;
    let pod: string | undefined;
    try {
      ns = value(check, 'namespace', 'k8s_label');
      pod = podName(check);
    } catch (err) {
      if (err instanceof CheckInputError) return { kept: false, detail: `not read: ${err.message}` };
      throw err;
    }
    if (ns === undefined || pod === undefined || ctx.memo.has(MEMO.podUid(ns, pod))) return undefined;
    let uid: string | undefined;
    try {
      uid = (await readPod(kube(), ns, pod, ctx.signal)).metadata?.uid ?? undefined;
    } catch (err) {
      return { kept: false, detail: `pod ${ns}/${pod}: ${describeKubeError(err)}` };
    }
    if (!uid) return { kept: false, detail: `pod ${ns}/${pod} has no uid` };
    rememberUid(ctx, ns, pod, uid);
    return { kept: true, detail: `pod ${ns}/${pod} has uid ${uid}` };
  }

  return {
    type: 'named',
    async beforeActions(check: RenderedNamedCheck, ctx: StepContext): Promise<BeforeActionsRead | undefined> {
      if (check.name !== 'pod_becomes_ready' || !deps.kube) return undefined;
      return podUidBeforeActions(check, ctx);
    },
    async run(check: RenderedNamedCheck, ctx: StepContext): Promise<CheckOutcome> {
      const impl = Object.prototype.hasOwnProperty.call(impls, check.name) ? impls[check.name] : undefined;
      if (!impl) return { ok: false, detail: `unknown named check ${quoteUntrusted(check.name)} (known: ${NAMED_CHECK_IMPLEMENTATIONS.join(', ')})`, attempts: 0 };
      if (impl.needs === 'kubernetes' && !deps.kube) {
        return { ok: false, detail: `${check.name} needs the Kubernetes API, and rectify runs without it (give it a kubeconfig or run it in the cluster)`, attempts: 0 };
      }
      if (impl.needs === 'prometheus' && !deps.prometheusUrl) {
        return { ok: false, detail: `${check.name} needs Prometheus, and no Prometheus URL is configured (--prometheus-url)`, attempts: 0, inconclusive: true };
      }
      const evaluate = (signal: AbortSignal, _budgetMs: number, at: number): Promise<Attempt> =>
        kubeAttempt(async (s) => {
          try {
            return await impl.evaluate(check, ctx, s, at);
          } catch (err) {
            if (err instanceof CheckInputError) return { pass: false, detail: `${check.name}: ${err.message}` };
            // A Prometheus that errs or cannot be reached measured nothing.
            if (impl.needs === 'prometheus') return { pass: false, detail: describeError(err), unknown: true };
            throw err;
          }
        })(signal);
      // A snapshot is asked once, with the whole timeout to answer; a convergence polls.
      const snapshot = NAMED_CHECK_MODES[check.name as NamedCheckImplementation] === 'snapshot' ? { maxAttempts: 1, attemptTimeoutMs: Math.max(check.timeoutMs, 1) } : {};
      return poll(evaluate, {
        timeoutMs: check.timeoutMs,
        intervalMs: check.intervalMs,
        limitMs: ctx.budgetMs,
        signal: ctx.signal,
        ...snapshot,
        // No answer in time measured nothing, from Prometheus as from the Kubernetes API:
        // a post-check ending so is inconclusive, as the `kubernetes:` form's (see on_no_data).
        noAnswerIsUnknown: true,
        wallNow: () => clock.now(),
      });
    },
  };
}

export const NAMED_CHECK_IMPLEMENTATIONS = [
  'replicas_greater_than_one',
  'recent_restarts_less_than_three',
  'pod_becomes_ready',
  'current_replicas_below_max',
  'deployment_exists',
  'previous_revision_available',
  'metrics_improved',
  'error_rate_normalized',
] as const;
type NamedCheckImplementation = (typeof NAMED_CHECK_IMPLEMENTATIONS)[number];

/**
 * How each named check polls (see the header). The runbook registry carries the
 * same (`mode` in runbooks/named.ts, for lint, which warns about a timeout shorter
 * than the interval only where there is an interval); a test holds the two equal.
 */
export const NAMED_CHECK_MODES: Readonly<Record<NamedCheckImplementation, 'snapshot' | 'converge'>> = {
  replicas_greater_than_one: 'snapshot',
  recent_restarts_less_than_three: 'snapshot',
  pod_becomes_ready: 'converge',
  current_replicas_below_max: 'snapshot',
  deployment_exists: 'snapshot',
  previous_revision_available: 'snapshot',
  metrics_improved: 'converge',
  error_rate_normalized: 'converge',
};
