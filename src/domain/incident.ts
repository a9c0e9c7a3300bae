/**
 * An incident as rectify decides on it: what every source (Alertmanager,
 * PagerDuty, the generic endpoint) is normalised into.
 */
export type IncidentSource = 'alertmanager' | 'pagerduty' | 'api' | 'manual' | 'replay';

export interface Incident {
  id: string;
  source: IncidentSource;
  root_cause: string;
  /**
   * Set on an Alertmanager alert with no alertname, reason or root_cause label (its
   * `root_cause` is then empty): no runbook is matched to it, and a firing one is left
   * to a person (NO_RUNBOOK). It is decided rather than refused so the other alerts of
   * its body are: Alertmanager drops a whole group it is answered 4xx for.
   */
  no_root_cause?: true;
  confidence: number;
  /**
   * Set when the source gave a confidence that cannot be read (an Alertmanager
   * `confidence` label "abc"): `confidence` is then 0, and the confidence stage
   * leaves the alert to a person whatever the runbook's min_confidence (0 included).
   * `field` names where it was (`labels.confidence`), `value` is the sender's text.
   * `not_read`: the field is not one rectify reads (`labels.Confidence`,
   * `annotations.confidence_score`), whatever it holds. `differs_from`: beside it
   * a readable `confidence` (its field and text) holds another number.
   */
  confidence_unreadable?: { field: string; value: string; not_read?: true; differs_from?: { field: string; value: string } };
  /** The primary service: guardrails (rate limit, cooldown, blast radius) key on it, and it alone fills `{service}` (see placeholderValues). */
  service: string;
  services: string[];
  symptoms: string[];
  /** Values that fill runbook placeholders first; `match:` matchers see them first too. */
  context: Record<string, string>;
  /**
   * Values that fill placeholders when context has none. `match:` matchers see the
   * same values as the placeholders (context over labels, see `placeholderValue`):
   * a guard on labels alone would let a context value act where the guard forbids.
   */
  labels: Record<string, string>;
  status: 'firing' | 'resolved';
  /** The alertname, when the source has one: matched against triggers too. */
  alertname?: string;
  /** One occurrence of one alert: decided once, later deliveries are duplicates. */
  dedup_key: string;
  /** Groups the occurrences of one alert (its fingerprint) so a resolve finds them. */
  alert_key?: string;
  received_at: number;
}

/**
 * The dedup keys the firing delivery of an alert (`alert_key`) is stored under, in the
 * order looked for: `<alert_key>:firing`, and for an incident posted through the API
 * without an id, whose every post is new, the alert key itself (`api:<the id rectify
 * gave>`). A resolve finds the incident it resolves through them, and that incident's
 * view finds its resolve (`<alert_key>:resolved`) only when its own key is one of them.
 */
export function firingDedupKeys(alertKey: string): string[] {
  return alertKey.startsWith('api:') ? [`${alertKey}:firing`, alertKey] : [`${alertKey}:firing`];
}

/** Words a runbook's triggers are matched against, in priority order. */
export function triggerWords(incident: Incident): string[] {
  const words = [incident.root_cause, ...incident.symptoms];
  if (incident.alertname) words.push(incident.alertname);
  return words;
}

/**
 * Values for placeholders: context first, then labels (spec §3), then the
 * incident's own `incident_id` when neither names it. `{service}` is always the
 * incident's own service, whatever a context or label of that name says: it is the
 * service the guardrails (rate limit, cooldown, blast radius, circuit, approval plan
 * key) count against, and a run must act on the service it is counted against. Were
 * they two, alerts naming one target under a new service each time would each get a
 * rate limit and cooldown of their own (the generic intake refuses a differing
 * `context.service` or `labels.service`; an Alertmanager alert's `service` label
 * naming an exporter is not its service, see ingest/alertmanager.ts).
 */
export function placeholderValues(incident: Pick<Incident, 'context' | 'labels' | 'service' | 'id'>): Record<string, string> {
  // An Alertmanager alert's context is its labels, the same map: spread once.
  const values: Record<string, string> = incident.context === incident.labels ? { incident_id: incident.id, ...incident.labels } : { incident_id: incident.id, ...incident.labels, ...incident.context };
  values.service = incident.service;
  return values;
}

/**
 * One placeholder's value, as `placeholderValues` would give it, without building
 * the map: what `match:` matchers read, once per matcher, so matching an alert in a
 * storm allocates nothing (an Alertmanager alert's context and labels are one map).
 */
export function placeholderValue(incident: Pick<Incident, 'context' | 'labels' | 'service' | 'id'>, name: string): string | undefined {
  if (name === 'service') return incident.service;
  if (Object.hasOwn(incident.context, name)) return incident.context[name];
  if (incident.labels !== incident.context && Object.hasOwn(incident.labels, name)) return incident.labels[name];
  if (name === 'incident_id') return incident.id;
  return undefined;
}

/** Whether the incident itself gives every one of `names` a value (no enrichment needed for them). */
export function hasPlaceholderValues(incident: Pick<Incident, 'context' | 'labels'>, names: readonly string[]): boolean {
  for (const n of names) {
    if (n === 'service' || n === 'incident_id') continue;
    if (!Object.hasOwn(incident.context, n) && !Object.hasOwn(incident.labels, n)) return false;
  }
  return true;
}
