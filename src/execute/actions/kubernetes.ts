import type { V1ManagedFieldsEntry, V1Pod, V1PodTemplateSpec, V1ReplicaSet } from '@kubernetes/client-node';
import {
  assertName,
  assertNamespace,
  controllerOf,
  deletionDue,
  describeError,
  isKubeStatus,
  isPodReady,
  isTerminating,
  kubeCall,
  readPod,
  readPodDated,
  readRolloutHistory,
  REVISION_ANNOTATION,
  formatSelector,
  listDeploymentReplicaSets,
  listWorkloadPods,
  podUidMemoKey,
  readWorkload,
  resolvePodOwner,
  serverClockOffset,
  KubeApiError,
  type KubeClients,
  type RolloutHistory,
  type WorkloadState,
} from '../../checks/kubernetes.js';
import type { RenderedKubernetesAction } from '../../domain/index.js';
import { checkParam } from '../../domain/index.js';
import { errorMessage, formatDuration, sleep, systemClock, withTimeout, type Clock } from '../../lib/index.js';
import type { ActionExecutor, ActionOutcome, StepContext } from '../ports.js';
import { createDisruptionLedger, type DisruptionLedger } from './disruptions.js';

/**
 * Kubernetes actions through the API, never a shell. The client factory and the
 * call helpers live in checks/kubernetes.ts (the other module allowed to import
 * the client) and are re-exported here for the composition root.
 */
export { createKubeClients, type KubeClients, type KubeClientOptions } from '../../checks/kubernetes.js';

export interface KubernetesActionOptions {
  /** Re-reads after a 409 Conflict before giving up (optimistic concurrency). */
  conflictRetries?: number;
  /** Pause between drain rounds while PodDisruptionBudgets say "not now". */
  drainRetryIntervalMs?: number;
  /** For the restartedAt stamp, and how long a pod removed counts as unavailable at most (see DisruptionLedger). */
  clock?: Clock;
  /** What the process's runs share of each workload's disruption: the executor's own by default (one executor per process). */
  disruptions?: DisruptionLedger;
}

const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';
/** What a failed drain leaves in place, until its rollback's uncordon (see ActionOutcome.standing). */
const STAYS_CORDONED = 'the node stays cordoned';
const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';
/** How long past its deletionTimestamp (the end of its grace period) a pod still there is stuck terminating. */
const STUCK_TERMINATING_MS = 30_000;
/** A drain asks again for an eviction refused only while this much (or the API call timeout, when shorter) is left before its deadline. */
const DRAIN_RETRY_ANSWER_MS = 2_000;

/** Within one run: whether a node was already cordoned when the run first cordoned or drained it. */
const cordonedKey = (node: string): string => `kubernetes:cordoned-before:${node}`;
function rememberCordoned(memo: Map<string, unknown>, node: string, was: boolean): void {
  if (!memo.has(cordonedKey(node))) memo.set(cordonedKey(node), was);
}

/**
 * Within one run: the replica count a scale action read before it scaled the
 * workload (the first scale of the run, if several). A rollback's scale of the same
 * workload restores it, whatever replica count the rendered rollback names; one of a
 * workload with none (the run never scaled it) leaves it as it is.
 */
const scaledFromKey = (kind: string, ns: string, name: string): string => `kubernetes:scaled-from:${kind}/${ns}/${name}`;
/**
 * Within one run: the replica count the run's last scale of a workload asked for. A
 * rollback finding another count there leaves it: someone else (a person, an
 * autoscaler) scaled the workload since, and putting back the count from before the
 * run would undo their change, not the run's.
 */
const scaledToKey = (kind: string, ns: string, name: string): string => `kubernetes:scaled-to:${kind}/${ns}/${name}`;

/**
 * Within one run: the revision and pod template a deployment had when the run's
 * rollout undo read it, before it wrote (the first undo of the run, if several). A
 * rollback's undo restores that template instead of undoing once more: a second
 * relative undo after a first that never landed would itself make the change that
 * failed.
 */
const undoneFromKey = (ns: string, name: string): string => `kubernetes:undone-from:deployment/${ns}/${name}`;
interface UndoneFrom {
  revision: number;
  template: V1PodTemplateSpec;
  /**
   * The template the run's undo wrote (its last undo, if several). A rollback finding
   * another template leaves it: someone else deployed since, and restoring the
   * template from before the run would overwrite their rollout, not the run's.
   */
  wrote?: V1PodTemplateSpec;
}

/**
 * What a 429 to an eviction says: a PodDisruptionBudget's "not now" (its Status names
 * the budget), or the API server throttling requests (API Priority and Fairness, whose
 * answer names no budget). Either way the eviction was not carried out.
 */
function evictionRefused(err: KubeApiError): string {
  const budget = err.causes.includes('DisruptionBudget') || /disruption budget/i.test(err.message);
  return budget ? `eviction refused by PodDisruptionBudget (429): ${err.message}` : `eviction refused by the API server (429 ${err.reason || 'TooManyRequests'}), not by a PodDisruptionBudget: ${err.message}`;
}

/**
 * A pod as a read found it, and how far the API server's clock was ahead of rectify's
 * (negative: behind) by that answer's Date header: 0 when the answer had none, or when
 * the two agree within the header's resolution (see `serverClockOffset`).
 */
interface PodRead {
  pod: V1Pod;
  offsetMs: number;
}

/** A refusal or failure that is the action's answer, not a fault: it becomes the step's detail. */
class StepFailure extends Error {}

const validPodName = (pod: V1Pod): boolean => checkParam('k8s_label', pod.metadata?.namespace ?? '').ok && checkParam('k8s_name', pod.metadata?.name ?? '').ok;

/**
 * What a drain does with a pod on its node: a mirror pod (the kubelet's own) and a
 * DaemonSet's pod with `ignore_daemonsets` are passed over; a terminating one (as
 * isTerminating judges it, as every later read of it does) is waited for; what
 * kubectl drain refuses without its flag (a DaemonSet's pod, a pod no controller
 * recreates, emptyDir data) is refused; the rest are evicted.
 */
function drainDisposition(
  pod: V1Pod,
  args: Readonly<Record<string, string>>,
): { kind: 'mirror' | 'terminating' | 'skip' | 'evict' } | { kind: 'refuse'; why: string } {
  const controller = controllerOf(pod.metadata?.ownerReferences);
  if (pod.metadata?.annotations?.[MIRROR_ANNOTATION] !== undefined) return { kind: 'mirror' };
  if (isTerminating(pod)) return { kind: 'terminating' };
  if (controller?.kind === 'DaemonSet') {
    return args.ignore_daemonsets === 'true' ? { kind: 'skip' } : { kind: 'refuse', why: 'DaemonSet-managed: set ignore_daemonsets, as kubectl drain needs --ignore-daemonsets' };
  }
  if (!controller) return { kind: 'refuse', why: 'no controller would recreate it; rectify never forces that' };
  if (pod.spec?.volumes?.some((v) => v.emptyDir) && args.delete_emptydir_data !== 'true') {
    return { kind: 'refuse', why: 'its emptyDir data would be lost: set delete_emptydir_data, as kubectl drain needs --delete-emptydir-data' };
  }
  return { kind: 'evict' };
}

/** The pods of a node's listing a drain refuses, each with why (a pod whose name is not valid is not evicted, not refused). */
function drainRefusals(list: { items: V1Pod[] }, args: Readonly<Record<string, string>>): string[] {
  return list.items.flatMap((pod) => {
    const d = validPodName(pod) ? drainDisposition(pod, args) : undefined;
    return d?.kind === 'refuse' ? [`${pod.metadata?.namespace}/${pod.metadata?.name} (${d.why})`] : [];
  });
}

/**
 * Whether a step sent a write that may have changed the cluster. Reads change
 * nothing, and a write the API server refused with a 4xx status (a conflict, a
 * PodDisruptionBudget's 429, a forbidden or invalid request) was not persisted; a
 * write that succeeded, failed with a 5xx or got no answer in time may have been.
 * A step with no such write reports `unchanged`, and a run whose steps all did has
 * nothing for its rollback to undo.
 */
interface Writes {
  mayHaveChanged: boolean;
  /** A write got no answer saying whether it was applied (no answer, a lost connection, a 5xx). */
  unanswered: boolean;
  /** How to tell whether the write whose answer was lost landed, when its step knows (see ReadBack). */
  readBack?: ReadBack;
}

/**
 * What a read of its target says of a write whose answer was lost: `landed` true when
 * the target holds what the write asked for, false when it still holds what the step read
 * before it, undefined when it holds neither (someone else changed it since) or the read
 * failed. `found`: what the read found, for the step's detail.
 */
interface Seen {
  landed: boolean | undefined;
  found: string;
}

/**
 * A write whose answer may be lost (a cut connection, a 5xx, an API call timed out) is
 * judged by one read of its target, within the step's time: landed, the step is done as
 * if answered (`done`, its outcome then), and the run goes on to its post-checks; not
 * landed, the step failed having changed nothing. Left unknown, the step is unconfirmed as
 * before. A drain judges its own evictions (it asks each again) and sets none.
 */
interface ReadBack {
  done: ActionOutcome;
  read(signal: AbortSignal): Promise<Seen>;
  /**
   * Left unknown, why the run's rollback must wait for a person: a rollout undo's rollback
   * restores the template the undo was taking away (the bad deploy), on no evidence
   * that the undo did anything.
   */
  holdRollback?: string;
  /** Called once the read showed the write did not land (and it cannot land still): nothing changed. */
  notLanded?: () => void;
}

/** The API server refused the write with a 4xx status: it was not persisted. */
function refusedWrite(err: unknown): boolean {
  return err instanceof KubeApiError && err.status >= 400 && err.status < 500 && err.status !== 408;
}

/** `readBack`: how to tell, should the answer be lost, whether this write landed. */
async function write<T>(writes: Writes, call: () => Promise<T>, readBack?: ReadBack): Promise<T> {
  try {
    const out = await call();
    writes.mayHaveChanged = true;
    return out;
  } catch (err) {
    if (!refusedWrite(err)) {
      writes.mayHaveChanged = true;
      writes.unanswered = true;
      writes.readBack = readBack;
    }
    throw err;
  }
}

/** One read for a ReadBack: one that fails cannot tell. */
async function readBackOnce(rb: ReadBack, signal: AbortSignal): Promise<Seen> {
  try {
    return await rb.read(signal);
  } catch (err) {
    return { landed: undefined, found: `the read failed: ${describeError(err)}` };
  }
}

/** What a read finds of a pod an eviction or delete was to remove (`uid`): gone or terminating, the write landed. */
function podSeen(now: { pod: V1Pod } | { gone: true; successor?: string } | null, ns: string, name: string, uid: string | undefined): Seen {
  if (now === null) return { landed: undefined, found: `pod ${ns}/${name} could not be read` };
  if ('gone' in now) return { landed: true, found: now.successor !== undefined ? `a new pod (uid ${now.successor}) holds the name of pod ${ns}/${name} (uid ${uid ?? ''})` : `pod ${ns}/${name} is gone (404)` };
  if (isTerminating(now.pod)) return { landed: true, found: `pod ${ns}/${name} (uid ${uid ?? ''}) is terminating` };
  return { landed: false, found: `pod ${ns}/${name} (uid ${uid ?? ''}) is still there, not terminating` };
}

/**
 * A removal rectify refuses by its own rules: "not now" (the last ready replica, more
 * than `max_unavailable`: the workload may have room later) or for good (a pod nothing
 * would replace). Either way it refused without asking the cluster to change anything.
 */
function refusedRemoval(r: { reason: string; notNow: boolean }): ActionOutcome {
  return { ok: false, ...(r.notNow ? { notNow: true } : { refused: true }), detail: `refused: ${r.reason}` };
}

/**
 * Which of a StatefulSet's pods a scale to `want` keeps: those whose ordinal (the number
 * after its name and '-') is at or beyond its first ordinal and below that plus `want`.
 * A pod whose name is not the set's name, '-' and an ordinal is not kept (rectify cannot
 * place it), nor is any when the first ordinal cannot be read.
 */
