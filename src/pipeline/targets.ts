import type { Plan, RenderedKubernetesAction } from '../domain/index.js';

/**
 * What a run acts on in the cluster, as a guardrail key beside its service.
 *
 * The rate limit and the cooldown count per runbook and service; but a runbook's steps
 * may name their Kubernetes object from other values than the service (`kubectl rollout
 * restart deployment {deployment}`), and alerts about one deployment may carry several
 * services (an application alert's `service: checkout-api`, kube-state-metrics'
 * `deployment: checkout`). Counted by service alone, each would restart `checkout` under
 * a limit of its own. So each Kubernetes object a run's actions act on is counted too,
 * under the runbook's target key (`targetRunbookKey`): the rate limit and the cooldown
 * hold per runbook and object as they hold per runbook and service.
 */
export function kubernetesTargets(plan: Pick<Plan, 'actions'>): readonly string[] {
  // A frozen plan (a remembered rendering, shared by every alert that renders it alike)
  // never changes: its targets are worked out once, not in each stage and write that asks.
  const frozen = Object.isFrozen(plan) && Object.isFrozen(plan.actions);
  if (frozen) {
    const known = targetsOfFrozen.get(plan);
    if (known) return known;
  }
  const out: string[] = [];
  for (const step of plan.actions) {
    if (step.type !== 'kubernetes') continue;
    const a = step.spec as RenderedKubernetesAction;
    const key = `${a.kind} ${a.namespace === null ? '' : `${a.namespace}/`}${a.name}`;
    if (!out.includes(key)) out.push(key);
  }
  if (!frozen) return out;
  const targets = Object.freeze(out);
  targetsOfFrozen.set(plan, targets);
  return targets;
}

const targetsOfFrozen = new WeakMap<object, readonly string[]>();

/**
 * Where a runbook's per-object counts are kept, beside its per-service ones: a runbook id
 * never holds a NUL, so no runbook's own counts (nor the views of them) see these.
 */
export const targetRunbookKey = (runbook: string): string => `${runbook}\u0000target`;
