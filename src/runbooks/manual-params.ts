import { KUBERNETES_ENRICHMENT, renderReads, type Runbook } from '../domain/index.js';
import { namedCheckValueKeys } from './named.js';

/**
 * The names a manual run's params may give a runbook: the values it reads, whether or not
 * it declares them under `params:`. Its declared `params:`; every placeholder of its
 * actions, rollback and checks, with what a scale to a filled count reads beside them
 * (`old_replicas`, `max_replicas`); the values its named checks and its `match:` matchers
 * read; `service`; and, when one of those is a value Kubernetes enrichment gives (a
 * `deployment`, `new_replicas`…), the names enrichment starts from (`namespace`, `pod`,
 * `pod_name`, `deployment`, `statefulset`). A name outside these fills nothing: a
 * misspelt `new_replica` beside a runbook reading `new_replicas` would run it with the
 * value enrichment picks instead, so the run is refused before anything is recorded.
 */
export function manualRunParamNames(rb: Pick<Runbook, 'declaredParams' | 'params' | 'actions' | 'rollback' | 'preChecks' | 'postChecks' | 'guardrails' | 'matchers'>): readonly string[] {
  const names = new Set<string>(['service', ...Object.keys(rb.declaredParams), ...renderReads(rb)]);
  for (const c of [...rb.preChecks, ...rb.postChecks, ...rb.guardrails]) if (c.type === 'named') for (const k of namedCheckValueKeys(c.name)) names.add(k);
  for (const m of rb.matchers) names.add(m.name);
  const adds: readonly string[] = KUBERNETES_ENRICHMENT.adds;
  if ([...names].some((n) => adds.includes(n))) for (const k of [...KUBERNETES_ENRICHMENT.requires, ...KUBERNETES_ENRICHMENT.requiresOneOf]) names.add(k);
  return [...names].sort();
}