function statefulSetKeeps(w: WorkloadState, want: number): (p: V1Pod) => boolean {
  const start = w.ordinalsStart ?? 0;
  return (p) => {
    const name = p.metadata?.name ?? '';
    if (!Number.isSafeInteger(start) || !name.startsWith(`${w.name}-`)) return false;
    const suffix = name.slice(w.name.length + 1);
    if (!/^(0|[1-9][0-9]*)$/.test(suffix)) return false;
    const ordinal = Number(suffix);
    return Number.isSafeInteger(ordinal) && ordinal >= start && ordinal < start + want;
  };
}

/** Pod names for a detail, in name order (ordinals by number), the first 5 and how many more. */
function podNames(pods: readonly V1Pod[]): string {
  const names = pods.map((p) => p.metadata?.name ?? '').sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return names.length > 5 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', ');
}

/** "25%" or "2": how many of a workload's desired replicas may be unavailable at once. */
export function allowedUnavailable(maxUnavailable: string, desired: number): number {
  const pct = /^([0-9]{1,3})%$/.exec(maxUnavailable);
  // Rounded down, as a Deployment rounds its maxUnavailable: a share never grows by rounding.
  if (pct) return Math.floor((desired * Number(pct[1])) / 100);
  if (/^[0-9]{1,6}$/.test(maxUnavailable)) return Number(maxUnavailable);
  throw new StepFailure(`max_unavailable ${JSON.stringify(maxUnavailable)} is neither a percentage ("25%") nor a count ("1")`);
}

export function createKubernetesActionExecutor(clients: KubeClients, opts: KubernetesActionOptions = {}): ActionExecutor<RenderedKubernetesAction> {
  const conflictRetries = opts.conflictRetries ?? 5;
  const drainRetryMs = opts.drainRetryIntervalMs ?? 1000;
  const clock = opts.clock ?? systemClock;
  const disruptions = opts.disruptions ?? createDisruptionLedger(clock);

  /** Retries `attempt` after a 409 Conflict: each attempt re-reads, so it never writes over a change it did not see. */
  async function withConflictRetry<T>(what: string, attempt: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await attempt();
      } catch (err) {
        if (!isKubeStatus(err, 409) || i >= conflictRetries) {
          if (isKubeStatus(err, 409)) throw new StepFailure(`${what}: still conflicting after ${conflictRetries + 1} attempts: ${err.message}`);
          throw err;
        }
      }
    }
  }

  /** The key a workload's disruption is judged under, across the process's runs (see DisruptionLedger). */
  const workloadKey = (ref: { kind: string; namespace: string; name: string }): string => `${ref.kind}/${ref.namespace}/${ref.name}`;

  /**
   * Waits for the workload's turn to be judged (see DisruptionLedger): the release, or the
   * reason it is refused when the step's time ran out (or the run was stopped: its own
   * signal's reason, rectify stopping, named) while another run held it. Bounded by `signal`, the step's deadline, as every read and write of the step is.
   */
  async function holdWorkload(kind: string, ns: string, name: string, signal: AbortSignal): Promise<{ release: () => void } | { reason: string; notNow: true }> {
    try {
      return { release: await disruptions.hold(workloadKey({ kind, namespace: ns, name }), signal) };
    } catch (err) {
      if (!signal.aborted) throw err;
      // The step's deadline is a TimeoutError; any other reason is the run's own (rectify stopping).
      const timedOut = signal.reason instanceof DOMException && signal.reason.name === 'TimeoutError';
      const why = timedOut ? "this step's time ran out waiting for its turn" : `the run was stopped while this step waited for its turn (${errorMessage(signal.reason)})`;
      return { reason: `another run of this rectify was judging or removing pods of ${kind} ${ns}/${name}, and ${why}; nothing was removed`, notNow: true };
    }
  }

  /**
   * What a caller of guardedRemoval knows beyond the pod: `removed`, the pods it removed
   * itself (a drain's evictions, counted as not serving whatever a listing says); `listed`,
   * the listings of workloads it made this round, to reuse (a drain's); `reread`, how to
   * read its pod again once the workload's turn came (an evict_pod, a delete_pod).
   */
  interface RemovalContext<T> {
    removed?: ReadonlySet<string>;
    listed?: Map<string, V1Pod[]>;
    reread?: () => Promise<{ pod: V1Pod } | { settled: T }>;
  }

  /**
   * Removes one pod (`remove`, given the Writes its write goes through) if its workload's
   * blast radius allows it, or says why not. The last ready replica of its workload and
   * any disruption beyond max_unavailable are "not now" (the workload may have room
   * later); a pod nothing would replace (no controller, a Job's, a DaemonSet's) is refused
   * for good: the run fails, though not as the target's failure (see `refusedRemoval`).
   *
   * One run of the process at a time reads the workload, judges and removes (held from the
   * read through the removal's answer), and the pods the process removed that the API does
   * not show gone or terminating yet count as not serving (see DisruptionLedger): two runs
   * evicting two pods of one workload at once are judged one after the other, the second
   * seeing the first's eviction. The pod is recorded before the write (one whose answer is
   * lost may have landed) and let go when the API server refused it (nothing was written).
   *
   * The pod was read before its workload's turn came: another run may have removed it
   * meanwhile. `reread` given (an evict_pod, a delete_pod), a pod the fresh listing shows
   * terminating or no longer there, or one the process removed (a workload with no
   * selector has no listing), is read again and judged as it is now: the outcome `reread`
   * gives for a pod already gone or terminating is the step's, and nothing is removed.
   * Judged from the copy read before, it was the last ready replica, and the step was
   * blocked "not now" for a pod already on its way out.
   */
  async function guardedRemoval<T>(
    pod: V1Pod,
    maxUnavailable: string | undefined,
    signal: AbortSignal,
    writes: Writes,
    remove: (w: Writes, pod: V1Pod) => Promise<T>,
    { removed = new Set(), listed, reread }: RemovalContext<T> = {},
  ): Promise<{ refusal: { reason: string; notNow: boolean } } | { done: T }> {
    const id = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const owner = await resolvePodOwner(clients, pod, signal);
    if (!owner.ok) return { refusal: { reason: owner.reason, notNow: false } };
    const key = workloadKey(owner.ref);
    const held = await holdWorkload(owner.ref.kind, owner.ref.namespace, owner.ref.name, signal);
    if ('reason' in held) return { refusal: held };
    try {
      const w = await readWorkload(clients, owner.ref, signal);
      const seen = listed ?? new Map<string, V1Pod[]>();
      const readyNow = await readyReplicas(w, signal, removed, pod.metadata?.uid, seen);
      if (reread) {
        const uid = pod.metadata?.uid;
        const pods = formatSelector(w.selector) ? seen.get(`${key}/${w.uid}`) : undefined;
        const now = pods?.find((p) => p.metadata?.uid === uid);
        const stale = pods ? !now || isTerminating(now) : disruptions.pending(key).has(uid ?? '');
        if (stale) {
          const again = await reread();
          if ('settled' in again) return { done: again.settled };
          pod = again.pod;
        }
      }
      const ready = isPodReady(pod);
      // A pod that is not ready is not serving: removing it takes no capacity away.
      if (ready && readyNow <= 1) {
        return { refusal: { reason: `pod ${id} is the last ready replica of ${w.kind} ${w.namespace}/${w.name} (ready ${readyNow}/${w.desired}); rectify never removes it`, notNow: true } };
      }
      if (maxUnavailable !== undefined) {
        const allowed = allowedUnavailable(maxUnavailable, w.desired);
        const now = Math.max(0, w.desired - readyNow);
        const after = now + (ready ? 1 : 0);
        if (after > allowed) {
          return {
            refusal: {
              reason: `max_unavailable ${maxUnavailable} allows ${allowed} of ${w.desired} replicas of ${w.kind} ${w.namespace}/${w.name} to be unavailable; ${now} already are, removing ready pod ${id} would make it ${after}`,
              notNow: true,
            },
          };
        }
      }
      const uid = pod.metadata?.uid ?? '';
      // Let go when this removal is shown not to have landed; one recorded before (an earlier
      // write whose answer was lost, a drain asking again, another run's) keeps the pod counted.
      const letGo = disruptions.record(key, uid);
      const mine: Writes = { mayHaveChanged: false, unanswered: false };
      try {
        return { done: await remove(mine, pod) };
      } finally {
        if (mine.mayHaveChanged) writes.mayHaveChanged = true;
        if (mine.unanswered) {
          writes.unanswered = true;
          const rb = mine.readBack;
          // Shown by the step's read not to have landed: the pod serves as before, as for a refusal.
          writes.readBack = rb && {
            ...rb,
            notLanded: () => {
              rb.notLanded?.();
              letGo();
            },
          };
        }
        // Refused by the API server, or never sent: the pod serves as before.
        if (!mine.mayHaveChanged) letGo();
      }
    } finally {
      held.release();
    }
  }

  /**
   * How many replicas of the workload serve now: its status's ready count, but never
   * more than the replicas it is to have (`desired`) nor than the ready pods a listing finds, leaving out those terminating, those
   * `removed` (evicted or deleted by the caller) and those the process's runs removed that
   * the listing may not show so yet (DisruptionLedger), but the pod now judged (`judged`,
   * whose own eviction may be asked again after an answer was lost): each pod counted
   * once. The status lags: its controller counts a pod just evicted as ready until it has
   * seen the eviction, and a drain evicting pod after pod would otherwise take every ready
   * replica away. `listed` keeps one listing per workload for the caller to reuse (a
   * drain's round: the pods removed since are in `removed`, or the ledger). A workload with
   * no selector has no listing: the pods removed are taken from its status's count (when
   * in doubt, fewer serve).
   */
  async function readyReplicas(w: WorkloadState, signal: AbortSignal, removed: ReadonlySet<string>, judged: string | undefined, listed?: Map<string, V1Pod[]>): Promise<number> {
    const key = workloadKey(w);
    if (!formatSelector(w.selector)) {
      const out = [...disruptions.pending(key)].filter((u) => u !== judged).length;
      return Math.max(0, Math.min(w.ready, w.desired) - out);
    }
    const cacheKey = `${key}/${w.uid}`;
    let pods = listed?.get(cacheKey);
    if (!pods) {
      pods = await listWorkloadPods(clients, w, signal);
      listed?.set(cacheKey, pods);
      // Only a listing made now lets a pod go: one kept from earlier in a drain's round may predate its removal.
      disruptions.settle(key, pods.map((p) => ({ uid: p.metadata?.uid ?? '', terminating: isTerminating(p) })));
    }
    const pending = disruptions.pending(key);
    const serving = pods.filter((p) => {
      const uid = p.metadata?.uid ?? '';
      return isPodReady(p) && (uid === judged || (!removed.has(uid) && !pending.has(uid)));
    }).length;
    // Never more than it is to have: a scale-down's extra pods, which its controller is
    // about to remove, still list as ready (counted, an eviction right after a scale-down
    // took the last pod the workload keeps).
    return Math.min(w.ready, w.desired, serving);
  }

  async function readPodAndClock(ns: string, name: string, signal: AbortSignal): Promise<PodRead> {
    const { pod, serverTime } = await readPodDated(clients, ns, name, signal);
    return { pod, offsetMs: serverClockOffset(serverTime, clock.now()) };
  }

  /** The pod to remove, or null when it is not there (404). */
  async function readTargetPod(ns: string, name: string, signal: AbortSignal): Promise<PodRead | null> {
    try {
      return await readPodAndClock(ns, name, signal);
    } catch (err) {
      if (isKubeStatus(err, 404)) return null;
      throw err;
    }
  }

  /**
   * Removing a pod that is already gone has nothing to do: what the step is for (that pod
   * no longer running) holds, and nothing was asked of the cluster. The step is done
   * without effect and says so; counted as a failure, a pod that went by itself between
   * the alert and the action (its controller replaced it, someone deleted it) would count
   * against the breaker, and a few of them would switch the runbook off. The post-checks
   * still judge the workload.
   */
  function alreadyGone(ns: string, name: string, verb: 'evict' | 'delete', when: string): ActionOutcome {
    return { ok: true, unchanged: true, detail: `pod ${ns}/${name} was already gone (404 ${when}): nothing to ${verb}; done without effect` };
  }

  /**
   * Removing a pod that is already terminating (its deletionTimestamp set: someone or
   * something deleted it, its controller has replaced it) has nothing to do either while
   * its grace period runs: it is on its way out, which is what the step is for. Done
   * without effect, as a pod already gone; the post-checks judge whether the workload
   * recovered. The deletionTimestamp is when that grace ends: a pod still there more than
   * STUCK_TERMINATING_MS after it is stuck (a finalizer, a kubelet that no longer answers),
   * not on its way out, and the step fails naming it, for the breaker and a person to see.
   * The API server stamped that time by its own clock, so "after" is judged by its clock
   * too, as the read's answer showed it: judged by rectify's, clocks more than the margin
   * apart would call a pod on its way out stuck, or a stuck one on its way out.
   */
  function alreadyTerminating({ pod, offsetMs }: PodRead, verb: 'evict' | 'delete', when: string): ActionOutcome {
    const due = deletionDue(pod) ?? NaN;
    const at = Number.isNaN(due) ? String(pod.metadata?.deletionTimestamp) : new Date(due).toISOString();
    const id = `pod ${pod.metadata?.namespace}/${pod.metadata?.name}`;
    // The deletion was asked for its grace period before that time, so the server's clock
    // read at least that then: a header saying earlier is wrong (a proxy's, a clock reset),
    // and rectify's own clock judges.
    const asked = due - (pod.metadata?.deletionGracePeriodSeconds ?? 0) * 1000;
    if (offsetMs !== 0 && clock.now() + offsetMs < asked - 1000) offsetMs = 0;
    const late = clock.now() + offsetMs - due;
    if (late > STUCK_TERMINATING_MS) {
      const apart = Math.round(Math.abs(offsetMs) / 1000);
      const byClock = offsetMs === 0 ? '' : ` by the API server's clock (${apart}s ${offsetMs > 0 ? 'ahead of' : 'behind'} rectify's, by its Date header)`;
      return {
        ok: false,
        detail: `${id} is stuck terminating since ${at} (deletionTimestamp ${when}: its grace period ended ${Math.round(late / 1000)}s ago${byClock} and it is still there, a finalizer or its kubelet holding it): nothing to ${verb}; a person must check it`,
      };
    }
    return {
      ok: true,
      unchanged: true,
      detail: `${id} was already terminating (deletionTimestamp ${at} ${when}): nothing to ${verb}; done without effect`,
    };
  }

  /**
   * After an eviction or delete the API server refused (409, 429), or between drain rounds:
   * the pod as a read finds it now. `gone` when it is not there or a same-named successor
   * stands in its place (`successor`: its uid); the pod when it is the same one (its uid);
   * null when the read failed.
   */
  async function lookAgain(ns: string, name: string, uid: string | undefined, signal: AbortSignal): Promise<PodRead | { gone: true; successor?: string } | null> {
    try {
      const cur = await readPodAndClock(ns, name, signal);
      return uid !== undefined && cur.pod.metadata?.uid !== uid ? { gone: true, successor: cur.pod.metadata?.uid ?? '' } : cur;
    } catch (err) {
      return isKubeStatus(err, 404) ? { gone: true } : null;
    }
  }
  const isGone = (now: PodRead | { gone: true } | null): now is { gone: true; successor?: string } => now !== null && 'gone' in now;

  /**
   * A refused eviction or delete (409, 429) after which a read finds another pod under the
   * name (a StatefulSet recreates its ordinal under the same name) or none: the pod the step
   * was to remove is gone, and the refusal changed nothing. What the step is for holds:
   * done without effect, as for a pod already gone, and the detail names the new pod. A 409
   * is the uid precondition keeping the request off the successor; a 429 is a budget's (or
   * the API server's) "not now", which the eviction may give about the successor itself (the
   * API server asks the budget about whatever pod holds the name, and checks the uid
   * precondition only after): taken for "not now", it would block the run on a pod that no
   * longer exists. Null when the read finds the same pod (its uid), or fails: the refusal
   * stands.
   */
  function replacedSince(
    now: PodRead | { gone: true; successor?: string } | null,
    ns: string,
    name: string,
    uid: string | undefined,
    verb: 'evict' | 'delete',
    status: 409 | 429,
  ): ActionOutcome | null {
    if (!isGone(now)) return null;
    const request = verb === 'evict' ? 'eviction' : 'delete';
    const refused = status === 409 ? `409 to its ${request}, whose uid precondition left the new pod alone` : `429 to its ${request}, which removed nothing`;
    const how = now.successor !== undefined ? `: a new pod (uid ${now.successor}) now holds the name (${refused})` : ` (${status} to its ${request}, then 404 when read)`;
    return { ok: true, unchanged: true, detail: `pod ${ns}/${name} (uid ${uid ?? ''}) was already gone${how}: nothing to ${verb}; done without effect` };
  }

  /**
   * A 404 to the eviction or delete itself: the pod went between the read and the write,
   * if a read now says it is not there (a 404 for some other reason, a path the API server
   * does not serve, is not taken for the pod being gone).
   */
  async function goneSince(ns: string, name: string, signal: AbortSignal): Promise<boolean> {
    try {
      await readPod(clients, ns, name, signal);
      return false;
    } catch (err) {
      return isKubeStatus(err, 404);
    }
  }

  async function evictOnce(pod: V1Pod, gracePeriod: number | undefined, signal: AbortSignal, writes: Writes, readBack?: ReadBack): Promise<void> {
    const namespace = assertNamespace(pod.metadata?.namespace, 'pod');
    const name = assertName(pod.metadata?.name, 'pod');
    await write(writes, () =>
      kubeCall(clients, signal, (o) =>
        clients.core.createNamespacedPodEviction(
          {
            namespace,
            name,
            body: {
              apiVersion: 'policy/v1',
              kind: 'Eviction',
              metadata: { name, namespace },
              // The uid precondition: evict the pod we checked, never a same-named successor.
              deleteOptions: { preconditions: { uid: pod.metadata?.uid }, ...(gracePeriod !== undefined ? { gracePeriodSeconds: gracePeriod } : {}) },
            },
          },
          o,
        ),
      ),
      readBack,
    );
  }

  /** Whether a lost eviction or delete of `pod` landed: that pod gone or terminating (`shortened`: its grace period down to that many seconds). */
  function podReadBack(done: ActionOutcome, ns: string, name: string, pod: V1Pod, shortened?: number): ReadBack {
    const uid = pod.metadata?.uid;
    return {
      done,
      read: async (signal) => {
        const now = await lookAgain(ns, name, uid, signal);
        if (shortened === undefined || now === null || isGone(now)) return podSeen(now, ns, name, uid);
        const g = now.pod.metadata?.deletionGracePeriodSeconds;
        return typeof g === 'number' && g <= shortened
          ? { landed: true, found: `pod ${ns}/${name} (uid ${uid ?? ''}) has a grace period of ${g}s` }
          : { landed: false, found: `pod ${ns}/${name} (uid ${uid ?? ''}) still has a grace period of ${g ?? 'none'}s` };
      },
    };
  }

  function gracePeriodArg(args: Record<string, string>): number | undefined {
    const g = args.grace_period_seconds;
    if (g === undefined) return undefined;
    if (!checkParam('integer', g).ok) throw new StepFailure(`grace_period_seconds ${JSON.stringify(g)} is not a whole number of seconds`);
    return Number(g);
  }

  async function evictPod(a: RenderedKubernetesAction, ns: string, signal: AbortSignal, writes: Writes, memo: Map<string, unknown>): Promise<ActionOutcome> {
    const read = await readTargetPod(ns, a.name, signal);
    if (!read) return alreadyGone(ns, a.name, 'evict', 'when read');
    const { pod } = read;
    if (isTerminating(pod)) return alreadyTerminating(read, 'evict', 'when read');
    const grace = gracePeriodArg(a.args);
    const out = await guardedRemoval<ActionOutcome>(
      pod,
      a.args.max_unavailable,
      signal,
      writes,
      (w, cur) => evictJudged(cur, ns, a.name, grace, signal, w, memo),
      {
        reread: async () => {
          const again = await readAgainOnTurn(ns, a.name, pod.metadata?.uid, 'evict', signal);
          if ('settled' in again) return again;
          if (isTerminating(again.pod)) return { settled: alreadyTerminating(again, 'evict', 'when read again once its workload\'s turn came') };
          return { pod: again.pod };
        },
      },
    );
    return 'refusal' in out ? refusedRemoval(out.refusal) : out.done;
  }

  /**
   * The pod an evict_pod or delete_pod read before its workload's turn came, read again
   * once it came (see guardedRemoval's `reread`): the pod as it is now, or the step's
   * outcome (`settled`) when it is gone or another pod holds its name. A read that fails
   * fails the step.
   */
  async function readAgainOnTurn(ns: string, name: string, uid: string | undefined, verb: 'evict' | 'delete', signal: AbortSignal): Promise<PodRead | { settled: ActionOutcome }> {
    const again = await lookAgain(ns, name, uid, signal);
    if (again === null) throw new StepFailure(`pod ${ns}/${name} could not be read again once its workload's turn came`);
    if (isGone(again)) return { settled: goneWhileWaiting(ns, name, uid, again.successor, verb) };
    return again;
  }

  /** A pod found gone (or another pod under its name: `successor`) when read again once its workload's turn came: nothing to do. */
  function goneWhileWaiting(ns: string, name: string, uid: string | undefined, successor: string | undefined, verb: 'evict' | 'delete'): ActionOutcome {
    const how = successor !== undefined ? `a new pod (uid ${successor}) now holds the name` : '404';
    return { ok: true, unchanged: true, detail: `pod ${ns}/${name} (uid ${uid ?? ''}) was already gone (${how} when read again once its workload's turn came): nothing to ${verb}; done without effect` };
  }

  /** evictPod's eviction, once its workload's blast radius allows it. */
  async function evictJudged(pod: V1Pod, ns: string, name: string, grace: number | undefined, signal: AbortSignal, writes: Writes, memo: Map<string, unknown>): Promise<ActionOutcome> {
    actedOn(memo, ns, name, pod);
    const evicted: ActionOutcome = { ok: true, detail: `evicted pod ${ns}/${name} through the Eviction API`, facts: { pod_uid: pod.metadata?.uid ?? '' } };
    try {
      await evictOnce(pod, grace, signal, writes, podReadBack(evicted, ns, name, pod));
    } catch (err) {
      // Refused because the pod is already on its way out (an API server that asks the
      // budget even for a terminating pod answers 429), or gone, perhaps with a successor
      // under its name: a read must show that same pod terminating, or another pod or none
      // under the name. Otherwise the refusal stands.
      if (isKubeStatus(err, 429) || isKubeStatus(err, 409)) {
        const now = await lookAgain(ns, name, pod.metadata?.uid, signal);
        if (now !== null && !isGone(now) && isTerminating(now.pod)) return alreadyTerminating(now, 'evict', `on a read after the ${err.status} to its eviction`);
        const replaced = replacedSince(now, ns, name, pod.metadata?.uid, 'evict', isKubeStatus(err, 409) ? 409 : 429);
        if (replaced) return replaced;
      }
      // "Not now" from a PodDisruptionBudget is an answer: fail the step, never fall back to delete.
      if (isKubeStatus(err, 429)) return { ok: false, notNow: true, detail: evictionRefused(err) };
      if (isKubeStatus(err, 409)) return { ok: false, detail: `pod ${ns}/${name} changed before eviction (409): ${err.message}` };
      if (isKubeStatus(err, 404) && (await goneSince(ns, name, signal))) return alreadyGone(ns, name, 'evict', 'to its eviction');
      throw err;
    }
    return evicted;
  }

  /**
   * Keeps in the run's memo the uid of the pod an eviction or delete acts on, before the
   * write (one that fails with no answer may still have landed): `pod_becomes_ready` then
   * tells that pod from a successor under its name. Left to its own first read (no
   * pre-check read the pod), it found StatefulSet pod web-0 already recreated, took it for
   * the evicted one, and never passed ("pod web-0 still present").
   */
  function actedOn(memo: Map<string, unknown>, ns: string, name: string, pod: V1Pod): void {
    if (pod.metadata?.uid) memo.set(podUidMemoKey(ns, name), pod.metadata.uid);
  }

  async function deletePod(a: RenderedKubernetesAction, ns: string, signal: AbortSignal, writes: Writes, memo: Map<string, unknown>): Promise<ActionOutcome> {
    const read = await readTargetPod(ns, a.name, signal);
    if (!read) return alreadyGone(ns, a.name, 'delete', 'when read');
    const { pod } = read;
    const grace = gracePeriodArg(a.args);
    // A terminating pod's grace period may be shortened (the API server allows it, never
    // a longer one): a delete naming a shorter one is sent, the uid precondition with it.
    // Its controller no longer counts it, so no replica guard is asked.
    const current = pod.metadata?.deletionGracePeriodSeconds;
    const shortening = isTerminating(pod) && grace !== undefined && current !== undefined && current !== null && grace < current;
    if (isTerminating(pod) && !shortening) return alreadyTerminating(read, 'delete', 'when read');
    // force_delete skips PodDisruptionBudgets, not rectify's own last-replica and share limits.
    // Their refusal is "not now", as for an eviction: nothing changed, so no rollback and no breaker failure.
    const facts = { pod_uid: pod.metadata?.uid ?? '' };
    const done: ActionOutcome = shortening
      ? { ok: true, detail: `shortened the grace period of terminating pod ${ns}/${a.name} from ${current}s to ${grace}s`, facts }
      : { ok: true, detail: `deleted pod ${ns}/${a.name} (force_delete: PodDisruptionBudgets not consulted)`, facts };
    if (shortening) return deleteJudged(pod, ns, a.name, { grace, shortening }, done, signal, writes, memo);
    const out = await guardedRemoval<ActionOutcome>(
      pod,
      a.args.max_unavailable,
      signal,
      writes,
      (w, cur) => deleteJudged(cur, ns, a.name, { grace, shortening }, done, signal, w, memo),
      {
        reread: async () => {
          const again = await readAgainOnTurn(ns, a.name, pod.metadata?.uid, 'delete', signal);
          if ('settled' in again) return again;
          if (!isTerminating(again.pod)) return { pod: again.pod };
          // Deleted by another run meanwhile: its grace period is shortened as for a pod read terminating.
          const g = again.pod.metadata?.deletionGracePeriodSeconds;
          if (grace === undefined || g === undefined || g === null || grace >= g) return { settled: alreadyTerminating(again, 'delete', 'when read again once its workload\'s turn came') };
          const shorter: ActionOutcome = { ok: true, detail: `shortened the grace period of terminating pod ${ns}/${a.name} from ${g}s to ${grace}s`, facts };
          return { settled: await deleteJudged(again.pod, ns, a.name, { grace, shortening: true }, shorter, signal, writes, memo) };
        },
      },
    );
    return 'refusal' in out ? refusedRemoval(out.refusal) : out.done;
  }

  /** deletePod's delete, once its workload's blast radius allows it (`shortening`: a terminating pod's grace period, to `grace`). */
  async function deleteJudged(
    pod: V1Pod,
    ns: string,
    name: string,
    { grace, shortening }: { grace: number | undefined; shortening: boolean },
    done: ActionOutcome,
    signal: AbortSignal,
    writes: Writes,
    memo: Map<string, unknown>,
  ): Promise<ActionOutcome> {
    actedOn(memo, ns, name, pod);
    try {
      await write(
        writes,
        () =>
          kubeCall(clients, signal, (o) =>
            clients.core.deleteNamespacedPod(
              { namespace: ns, name, ...(grace !== undefined ? { gracePeriodSeconds: grace } : {}), body: { preconditions: { uid: pod.metadata?.uid } } },
              o,
            ),
          ),
        podReadBack(done, ns, name, pod, shortening ? grace : undefined),
      );
    } catch (err) {
      if (isKubeStatus(err, 404) && (await goneSince(ns, name, signal))) return alreadyGone(ns, name, 'delete', 'to its delete');
      if (isKubeStatus(err, 409)) {
        const replaced = replacedSince(await lookAgain(ns, name, pod.metadata?.uid, signal), ns, name, pod.metadata?.uid, 'delete', 409);
        if (replaced) return replaced;
      }
      throw err;
    }
    return done;
  }

  /**
   * How many ready replicas scaling workload `w` down to `want` takes away. A ReplicaSet
   * (a Deployment's) removes its pods that are not ready first, so only the ready ones
   * beyond `want` go; a StatefulSet removes the pods whose ordinal is not below its first
   * ordinal plus `want`, whatever their state, so the ready pods among them go (listed:
   * its status does not say which are ready, and lags what the pods say). Told by the
   * ordinal in the pod's name, not by its place in the list: with db-1 missing, scaling
   * db to 2 removes db-2, not a third pod that is not there. A pod whose name is not the
   * set's name, '-' and an ordinal counts as removed when ready (rectify cannot tell).
   * `left`: the ready replicas that stay (for a StatefulSet, its listed pods that do).
   */
  async function readyRemovedByScaleDown(w: WorkloadState, want: number, signal: AbortSignal): Promise<{ removed: number; left: number }> {
    if (w.kind !== 'StatefulSet' || !formatSelector(w.selector)) {
      const removed = Math.max(0, w.ready - want);
      return { removed, left: w.ready - removed };
    }
    const kept = statefulSetKeeps(w, want);
    const ready = (await listWorkloadPods(clients, w, signal)).filter((p) => !isTerminating(p) && isPodReady(p));
    const left = ready.filter(kept).length;
    return { removed: ready.length - left, left };
  }

  /**
   * The reason a scale-down of `kind` NS/NAME from `old` to
   * `want` (at least 1) is refused, or null: it would leave the workload no ready pod
   * while it has ready pods now. Ready pods are those a listing finds (not terminating).
   * A StatefulSet removes its pods whose ordinal is not below its first ordinal plus
   * `want`, whatever their state (`statefulSetKeeps`), so it is refused when every ready
   * pod is among them. A Deployment whose one ReplicaSet with replicas holds its pods
   * removes the not-ready ones first and keeps min(ready, want) ready: never none. During
   * a rollout (several ReplicaSets with replicas) the Deployment controller splits the
   * scale-down among them by their size, not by readiness: each removes not-ready pods
   * first only among its own, so the ready pods can all go when the ReplicaSets with no
   * ready pod hold at least `want` replicas between them, and it is refused then (the worst
   * case: rectify cannot tell how the split falls). A workload with no selector has no pods
   * a listing could tell apart: its status's ready count is all there is, and any
   * scale-down may remove those, so it is refused when that count is not 0.
   */
  async function lastReadyScaleDown(kind: 'Deployment' | 'StatefulSet', ns: string, name: string, old: number, want: number, signal: AbortSignal): Promise<string | null> {
    const w = await readWorkload(clients, { kind, name, namespace: ns }, signal);
    const what = `scaling ${kind} ${ns}/${name} from ${old} to ${want}`;
    const check = 'nothing was written: a person must check it';
    if (!formatSelector(w.selector)) {
      if (w.ready === 0) return null;
      return `${what} may remove its ready pods: its status says ${w.ready} ready, and with no selector rectify cannot list its pods to tell which; ${check}`;
    }
    const replicaSets = kind === 'Deployment' ? await listDeploymentReplicaSets(clients, w, signal) : [];
    const listed = await listWorkloadPods(clients, w, signal, kind === 'Deployment' ? replicaSets : undefined);
    const key = workloadKey(w);
    disruptions.settle(key, listed.map((p) => ({ uid: p.metadata?.uid ?? '', terminating: isTerminating(p) })));
    const pods = listed.filter((p) => !isTerminating(p));
    // Pods another run of this process removed, which the listing may not show so yet, serve nothing.
    const out = disruptions.pending(key);
    const removing = pods.filter((p) => isPodReady(p) && out.has(p.metadata?.uid ?? ''));
    const ready = pods.filter((p) => isPodReady(p) && !out.has(p.metadata?.uid ?? ''));
    if (ready.length === 0 && removing.length > 0) {
      return `${what} may leave it no ready pod: its ready pods (${podNames(removing)}) are being removed by another run of this rectify; ${check}`;
    }
    if (ready.length === 0) return null;
    const readyNow = `ready now ${ready.length} (${podNames(ready)})`;
    if (kind === 'StatefulSet') {
      const kept = statefulSetKeeps(w, want);
      if (ready.some(kept)) return null;
      const stay = pods.filter(kept);
      const keeping = stay.length > 0 ? `keeping ${podNames(stay)}, none ready` : 'keeping none of its pods';
      return `${what} would leave it no ready pod: ${readyNow}, and the scale-down removes ${podNames(pods.filter((p) => !kept(p)))}, ${keeping}; ${check}`;
    }
    const readyIn = (rs: V1ReplicaSet): number => ready.filter((p) => controllerOf(p.metadata?.ownerReferences)?.uid === rs.metadata?.uid).length;
    const sized = replicaSets.map((rs) => ({ name: rs.metadata?.name ?? '', replicas: rs.spec?.replicas ?? 1, ready: readyIn(rs) }));
    const room = sized.filter((rs) => rs.ready === 0).reduce((n, rs) => n + rs.replicas, 0);
    if (room < want) return null;
    const sets = sized
      .filter((rs) => rs.replicas > 0 || rs.ready > 0)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((rs) => `${rs.name}: ${rs.replicas} replica${rs.replicas === 1 ? '' : 's'}, ${rs.ready === 0 ? 'none' : rs.ready} ready`)
      .join('; ');
    return (
      `${what} may leave it no ready pod: ${readyNow}; the Deployment controller splits a scale-down among its ReplicaSets by their size, not by readiness (${sets}), ` +
      `and those with no ready pod can hold the ${want} replica${want === 1 ? '' : 's'} left, so every ready pod may be removed; ${check}`
    );
  }

  function readScale(kind: 'Deployment' | 'StatefulSet', ns: string, name: string, signal: AbortSignal) {
    return kind === 'Deployment'
      ? kubeCall(clients, signal, (o) => clients.apps.readNamespacedDeploymentScale({ namespace: ns, name }, o))
      : kubeCall(clients, signal, (o) => clients.apps.readNamespacedStatefulSetScale({ namespace: ns, name }, o));
  }

  async function scale(a: RenderedKubernetesAction, ns: string, signal: AbortSignal, writes: Writes, memo: Map<string, unknown>, phase: StepContext['phase']): Promise<ActionOutcome> {
    const kind = a.kind === 'statefulset' ? 'StatefulSet' : 'Deployment';
    const key = scaledFromKey(kind, ns, a.name);
    // A rollback restores what this run's own scale read, not the count its plan names.
    const restore = phase === 'rollback' ? (memo.get(key) as number | undefined) : undefined;
    // With no scale of this run's to undo (it never ran, or was refused before any write),
    // the count the workload has now is someone else's (an autoscaler, a person): the
    // rendered count, enrichment's from when the plan was made, would undo their change.
    if (phase === 'rollback' && restore === undefined) return { ok: true, detail: `${kind} ${ns}/${a.name} left as it is: this run did not scale it` };
    const text = restore !== undefined ? String(restore) : a.args.replicas;
    if (text === undefined || !checkParam('integer', text).ok) return { ok: false, detail: `scale needs a whole-number replicas argument, got ${JSON.stringify(text ?? null)}` };
    const want = Number(text);
    const restoring = restore !== undefined ? ` (the count it had before this run's scale${a.args.replicas !== text ? `, not the rollback's --replicas=${a.args.replicas}` : ''})` : '';
    // Alert labels can reach this number; zero would take the whole service down. Only a
    // runbook that writes --replicas=0 itself (HIGH risk: a person approved it) may, or a
    // rollback putting back the 0 this run's own scale read.
    if (want === 0 && a.args.allow_zero !== 'true' && restore === undefined) {
      return { ok: false, refused: true, detail: `refused: scaling ${a.kind} ${ns}/${a.name} to 0 would remove every replica; rectify does not do that` };
    }
    // Set by the run's first scale of this workload only, so a second one does not move what a rollback restores.
    const first = phase !== 'rollback' && !memo.has(key);
    const plan = { kind: kind as 'Deployment' | 'StatefulSet', want, restore, restoring, first, key };
    return withConflictRetry(`scale ${kind} ${ns}/${a.name}`, async () => {
      // A scale that does not lower the count removes nothing: it is not held behind
      // another run's removal (a rollback restoring capacity would wait, and might fail).
      const free = await scaleHeld(a, ns, plan, false, signal, writes, memo, phase);
      if (free) return free;
      // A scale-down: one run of the process at a time reads, judges and scales a workload,
      // as for a pod's removal (see guardedRemoval); read again once held.
      const held = await holdWorkload(kind, ns, a.name, signal);
      if ('reason' in held) return refusedRemoval(held);
      try {
        return (await scaleHeld(a, ns, plan, true, signal, writes, memo, phase)) as ActionOutcome;
      } finally {
        held.release();
      }
    });
  }

  /**
   * One attempt of `scale`: `plan` is what `scale` worked out before it (`key`: its memo
   * key for the count read). Not `held` (its workload not held), null when the count read
   * is above the one wanted: a scale-down, for `scale` to make holding it.
   */
  async function scaleHeld(
    a: RenderedKubernetesAction,
    ns: string,
    plan: { kind: 'Deployment' | 'StatefulSet'; want: number; restore: number | undefined; restoring: string; first: boolean; key: string },
    held: boolean,
    signal: AbortSignal,
    writes: Writes,
    memo: Map<string, unknown>,
    phase: StepContext['phase'],
  ): Promise<ActionOutcome | null> {
    const { kind, want, restore, restoring, first, key } = plan;
    const sc = await readScale(kind, ns, a.name, signal);
    const old = sc.spec?.replicas ?? 0;
    if (!held && want < old) return null;
    // What a rollback restores, recorded once the workload has, or is sent, the count
    // this run asked for: never by a step refused before its write, which scaled nothing
    // (a retry after a 409 records its fresher read). Before the write: one that fails
    // with no answer may still have landed.
    const record = (): void => {
      if (first) memo.set(key, old);
      if (phase !== 'rollback') memo.set(scaledToKey(kind, ns, a.name), want);
    };
    const facts = { old_replicas: String(old), new_replicas: String(want) };
    if (old === want) {
      record();
      return { ok: true, detail: `${kind} ${ns}/${a.name} already has ${want} replicas${restoring}`, facts };
    }
    // Scaled since the plan was made, past it: the write would go the other way from the plan.
    const from = phase === 'action' && a.args.planned_from !== undefined ? Number(a.args.planned_from) : undefined;
    if (from !== undefined && old !== from && Math.sign(want - from) !== Math.sign(want - old)) {
      return {
        ok: false,
        refused: true,
        detail: `refused: ${kind} ${ns}/${a.name} has ${old} replicas, not the ${from} this plan was made from: it was scaled since (an autoscaler, a person), and scaling it to ${want} now would ${want < old ? 'lower' : 'raise'} it, the other way from the plan; nothing was written`,
        facts,
      };
    }
    const set = restore !== undefined ? (memo.get(scaledToKey(kind, ns, a.name)) as number | undefined) : undefined;
    if (set !== undefined && old !== set) {
      return {
        ok: false,
        detail: `refused: ${kind} ${ns}/${a.name} has ${old} replicas, not the ${set} this run set: it was scaled by someone else since, and rectify does not scale it back to ${want} over that change: a person must check it`,
        facts,
      };
    }
    // A scale-down never takes the last ready pods, cap or not (a cap of 1 on a set with
    // one ready pod would allow it): refused as one past the cap is. A scale to 0 is the
    // allow_zero rule's (above).
    if (want < old && want > 0) {
      const reason = await lastReadyScaleDown(kind, ns, a.name, old, want, signal);
      if (reason) return { ok: false, refused: true, detail: `refused: ${reason}` };
    }
    if (want < old && a.args.max_unavailable !== undefined) {
      const w = await readWorkload(clients, { kind, name: a.name, namespace: ns }, signal);
      const allowed = allowedUnavailable(a.args.max_unavailable, old);
      // Only the ready replicas the scale-down removes are disrupted: a replica not ready
      // serves nothing (counted as disruption, the rollback of a scale-up whose new pods
      // never became ready was refused, and the extra replica stayed).
      const removedReady = await readyRemovedByScaleDown(w, want, signal);
      if (removedReady.removed > allowed) {
        return {
          ok: false,
          refused: true,
          detail: `refused: max_unavailable ${a.args.max_unavailable} allows removing ${allowed} of ${old} replicas of ${kind} ${ns}/${a.name}; scaling to ${want} would leave ${removedReady.left} ready`,
        };
      }
    }
    // A replace carrying the resourceVersion we read: a concurrent change is a 409, not a lost update.
    const body = { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: a.name, namespace: ns, resourceVersion: sc.metadata?.resourceVersion }, spec: { replicas: want } };
    const done: ActionOutcome = { ok: true, detail: `scaled ${kind} ${ns}/${a.name} from ${old} to ${want} replicas${restoring}`, facts };
    // What the memo held before: a write the API server refused (a 4xx: nothing was
    // written) gives it back, so a rollback does not undo a scale made since by someone else.
    const had = [key, scaledToKey(kind, ns, a.name)].map((k) => [k, memo.has(k), memo.get(k)] as const);
    record();
    const readBack: ReadBack = {
      done,
      read: async (s) => {
        const now = (await readScale(kind, ns, a.name, s)).spec?.replicas ?? 0;
        return { landed: now === want ? true : now === old ? false : undefined, found: `${kind} ${ns}/${a.name} has ${now} replicas` };
      },
    };
    try {
      if (kind === 'Deployment') await write(writes, () => kubeCall(clients, signal, (o) => clients.apps.replaceNamespacedDeploymentScale({ namespace: ns, name: a.name, body }, o)), readBack);
      else await write(writes, () => kubeCall(clients, signal, (o) => clients.apps.replaceNamespacedStatefulSetScale({ namespace: ns, name: a.name, body }, o)), readBack);
    } catch (err) {
      if (refusedWrite(err)) {
        for (const [k, was, v] of had) {
          if (was) memo.set(k, v);
          else memo.delete(k);
        }
      }
      throw err;
    }
    return done;
  }

  async function rolloutRestart(a: RenderedKubernetesAction, ns: string, signal: AbortSignal, writes: Writes): Promise<ActionOutcome> {
    const kind = a.kind === 'statefulset' ? 'StatefulSet' : 'Deployment';
    // The restartedAt stamp it has now: a lost answer is judged by the stamp a read finds then.
    const read = async (s: AbortSignal): Promise<{ paused: boolean; stamp: string | undefined }> => {
      const obj =
        kind === 'Deployment'
          ? await kubeCall(clients, s, (o) => clients.apps.readNamespacedDeployment({ namespace: ns, name: a.name }, o))
          : await kubeCall(clients, s, (o) => clients.apps.readNamespacedStatefulSet({ namespace: ns, name: a.name }, o));
      return { paused: (obj.spec as { paused?: boolean } | undefined)?.paused === true, stamp: obj.spec?.template?.metadata?.annotations?.[RESTARTED_AT] };
    };
    const before = await read(signal);
    if (before.paused) return { ok: false, detail: `${kind} ${ns}/${a.name} is paused; resume it before restarting (kubectl rollout resume)` };
    // RFC 3339 in UTC without fractions, the form kubectl writes.
    const at = new Date(clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const body = { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: at } } } } };
    const done: ActionOutcome = { ok: true, detail: `restarted ${kind} ${ns}/${a.name} (${RESTARTED_AT}=${at})`, facts: { restarted_at: at } };
    const readBack: ReadBack = {
      done,
      read: async (s) => {
        const now = (await read(s)).stamp;
        const found = `${kind} ${ns}/${a.name} has ${now === undefined ? `no ${RESTARTED_AT} annotation` : `${RESTARTED_AT}=${now}`}`;
        // A stamp equal to the one before (a restart within the same second) tells nothing.
        return { landed: at === before.stamp ? undefined : now === at ? true : now === before.stamp ? false : undefined, found };
      },
    };
    if (kind === 'Deployment') await write(writes, () => kubeCall(clients, signal, (o) => clients.apps.patchNamespacedDeployment({ namespace: ns, name: a.name, body }, o), 'strategic'), readBack);
    else await write(writes, () => kubeCall(clients, signal, (o) => clients.apps.patchNamespacedStatefulSet({ namespace: ns, name: a.name, body }, o), 'strategic'), readBack);
    return done;
  }

  async function rolloutUndo(
    a: RenderedKubernetesAction,
    ns: string,
    signal: AbortSignal,
    writes: Writes,
    memo: Map<string, unknown>,
    phase: StepContext['phase'],
    alertAt: number | undefined,
  ): Promise<ActionOutcome> {
    if (a.kind !== 'deployment') return { ok: false, detail: `rollout undo is implemented for deployments only, got ${a.kind}` };
    const to = a.args.to_revision;
    if (to !== undefined && (!checkParam('integer', to).ok || to === '0')) return { ok: false, detail: `to_revision ${JSON.stringify(to)} is not a revision number` };
    const key = undoneFromKey(ns, a.name);
    if (phase === 'rollback') {
      const before = memo.get(key) as UndoneFrom | undefined;
      if (before) return restoreTemplate(a, ns, before, signal, writes);
      // A relative undo as a rollback undoes whatever the deployment's last change was,
      // this run's or not, landed or not: without the run's own read there is nothing
      // known to restore. A rollback naming its revision is absolute and runs as written.
      if (to === undefined) {
        return {
          ok: false,
          detail: `refused: this run has no record of the template deployment ${ns}/${a.name} had before it changed it, so it cannot tell what to restore; rectify does not undo once more blindly (that could make the very change that failed): a person must check the deployment`,
        };
      }
    }
    // Set by the run's first undo of this deployment only, so a second one does not move what a rollback restores.
    const first = phase !== 'rollback' && !memo.has(key);
    // What this step's first read found: a relative undo aims at the revision before that one.
    let aimed: { revision: number; template: V1PodTemplateSpec | undefined } | undefined;
    return withConflictRetry(`rollout undo deployment ${ns}/${a.name}`, async () => {
      const h = await readRolloutHistory(clients, ns, a.name, signal);
      const current = h.deployment.spec?.template ? withoutHashLabel(h.deployment.spec.template) : undefined;
      // A retry (after a 409) finding another revision or template than the first read did:
      // someone rolled the deployment out meanwhile (a hotfix), and undoing once more from
      // there would roll back their rollout, not the one this undo was for. A retry after a
      // change that left the template alone (a status update, a scale) goes on.
      if (to === undefined && aimed && (h.current !== aimed.revision || !sameOptionalTemplate(current, aimed.template))) {
        return {
          ok: false,
          refused: true,
          detail: `refused: deployment ${ns}/${a.name} was rolled out while rectify undid it (revision ${aimed.revision} when read, revision ${h.current} now${h.current === aimed.revision ? ', with another template' : ''}): a relative undo from there would roll back that rollout instead; nothing was written: a person must check the deployment`,
        };
      }
      aimed ??= { revision: h.current, template: current };
      // Recorded once read, before any write (a retry after a 409 records its fresher read).
      if (first && current) memo.set(key, { revision: h.current, template: current } satisfies UndoneFrom);
      if (h.deployment.spec?.paused) return { ok: false, detail: `deployment ${ns}/${a.name} is paused; resume it before rolling back` };
      const known = h.revisions.map((r) => r.revision).join(', ') || 'none';
      const target = to !== undefined ? h.revisions.find((r) => r.revision === Number(to)) : h.revisions.find((r) => r.revision !== h.current);
      if (!target) {
        return {
          ok: false,
          detail:
            to !== undefined
              ? `deployment ${ns}/${a.name} has no revision ${to} (revisions: ${known})`
              : `deployment ${ns}/${a.name} has no previous revision to roll back to (revisions: ${known}; current ${h.current})`,
        };
      }
      const facts = { from_revision: String(h.current), to_revision: String(target.revision) };
      if (target.revision === h.current) return { ok: true, detail: `deployment ${ns}/${a.name} is already at revision ${target.revision}`, facts };
      if (to === undefined && alertAt !== undefined) {
        const since = rolledOutSince(ns, a.name, h, current, alertAt, serverClockOffset(h.serverTime, clock.now()));
        if (since) return { ok: false, refused: true, detail: since };
      }
      const template = withoutHashLabel(target.template);
      // Before the write: one that fails with no answer may still have landed.
      const undone = memo.get(key) as UndoneFrom | undefined;
      if (phase !== 'rollback' && undone) memo.set(key, { ...undone, wrote: template } satisfies UndoneFrom);
      // JSON Patch replaces the whole template (a merge would keep fields the old
      // revision did not have); the resourceVersion we read rides along, so the
      // server answers 409 if the deployment changed since, and we re-read.
      const body = [
        { op: 'replace', path: '/spec/template', value: template },
        { op: 'replace', path: '/metadata/resourceVersion', value: h.deployment.metadata?.resourceVersion },
      ];
      const done: ActionOutcome = {
        ok: true,
        detail: `rolled deployment ${ns}/${a.name} back from revision ${h.current} to revision ${target.revision} (ReplicaSet ${target.replicaSet})`,
        facts,
      };
      const readBack: ReadBack = {
        done,
        read: (s) => templateSeen(ns, a.name, { template, name: `revision ${target.revision}'s` }, { template: current, name: `revision ${h.current}'s`, when: 'the undo' }, s),
        // Only the run's own undo: a rollback's undo has no rollback after it to hold.
        ...(phase !== 'rollback'
          ? {
              holdRollback: `the undo's answer was lost and rectify could not tell whether it landed; the rollback would put back revision ${h.current}'s template, the one the undo was taking away, on no evidence`,
            }
          : {}),
      };
      try {
        await write(writes, () => kubeCall(clients, signal, (o) => clients.apps.patchNamespacedDeployment({ namespace: ns, name: a.name, body }, o), 'json'), readBack);
      } catch (err) {
        // Refused (a 409, any 4xx): the template was not written, and a rollback must not
        // take the deployment's template for this run's write (a person's undo to the very
        // same template, made meanwhile, would be put back over).
        if (phase !== 'rollback' && undone && refusedWrite(err)) memo.set(key, undone);
        throw err;
      }
      return done;
    });
  }

  /**
   * A rollback's undo: puts back the pod template the deployment had before this run's
   * undo, and changes nothing when it still has it (the run's write never landed).
   */
  async function restoreTemplate(a: RenderedKubernetesAction, ns: string, before: UndoneFrom, signal: AbortSignal, writes: Writes): Promise<ActionOutcome> {
    const id = `deployment ${ns}/${a.name}`;
    const ignored = a.args.to_revision !== undefined ? `, not the rollback's --to-revision=${a.args.to_revision}` : '';
    return withConflictRetry(`rollout undo ${id}`, async () => {
      const h = await readRolloutHistory(clients, ns, a.name, signal);
      const facts = { from_revision: String(h.current), to_revision: String(before.revision) };
      const current = h.deployment.spec?.template;
      if (current && sameTemplate(withoutHashLabel(current), before.template)) {
        const where =
          h.current === before.revision
            ? `is still on revision ${h.current} (the revision before this run's undo${ignored})`
            : `is on revision ${h.current}, still the template of revision ${before.revision} (the revision before this run's undo${ignored})`;
        return { ok: true, detail: `${id} ${where}: nothing to roll back`, facts };
      }
      // The run's undo wrote nothing (the deployment was already where it aimed), or wrote
      // another template: either way this one is someone else's rollout.
      if (current && (!before.wrote || !sameTemplate(withoutHashLabel(current), before.wrote))) {
        const whose = before.wrote ? 'neither the one this run\'s undo wrote nor the one before it' : 'not the one before this run\'s undo, which wrote nothing';
        return {
          ok: false,
          detail: `refused: ${id} is on revision ${h.current}, whose template is ${whose}: someone else rolled it out since, and rectify does not put revision ${before.revision}'s template back over it: a person must check the deployment`,
          facts,
        };
      }
      if (h.deployment.spec?.paused) return { ok: false, detail: `${id} is paused; resume it before rolling back` };
      const body = [
        { op: 'replace', path: '/spec/template', value: before.template },
        { op: 'replace', path: '/metadata/resourceVersion', value: h.deployment.metadata?.resourceVersion },
      ];
      const done: ActionOutcome = { ok: true, detail: `rolled ${id} back from revision ${h.current} to the template of revision ${before.revision} (the revision before this run's undo${ignored})`, facts };
      const readBack: ReadBack = {
        done,
        read: (s) =>
          templateSeen(ns, a.name, { template: before.template, name: `revision ${before.revision}'s` }, { template: current && withoutHashLabel(current), name: `revision ${h.current}'s`, when: 'the rollback' }, s),
      };
      await write(writes, () => kubeCall(clients, signal, (o) => clients.apps.patchNamespacedDeployment({ namespace: ns, name: a.name, body }, o), 'json'), readBack);
      return done;
    });
  }

  /**
   * Whether a lost write of a deployment's pod template landed: the template a read finds
   * now is the one written (`wrote`), or still the one read before (`had`), or neither.
   */
  async function templateSeen(
    ns: string,
    name: string,
    wrote: { template: V1PodTemplateSpec; name: string },
    had: { template: V1PodTemplateSpec | undefined; name: string; when: string },
    signal: AbortSignal,
  ): Promise<Seen> {
    const d = await kubeCall(clients, signal, (o) => clients.apps.readNamespacedDeployment({ namespace: ns, name }, o));
    const now = d.spec?.template ? withoutHashLabel(d.spec.template) : undefined;
    const id = `deployment ${ns}/${name}`;
    if (now && sameTemplate(now, wrote.template)) return { landed: true, found: `${id} has ${wrote.name} pod template` };
    if (had.template && sameOptionalTemplate(now, had.template)) return { landed: false, found: `${id} still has ${had.name} pod template, as before ${had.when}` };
    return { landed: undefined, found: `${id} has neither ${wrote.name} pod template nor ${had.name} (someone else changed it since)` };
  }

  /** `memo` given (cordon, drain): what the node was is remembered for the run's rollback. */
  async function setUnschedulable(name: string, on: boolean, signal: AbortSignal, writes: Writes, memo?: Map<string, unknown>, done?: (was: boolean) => ActionOutcome): Promise<{ was: boolean }> {
    const node = await kubeCall(clients, signal, (o) => clients.core.readNode({ name }, o));
    const was = node.spec?.unschedulable === true;
    // Remembered once the patch is accepted, or sent with no answer (one that times out may
    // still cordon the node, and the rollback must then undo it); never after the API
    // server refused it (a 4xx: nothing changed), when a cordon made since is not the run's.
    const remember = (): void => {
      if (memo) rememberCordoned(memo, name, was);
    };
    if (was !== on) {
      // null removes the field, as kubectl uncordon leaves it.
      const body = { spec: { unschedulable: on ? true : null } };
      const readBack: ReadBack | undefined = done && {
        done: done(was),
        read: async (s) => {
          const now = (await kubeCall(clients, s, (o) => clients.core.readNode({ name }, o))).spec?.unschedulable === true;
          return { landed: now === on, found: `node ${name} is ${now ? 'cordoned' : 'schedulable'}` };
        },
      };
      try {
        await write(writes, () => kubeCall(clients, signal, (o) => clients.core.patchNode({ name, body }, o), 'strategic'), readBack);
      } catch (err) {
        if (!refusedWrite(err)) remember();
        throw err;
      }
    }
    remember();
    return { was };
  }

  async function drain(a: RenderedKubernetesAction, ctxSignal: AbortSignal, stepTimeoutMs: number, memo: Map<string, unknown>, writes: Writes): Promise<ActionOutcome> {
    const t = a.args.timeout_seconds;
    if (t !== undefined && !checkParam('integer', t).ok) return { ok: false, detail: `timeout_seconds ${JSON.stringify(t)} is not a whole number` };
    // The drain ends a little before the step does, so the step can still report which pods stayed.
    const margin = Math.min(2000, Math.floor(stepTimeoutMs / 10));
    const askedMs = Math.min(t !== undefined ? Number(t) * 1000 : Infinity, stepTimeoutMs);
    const drainMs = Math.max(0, Math.min(askedMs, stepTimeoutMs - margin));
    // A deadline cut short of the timeout asked for says so: a --timeout=8s drain read "within 7200ms".
    const trim = drainMs < askedMs ? `the drain's ${formatDuration(askedMs)} timeout less ${askedMs - drainMs}ms the step keeps to report` : undefined;
    const grace = gracePeriodArg(a.args);
    const drainSignal = withTimeout(ctxSignal, drainMs);
    const deadlineAt = performance.now() + drainMs;
    const msLeft = (): number => deadlineAt - performance.now();
    const node = a.name;
    const listPods = () => kubeCall(clients, ctxSignal, (o) => clients.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` }, o));
    // What kubectl drain would refuse is looked for before the node is cordoned: a refusal
    // then changes nothing (the node is left as it was), as a refusal by rectify's own
    // rule must, so it is neither rolled back nor counted by the breaker. A refused pod
    // scheduled between this listing and the cordon is found in the one after it: the
    // node is cordoned by then, so that drain fails as any other does.
    const before = drainRefusals(await listPods(), a.args);
    if (before.length > 0) {
      return {
        ok: false,
        refused: true,
        detail: `drain node ${node}: refused, nothing evicted: ${before.join('; ')}; the node was not cordoned`,
        facts: { evicted: '0' },
      };
    }
    const { was } = await setUnschedulable(node, true, ctxSignal, writes, memo);
    const list = await listPods();

    const pending = new Map<string, { pod: V1Pod; why: string }>();
    const skipped: string[] = [];
    // Pods found terminating (when listed, or later) that the drain did not evict: waited
    // for until gone within its deadline, as evicted ones are.
    const terminating: V1Pod[] = [];
    const notEvicted: string[] = [];
    // What kubectl drain refuses before it evicts anything, unless its flag says otherwise:
    // a pod scheduled since the listing before the cordon.
    const refused = drainRefusals(list, a.args);
    for (const pod of list.items) {
      const id = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
      if (!validPodName(pod)) {
        notEvicted.push(`${JSON.stringify(id)} (name not valid)`);
        continue;
      }
      const d = drainDisposition(pod, a.args);
      if (d.kind === 'mirror') skipped.push(`${id} (mirror)`);
      // Already on its way out: nothing to evict, but kubectl drain waits until it is gone, and so do we.
      else if (d.kind === 'terminating') terminating.push(pod);
      else if (d.kind === 'skip') skipped.push(`${id} (DaemonSet)`);
      else if (d.kind === 'evict') pending.set(id, { pod, why: 'not tried' });
    }
    if (refused.length > 0) {
      // The node was cordoned (unless it already was): not a refusal that changed nothing.
      return {
        ok: false,
        refused: true,
        detail: `drain node ${node}: refused, nothing evicted: ${refused.join('; ')}; ${STAYS_CORDONED}`,
        standing: STAYS_CORDONED,
        facts: { was_unschedulable: String(was), evicted: '0' },
      };
    }

    const evicted: V1Pod[] = [];
    // Pods whose eviction got no answer saying whether it was carried out: tried again
    // (the uid precondition evicts that pod or none), and gone by then, counted as evicted.
    const unanswered = new Set<string>();
    // Pods this drain evicted (or may have: its answer was lost), and those found terminating,
    // no longer serve, whatever a listing (this round's, or one just made) says yet.
    const removedUids = (): Set<string> =>
      new Set([...evicted, ...terminating, ...[...unanswered].flatMap((id) => pending.get(id)?.pod ?? [])].map((p) => p.metadata?.uid ?? '').filter((u) => u !== ''));
    // Pods whose eviction was answered with a refusal (a budget's 429, a 404 or 409 a read
    // did not settle): asking again is a retry, sent only with time left to hear its answer
    // (see `mayRetry`).
    const refusedOnce = new Set<string>();
    // The time a retry after a refusal needs left before the deadline: the API call timeout,
    // at most 2 s (an eviction is answered within milliseconds when the API server is well).
    const retryAnswerMs = Math.min(clients.callTimeoutMs, DRAIN_RETRY_ANSWER_MS);
    /**
     * Whether a pod may be asked to evict now: its first eviction is sent whenever the
     * deadline has not passed, and so is one asking again after an answer was lost (that
     * answer can only tell what the lost one did). A retry after a refusal is sent only while
     * `retryAnswerMs` is left before the deadline, judged after the reads that come before
     * it, right before it is sent: no retry is started that its answer cannot follow in time,
     * and a pod left without one stays refused ("not now": nothing was evicted). The drain
     * still reads such a pod each round until its deadline: one gone or terminating since
     * (its controller, or someone else, removed it) is let go, as any other.
     */
    const mayRetry = (id: string): boolean => !refusedOnce.has(id) || unanswered.has(id) || msLeft() >= retryAnswerMs;
    // Evictions this service account may not make (403): asking again each round until the
    // deadline would only hammer the API server with requests it will refuse.
    let forbidden = false;
    let round = 0;
    /**
     * A pod found gone or terminating since the list (someone else deleted it, its
     * controller replaced it) is no longer the drain's to evict: a gone one is let go, a
     * terminating one is waited for until gone, as at the start. When an eviction of it
     * got no answer, that eviction is what removed it: it counts as evicted.
     */
    const settled = async (id: string, p: { pod: V1Pod }): Promise<boolean> => {
      const now = await lookAgain(p.pod.metadata?.namespace ?? '', p.pod.metadata?.name ?? '', p.pod.metadata?.uid, drainSignal);
      if (now === null) return false;
      if (!isGone(now) && !isTerminating(now.pod)) {
        p.pod = now.pod;
        return false;
      }
      if (unanswered.has(id)) evicted.push(p.pod);
      else if (!isGone(now)) terminating.push(now.pod);
      pending.delete(id);
      return true;
    };
    while (pending.size > 0 && !drainSignal.aborted && !forbidden) {
      if (round++ > 0) await sleep(drainRetryMs, drainSignal).catch(() => undefined);
      if (drainSignal.aborted) break;
      // One listing of a workload's pods per round, however many of its pods the round judges.
      const listed = new Map<string, V1Pod[]>();
      for (const [id, p] of pending) {
        let evicting = false;
        const lostBefore = unanswered.has(id);
        try {
          // A pod left for a later round is read again first: it may have gone, or begun
          // terminating, meanwhile (one whose eviction got no answer is asked again instead).
          if (round > 1 && !unanswered.has(id) && (await settled(id, p))) continue;
          // Refused before, and too little time left to hear another answer: it stays refused
          // (the replica guard's reads would be for nothing).
          if (!mayRetry(id)) continue;
          const done = p.pod.status?.phase === 'Succeeded' || p.pod.status?.phase === 'Failed';
          // Finished pods serve nothing, and a Job recreates its evicted pod elsewhere
          // (kubectl drain evicts both): no replica guard for them.
          const jobPod = controllerOf(p.pod.metadata?.ownerReferences)?.kind === 'Job';
          // The guard's reads took their time: the retry is judged again right before it is sent.
          const evict = async (w: Writes): Promise<boolean> => {
            if (!mayRetry(id)) return false;
            evicting = true;
            await evictOnce(p.pod, grace, drainSignal, w);
            return true;
          };
          const out = done || jobPod ? { done: await evict(writes) } : await guardedRemoval(p.pod, a.args.max_unavailable, drainSignal, writes, evict, { removed: removedUids(), listed });
          if ('refusal' in out) {
            p.why = out.refusal.reason;
            continue;
          }
          if (!out.done) continue;
          evicted.push(p.pod);
          pending.delete(id);
        } catch (err) {
          // A same-named successor in its place (409 on the uid precondition) after an earlier
          // eviction whose answer was lost: that eviction was carried out.
          const replacedAfterLost = evicting && unanswered.has(id) && isKubeStatus(err, 409);
          if (evicting && !refusedWrite(err)) unanswered.add(id);
          else if (evicting) refusedOnce.add(id);
          if (replacedAfterLost) {
            evicted.push(p.pod);
            pending.delete(id);
          }
          // A 404 lets the pod go only once a read finds it gone (no pod under its name, or
          // another uid), or terminating, which is then waited for (evicted, after a lost
          // answer): a 404 for another reason (a path the API server does not serve) keeps it
          // pending with that reason, so the drain is never done while it still runs.
          else if (isKubeStatus(err, 404) && (await settled(id, p))) continue;
          // Refused, perhaps because the pod is on its way out already (an API server that
          // asks the budget even for a terminating pod answers 429): a read tells.
          else if ((isKubeStatus(err, 429) || isKubeStatus(err, 409)) && (await settled(id, p))) continue;
          else if (isKubeStatus(err, 429)) p.why = evictionRefused(err);
          else if (evicting && isKubeStatus(err, 403)) {
            p.why = describeError(err);
            forbidden = true;
            break;
          } else if (drainSignal.aborted) {
            // Cut off at the deadline while its eviction was sent: that eviction may have been
            // carried out (one lost before says so already).
            if (evicting && !lostBefore) p.why = 'no answer to its eviction by the deadline (it may have been carried out)';
            break;
          } else if (err instanceof StepFailure) throw err;
          else p.why = `${describeError(err)}${unanswered.has(id) ? ' (its eviction may have been carried out)' : ''}`;
        }
      }
    }
    if (ctxSignal.aborted) throw ctxSignal.reason ?? new Error('aborted');
    // kubectl drain waits until evicted and terminating pods are gone; so do we, within the
    // same deadline: a drain done means no pod it was to move still runs on the node.
    const lingering: string[] = [];
    // Past the drain's deadline (another pod kept it busy till then), each evicted pod is
    // still looked at once, within the margin the step keeps for its report: one gone
    // long ago is not reported as still terminating.
    let lastLook: AbortSignal | undefined;
    const waited = [...evicted.map((pod) => ({ pod, how: 'evicted' })), ...terminating.map((pod) => ({ pod, how: 'terminating when the drain found it' }))];
    const stayed = new Set<V1Pod>();
    for (const { pod, how } of waited) {
      const ns = pod.metadata?.namespace ?? '';
      const name = pod.metadata?.name ?? '';
      for (;;) {
        const last = drainSignal.aborted;
        if (last) lastLook ??= withTimeout(ctxSignal, margin);
        try {
          const cur = await readPod(clients, ns, name, last && lastLook ? lastLook : drainSignal);
          if (cur.metadata?.uid !== pod.metadata?.uid) break;
        } catch (err) {
          if (isKubeStatus(err, 404)) break;
          if (!last && !drainSignal.aborted) throw err;
        }
        if (last) {
          lingering.push(`${ns}/${name} (${how})`);
          stayed.add(pod);
          break;
        }
        if (drainSignal.aborted) continue;
        await sleep(Math.min(drainRetryMs, 250), drainSignal).catch(() => undefined);
      }
    }
    for (const [id, p] of pending) notEvicted.push(`${id} (${p.why})`);
    const facts = { was_unschedulable: String(was), evicted: String(evicted.length) };
    const gone = terminating.filter((pod) => !stayed.has(pod));
    const waitedText = gone.length ? `; waited for ${gone.map((pod) => `${pod.metadata?.namespace}/${pod.metadata?.name}`).join(', ')} (already terminating) to go` : '';
    const skippedText = `${waitedText}${skipped.length ? `; skipped ${skipped.join(', ')}` : ''}`;
    // Each pod the drain leaves on the node is counted and named by what happened to it: not
    // evicted (refused, failed, not tried), or still terminating at the deadline (evicted,
    // or found terminating and so never evicted).
    const left: string[] = [];
    if (notEvicted.length > 0) {
      left.push(`${notEvicted.length} pod(s) not evicted ${forbidden ? '(stopped: evictions are forbidden to rectify)' : `within ${drainMs}ms${trim ? ` (${trim})` : ''}`}: ${notEvicted.join('; ')}`);
    }
    if (lingering.length > 0) left.push(`${lingering.length} pod(s) still terminating at the deadline (${drainMs}ms${trim ? `: ${trim}` : ''}): ${lingering.join('; ')}`);
    if (left.length > 0) {
      // A pod whose eviction answers stayed lost to the end may have been evicted or not:
      // the step is unconfirmed, as any write whose answer never came (its rollback's
      // uncordon still runs; what the eviction did is for a person to read).
      const lost = [...pending.keys()].some((id) => unanswered.has(id));
      return {
        ok: false,
        detail: `drain node ${node}: ${left.join('; ')}; evicted ${evicted.length}${skippedText}; ${STAYS_CORDONED}`,
        standing: STAYS_CORDONED,
        facts,
        ...(lost ? { unconfirmed: true } : {}),
      };
    }
    return { ok: true, detail: `drained node ${node}: evicted ${evicted.length} pod(s)${skippedText}`, facts };
  }

  async function dispatch(a: RenderedKubernetesAction, signal: AbortSignal, ctx: Pick<StepContext, 'memo' | 'phase' | 'alertReceivedAt'>, writes: Writes): Promise<ActionOutcome> {
    const { memo } = ctx;
    const name = assertName(a.name, a.kind);
    const needsNode = a.verb === 'cordon' || a.verb === 'uncordon' || a.verb === 'drain';
    const needsPod = a.verb === 'evict_pod' || a.verb === 'delete_pod';
    if (needsNode && a.kind !== 'node') return { ok: false, detail: `${a.verb} needs kind node, got ${a.kind}` };
    if (needsPod && a.kind !== 'pod') return { ok: false, detail: `${a.verb} needs kind pod, got ${a.kind}` };
    if (!needsNode && !needsPod && a.kind !== 'deployment' && a.kind !== 'statefulset') return { ok: false, detail: `${a.verb} needs kind deployment or statefulset, got ${a.kind}` };
    const ns = needsNode ? '' : assertNamespace(a.namespace, a.kind);
    switch (a.verb) {
      case 'evict_pod':
        return evictPod(a, ns, signal, writes, memo);
      case 'delete_pod':
        return deletePod(a, ns, signal, writes, memo);
      case 'scale':
        return scale(a, ns, signal, writes, memo, ctx.phase);
      case 'rollout_restart':
        return rolloutRestart(a, ns, signal, writes);
      case 'rollout_undo':
        return rolloutUndo(a, ns, signal, writes, memo, ctx.phase, ctx.alertReceivedAt);
      case 'cordon': {
        const done = (was: boolean): ActionOutcome => ({ ok: true, detail: was ? `node ${name} was already cordoned` : `cordoned node ${name}`, facts: { was_unschedulable: String(was) } });
        const { was } = await setUnschedulable(name, true, signal, writes, memo, done);
        return done(was);
      }
      case 'uncordon': {
        // A rollback's uncordon undoes this run's cordon, not an operator's from before it,
        // nor one the run never made (its drain failed before it, or never ran).
        const before = memo.get(cordonedKey(name));
        if (before === true) {
          return { ok: true, detail: `node ${name} left cordoned: it was cordoned before this run`, facts: { was_unschedulable: 'true' } };
        }
        if (before === undefined && ctx.phase === 'rollback') {
          return { ok: true, detail: `node ${name} left as it is: this run did not cordon it` };
        }
        const done = (was: boolean): ActionOutcome => ({ ok: true, detail: was ? `uncordoned node ${name}` : `node ${name} was already schedulable`, facts: { was_unschedulable: String(was) } });
        const { was } = await setUnschedulable(name, false, signal, writes, undefined, done);
        return done(was);
      }
      case 'drain':
        return drain(a, signal, a.timeoutMs, memo, writes);
    }
  }

  return {
    type: 'kubernetes',
    async run(action: RenderedKubernetesAction, ctx: StepContext): Promise<ActionOutcome> {
      const signal = withTimeout(ctx.signal, action.timeoutMs);
      const what = `${action.verb} ${action.kind} ${action.namespace ? `${action.namespace}/` : ''}${action.name}`;
      const writes: Writes = { mayHaveChanged: false, unanswered: false };
      // A refusal, or a target's "not now", says nothing changed: a step that sent a write
      // is neither (the runner would skip its rollback and the breaker would not count it).
      const outcome = (out: ActionOutcome): ActionOutcome => {
        if (!writes.mayHaveChanged) return { ...out, unchanged: true };
        if (out.refused !== true && out.notNow !== true) return out;
        const { refused: _refused, notNow: _notNow, ...changed } = out;
        return changed;
      };
      try {
        return outcome(await dispatch(action, signal, ctx, writes));
      } catch (err) {
        if (err instanceof StepFailure) return outcome({ ok: false, detail: `${what}: ${err.message}` });
        const cause = err instanceof KubeApiError ? describeError(err) : errorMessage(err);
        const lost = writes.unanswered ? writes.readBack : undefined;
        // A write whose answer was lost, with time left in the step: one read of its target
        // tells whether it landed (a reset after the server applied it reads the same as one
        // before). Left unknown, the rollback (which runs for it) assumes it may have.
        let could = '';
        if (lost && !signal.aborted) {
          const seen = await readBackOnce(lost, signal);
          if (seen.landed === true) return outcome({ ...lost.done, detail: `${lost.done.detail} (its answer was lost: ${cause}; a read then found that the write landed: ${seen.found})` });
          // A write whose deadline passed (this call's, or the API server's own: a 504) may
          // still be under way there, and land after the read: a target found as it was
          // proves nothing then. Only a write the server is done with (an error answered, a
          // connection lost) is shown not to have landed by it.
          const mayStillLand = err instanceof KubeApiError && ((err.status === 0 && err.reason === 'Timeout') || err.status === 504);
          if (seen.landed === false && !mayStillLand) lost.notLanded?.();
          if (seen.landed === false && !mayStillLand) return { ok: false, unchanged: true, detail: `${what}: ${cause}; a read then found that the write did not land (${seen.found})` };
          could =
            seen.landed === false
              ? `; a read after it found it as before (${seen.found}), but a write whose deadline passed may still land`
              : `; a read after it could not tell: ${seen.found}`;
        }
        // A write cut off without an answer may still be applied by the API server:
        // the detail says so, as the rollback (which runs for it) assumes.
        const landed = writes.mayHaveChanged ? ` (a write may have reached the cluster${could})` : '';
        const unknown = writes.unanswered ? { unconfirmed: true, ...(lost?.holdRollback !== undefined ? { holdRollback: lost.holdRollback } : {}) } : {};
        if (ctx.signal.aborted) return outcome({ ok: false, detail: `${what}: aborted (${errorMessage(ctx.signal.reason)})${landed}`, ...unknown });
        if (signal.aborted) return outcome({ ok: false, detail: `${what}: timed out after ${formatDuration(action.timeoutMs)}${landed}`, ...unknown });
        // So does a write answered by a server error or whose connection was lost (a reset
        // after the server applied it reads the same as one before): what was sent, and that
        // its effect is unknown.
        return outcome({ ok: false, detail: `${what}: ${cause}${landed}`, ...unknown });
      }
    },
  };
}

/**
 * Why a relative undo among a run's actions must not roll back the deployment's current
 * revision: it was rolled out after the alert the run acts for was received (`alertAt`),
 * or when it was rolled out cannot be told. A relative undo undoes the last rollout,
 * whatever it is: one made since the alert began (a person's hotfix while the run waited
 * for an approval or its turn) is not the one the alert is about, and undoing it would
 * bring that one back. Null when the current revision's ReplicaSet was created before
 * the alert (or, for a rollout back to an older ReplicaSet, the deployment controller
 * last changed it before the alert: see rolledBackAt), for that revision, and holds the
 * deployment's template.
 *
 * Its creationTimestamp holds whole seconds: one stamped within the second the alert
 * was received counts as after it. When it cannot be told, the undo is refused too, as
 * a rollback's relative undo with no record of the run's own read is: a ReplicaSet
 * rolled back to (its revision-history annotation lists what it was before) was created
 * for an earlier rollout, not this one, and with no managedFields entry of the
 * deployment controller's to date it by, nothing tells when it was rolled out again; a
 * revision no ReplicaSet records, or a template the current ReplicaSet does not hold,
 * is a rollout the controller has not recorded yet; a creation time that cannot be read
 * says nothing. `offsetMs`: how far the API server's clock is ahead of rectify's
 * (serverClockOffset).
 */
function rolledOutSince(ns: string, name: string, h: RolloutHistory, current: V1PodTemplateSpec | undefined, alertAt: number, offsetMs: number): string | null {
  // The API server stamped the creation time by its own clock. One behind rectify's (by the
  // deployment read's Date header) would date a rollout made after the alert before it:
  // the alert's time is moved to its clock. One ahead only makes a rollout look later,
  // and is left as it is (a wrong header must not let an undo through).
  const behind = Math.min(0, offsetMs);
  const onServer = alertAt + behind;
  // Both times the API server stamps hold whole seconds: one in the alert's second is after it.
  const cutoff = Math.floor(onServer / 1000) * 1000;
  const byServer = behind === 0 ? '' : `, ${new Date(onServer).toISOString()} by the API server's clock (${Math.round(-behind / 1000)}s behind rectify's, by its Date header)`;
  const alert = `the alert this run acts for was received at ${new Date(alertAt).toISOString()} (its received time: rectify does not keep an alert's startsAt)${byServer}`;
  const tail = 'nothing was written: a person must check the deployment';
  const cannotTell = (why: string): string =>
    `refused: deployment ${ns}/${name} is on revision ${h.current}, ${why}, so rectify cannot tell whether it was rolled out before ${alert}; a relative undo from there could roll back a rollout made since instead of the one the alert is about; ${tail}`;
  const rev = h.revisions.find((r) => r.revision === h.current);
  if (!rev) return cannotTell('which no ReplicaSet of it records (a rollout the controller has not recorded yet)');
  if (current && !sameTemplate(withoutHashLabel(rev.template), current)) {
    return cannotTell(`whose ReplicaSet ${rev.replicaSet} does not hold the deployment's template (a rollout the controller has not recorded yet)`);
  }
  if (rev.earlier !== undefined) {
    const was = /^[0-9]{1,18}(,[0-9]{1,18}){0,19}$/.test(rev.earlier) ? `revision ${rev.earlier}` : 'an earlier revision';
    const back = `a rollout back to ReplicaSet ${rev.replicaSet} (${was} before)`;
    const at = rolledBackAt(rev.managedFields);
    if (typeof at === 'string') return cannotTell(`${back}, whose creation time is not when it was rolled out again, ${at}`);
    if (at < cutoff) return null;
    return `refused: deployment ${ns}/${name} may have been rolled out after the alert began: its revision ${h.current} is ${back}, which the deployment controller last changed at ${new Date(at).toISOString()} (its managedFields entry's time: it rewrites the revision annotation when it rolls back to a ReplicaSet, and that time moves on too when it changes another field of it, as in a scale), and ${alert}; a relative undo from there could roll back that rollout (a fix someone made since, perhaps) instead of the one the alert is about; ${tail}`;
  }
  const created = rev.createdAt instanceof Date && !Number.isNaN(rev.createdAt.getTime()) ? rev.createdAt.getTime() : undefined;
  if (created === undefined) return cannotTell(`whose ReplicaSet ${rev.replicaSet} has no creation time that can be read`);
  if (created < cutoff) return null;
  return `refused: deployment ${ns}/${name} was rolled out after the alert began: its revision ${h.current} (ReplicaSet ${rev.replicaSet}) was created at ${new Date(created).toISOString()}, and ${alert}; a relative undo from there would roll back that rollout (a fix someone made since, perhaps) instead of the one the alert is about; ${tail}`;
}

/** The deployment controller's name in managedFields: the controller manager's, which runs it. */
const DEPLOYMENT_CONTROLLER_MANAGER = 'kube-controller-manager';

/**
 * When the deployment controller last changed a ReplicaSet it rolled back to (ms, by the
 * API server's clock), or why that cannot be told (a clause of the refusal).
 *
 * Rolling back to an older template, the controller reuses that template's ReplicaSet
 * and rewrites its `deployment.kubernetes.io/revision` annotation (through the main
 * resource, an Update, as `kube-controller-manager`). The API reference's
 * ManagedFieldsEntry.time: the entry's time is set when the entry is first added and
 * moved on whenever its manager adds a field, changes the value of a field it owns or
 * removes one (not when another manager takes a field over from it). So while that
 * entry owns the revision annotation, its time is at or after the rewrite that made the
 * ReplicaSet current again, itself after the deployment's template was changed back:
 * one before the alert dates that rollout before it. A later change of another field
 * it owns (a scale) only makes it look later. The status subresource's entry of the
 * same manager (the ReplicaSet controller's status writes) tells nothing of the
 * rollout and is not read; an entry that does not own the annotation (another writer
 * took it over) dates nothing. Should more than one entry own it, the latest counts.
 */
function rolledBackAt(entries: V1ManagedFieldsEntry[] | undefined): number | string {
  const who = `manager ${DEPLOYMENT_CONTROLLER_MANAGER}, operation Update, not the status subresource`;
  const annotation = `its ${REVISION_ANNOTATION} annotation`;
  if (!entries || entries.length === 0) return `and it lists no managedFields, by which rectify dates such a rollout (the deployment controller's entry: ${who}, owning ${annotation})`;
  const owning = entries.filter(
    (e) => e.manager === DEPLOYMENT_CONTROLLER_MANAGER && e.operation === 'Update' && (e.subresource === undefined || e.subresource === '') && ownsRevisionAnnotation(e.fieldsV1),
  );
  if (owning.length === 0) return `and no entry of its managedFields is the deployment controller's (${who}) owning ${annotation}, by which rectify dates such a rollout`;
  let latest = -Infinity;
  for (const e of owning) {
    const t = e.time instanceof Date ? e.time.getTime() : NaN;
    if (Number.isNaN(t)) return `and the deployment controller's entry of its managedFields (${who}) owning ${annotation} has no time that can be read`;
    latest = Math.max(latest, t);
  }
  return latest;
}

/** Whether a managedFields entry's fieldsV1 lists the revision annotation (f:metadata → f:annotations → f:<name>). */
function ownsRevisionAnnotation(fields: unknown): boolean {
  const child = (o: unknown, key: string): unknown => (o !== null && typeof o === 'object' && !Array.isArray(o) && Object.hasOwn(o, key) ? (o as Record<string, unknown>)[key] : undefined);
  const annotations = child(child(fields, 'f:metadata'), 'f:annotations');
  return child(annotations, `f:${REVISION_ANNOTATION}`) !== undefined;
}

function withoutHashLabel(t: V1PodTemplateSpec): V1PodTemplateSpec {
  const labels = { ...(t.metadata?.labels ?? {}) };
  delete labels['pod-template-hash'];
  return { ...t, metadata: { ...(t.metadata ?? {}), labels } };
}

/** Two pod templates are the same when their JSON is, whatever order the keys came in. */
function sameTemplate(a: V1PodTemplateSpec, b: V1PodTemplateSpec): boolean {
  return canonical(a) === canonical(b);
}

function sameOptionalTemplate(a: V1PodTemplateSpec | undefined, b: V1PodTemplateSpec | undefined): boolean {
  return a === undefined || b === undefined ? a === b : sameTemplate(a, b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    entries.sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
