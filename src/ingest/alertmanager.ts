import { createHash } from 'node:crypto';
import { z } from 'zod';
import { evenSpacing, UNREADABLE_NAME_CHAR_RE, type Incident } from '../domain/index.js';
import { wellFormed } from '../lib/index.js';
import { boundedMap, cutText, isConfidenceKey, MAX_MAP_ENTRIES, MAX_ROOT_CAUSE, MAX_SERVICE, parseConfidence, type IngestResult } from './common.js';

const labelSet = boundedMap(z.string());

/** Alertmanager webhook payload, version 4. Unknown fields are ignored. */
export const alertmanagerAlertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: labelSet,
  annotations: labelSet.optional(),
  startsAt: z.string().optional(),
  endsAt: z.string().optional(),
  generatorURL: z.string().optional(),
  fingerprint: z.string().max(128).optional(),
});

export const alertmanagerWebhookSchema = z.object({
  version: z.literal('4').optional(),
  groupKey: z.string().optional(),
  truncatedAlerts: z.number().int().nonnegative().optional(),
  status: z.enum(['firing', 'resolved']).optional(),
  receiver: z.string().optional(),
  groupLabels: labelSet.optional(),
  commonLabels: labelSet.optional(),
  commonAnnotations: labelSet.optional(),
  externalURL: z.string().optional(),
  alerts: z.array(alertmanagerAlertSchema).min(1),
});
export type AlertmanagerWebhook = z.infer<typeof alertmanagerWebhookSchema>;
export type AlertmanagerAlert = z.infer<typeof alertmanagerAlertSchema>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStatus = (v: unknown): boolean => v === 'firing' || v === 'resolved';
const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string';

function isLabelSet(v: unknown): boolean {
  if (!isObject(v)) return false;
  // An own "__proto__" key is the schema's to judge (its output would not carry it); so is a map too large.
  let n = 0;
  for (const k in v) if (typeof v[k] !== 'string' || k === '__proto__' || ++n > MAX_MAP_ENTRIES) return false;
  return true;
}

/**
 * The common case of `alertmanagerWebhookSchema`, checked by hand: an alert storm
 * validates thousands of alerts per second, and the schema walk costs more than the
 * decision. True only for bodies the schema accepts as they are (the handler then
 * reads the parsed JSON directly; it reads only the fields described); anything
 * else — unusual or wrong — goes to the schema, which gives the field paths.
 */
export function isPlainAlertmanagerWebhook(body: unknown): body is AlertmanagerWebhook {
  if (!isObject(body)) return false;
  if (body.version !== undefined && body.version !== '4') return false;
  if (!optionalString(body.groupKey) || !optionalString(body.receiver) || !optionalString(body.externalURL)) return false;
  const t = body.truncatedAlerts;
  if (t !== undefined && !(typeof t === 'number' && Number.isSafeInteger(t) && t >= 0)) return false;
  if (body.status !== undefined && !isStatus(body.status)) return false;
  for (const k of ['groupLabels', 'commonLabels', 'commonAnnotations'] as const) if (body[k] !== undefined && !isLabelSet(body[k])) return false;
  const alerts = body.alerts;
  if (!Array.isArray(alerts) || alerts.length === 0) return false;
  for (const a of alerts as unknown[]) {
    if (!isObject(a) || !isStatus(a.status) || !isLabelSet(a.labels)) return false;
    if (a.annotations !== undefined && !isLabelSet(a.annotations)) return false;
    if (!optionalString(a.startsAt) || !optionalString(a.endsAt) || !optionalString(a.generatorURL)) return false;
    const fp = a.fingerprint;
    if (fp !== undefined && !(typeof fp === 'string' && fp.length <= 128)) return false;
  }
  return true;
}

/**
 * Where the service comes from, in order. The spec's four first; then the labels
 * kube-prometheus alerts carry when they have none of those (CPUThrottlingHigh has
 * only namespace, pod and container). A blank one ("" or spaces) counts as missing, and
 * so does one holding a control or invisible character (NUL, U+200B, a bidi override).
 * An alert with none of them is still decided,
 * under the service `unknown`: refusing it would make Alertmanager drop its whole
 * group (it does not retry a 4xx), and one shared service is the conservative
 * choice for rate limits, cooldowns and blast radius.
 */
const SERVICE_LABELS = ['service', 'deployment', 'job', 'app', 'statefulset', 'daemonset', 'app_kubernetes_io_name', 'container', 'namespace', 'node', 'instance'] as const;
export const UNKNOWN_SERVICE = 'unknown';

/**
 * Exporters that report on other things: their scrape job (and, in some setups, the
 * Kubernetes Service they are scraped through) names the exporter, not what the alert
 * is about. kube-prometheus' KubePodCrashLooping carries `job: kube-state-metrics`:
 * keyed to it, every crash-looping pod in the cluster shared one rate limit, one
 * cooldown and one blast radius, so restarting one held every other off. Such a value
 * of `service` or `job` is passed over for the labels after it (`deployment`,
 * `container`, `namespace`, `node`, `instance`…). These are the default of
 * `--exporter-jobs`, which names a setup's own.
 */
export const DEFAULT_EXPORTER_JOBS: ReadonlySet<string> = new Set(['kube-state-metrics', 'node-exporter', 'kubelet']);

function serviceOf(labels: Record<string, string>, exporters: ReadonlySet<string>): string {
  for (const k of SERVICE_LABELS) {
    const v = labels[k];
    // A blank label ("" or spaces) names nothing: passed over, as a missing one is. So is
    // one holding a control or invisible character (`api\u200b`, see UNREADABLE_NAME_CHAR_RE):
    // it reads as another service than it is, and would count its limits apart.
    if (!v || v.trim() === '' || UNREADABLE_NAME_CHAR_RE.test(v)) continue;
    if ((k === 'job' || k === 'service') && exporters.has(v)) continue;
    // Longer than any service name may be (253, as a generic incident's or PagerDuty's): cut
    // to it, as PagerDuty's is (common.ts, cutText), never refused (Alertmanager would drop
    // the group). Names sharing those first characters share their limits, the conservative
    // direction; the label itself is kept whole in the context.
    // `"api "` or `api\u00a0` names `api`: read evenly spaced, never refused (see evenSpacing).
    return cutText(evenSpacing(v), MAX_SERVICE);
  }
  return UNKNOWN_SERVICE;
}

/**
 * Alertmanager's own fingerprint when present; else a stable hash of the sorted label
 * set (of the labels as sent: the key of an alert stored before is kept). Each key and
 * value is ended by a NUL, which is unambiguous while none holds one: a label set where
 * one does (`service: "x\0sz\0y"` read as `service: "x", sz: "y"`) is hashed with each
 * key and value preceded by its length in UTF-8 bytes, the whole ended by U+0001 (never
 * the last byte of the first encoding), so no two label sets share a key.
 */
export function fingerprintOf(labels: Record<string, string>): string {
  const h = createHash('sha256');
  const keys = Object.keys(labels).sort();
  if (keys.some((k) => k.includes('\u0000') || labels[k]!.includes('\u0000'))) {
    for (const k of keys) h.update(`${Buffer.byteLength(k)}:${k}${Buffer.byteLength(labels[k]!)}:${labels[k]}`);
    h.update('\u0001');
  } else {
    for (const k of keys) h.update(`${k}\u0000${labels[k]}\u0000`);
  }
  return h.digest('hex').slice(0, 16);
}

/** A label map with every key and value well formed (a lone surrogate as U+FFFD): the map itself when it is already. */
function wellFormedLabels(m: Record<string, string>): Record<string, string> {
  for (const k in m) {
    if (wellFormed(k) !== k || wellFormed(m[k]!) !== m[k]) {
      return Object.fromEntries(Object.entries(m).map(([key, v]) => [wellFormed(key), wellFormed(v)]));
    }
  }
  return m;
}

/**
 * The first key of a label map that is not `confidence` but spells it once case and
 * everything but letters are ignored, or spells `confidence_score` so (`Confidence`,
 * `CONFIDENCE`, `confidence_score`, `confidenceScore`), and that does not agree with
 * `read`. Only `confidence` is read: without it (`read` undefined) every such key
 * counts, since read as absent it would leave the alert at confidence 1.0, whatever
 * it said; beside a readable `confidence` (`read`, its number), one holding the same
 * number says nothing else and is passed over, one holding another (or no number)
 * makes two confidences, and the alert is not decided on either.
 */
function confidenceLookalike(m: Record<string, string> | undefined, read: number | undefined): string | undefined {
  if (!m) return undefined;
  for (const k in m) if (k !== 'confidence' && isConfidenceKey(k) && (read === undefined || parseConfidence(m[k]) !== read)) return k;
  return undefined;
}

/**
 * One incident per alert. Root cause from `root_cause`, else `reason`, else
 * `alertname` (none of them: empty and `no_root_cause`, left to a person, see the
 * match stage; the alert is not refused); service from `service`, `deployment`, `job`, `app` (then the labels in
 * SERVICE_LABELS, else `unknown`); confidence from a
 * `confidence` label, else annotation (an empty label is none; neither, 1.0; one that
 * cannot be read, an empty annotation or a blank one included, is 0 and
 * `confidence_unreadable`: LOW_CONFIDENCE, see the confidence stage; so is a label or
 * annotation under another spelling of the key, `Confidence` or `confidence_score`,
 * which is not read, unless a readable `confidence` is given and it holds the same
 * number); context = labels, well formed. One occurrence (fingerprint +
 * startsAt + status) is decided once. Without a startsAt (or an empty one) the key
 * names the fingerprint alone (`am:<fp>:`): the engine places each firing after a
 * resolve in an occurrence of its own (see placeAlertmanagerOccurrence, engine/occurrence.ts).
 */
export function alertmanagerToIncidents(
  body: AlertmanagerWebhook,
  opts: { now: number; newId: () => string; exporterJobs?: ReadonlySet<string> },
): IngestResult {
  const exporters = opts.exporterJobs ?? DEFAULT_EXPORTER_JOBS;
  const incidents: Incident[] = [];
  for (let i = 0; i < body.alerts.length; i++) {
    const a = body.alerts[i]!;
    // Well formed as the store keeps them (a lone surrogate as U+FFFD): a re-delivery is
    // compared with the labels read back from the store, and must find them the same.
    const labels = wellFormedLabels(a.labels);
    const annotations = a.annotations && wellFormedLabels(a.annotations);
    // Well formed, as the labels are: the rate limit, cooldown and blast radius read back
    // from the store must find the key this decision compares with.
    const service = serviceOf(labels, exporters);
    // An empty label is no label (Prometheus and Alertmanager drop them): the annotation is read then.
    const fromLabel = labels.confidence !== undefined && labels.confidence !== '';
    const rawConfidence = fromLabel ? labels.confidence : annotations?.confidence;
    // Unreadable, the alert is still decided, never to act on its own: refusing it
    // would make Alertmanager drop its whole group (it does not retry a 4xx).
    let parsed = parseConfidence(rawConfidence);
    let unreadable: Incident['confidence_unreadable'];
    if (parsed === undefined) unreadable = { field: `${fromLabel ? 'labels' : 'annotations'}.confidence`, value: rawConfidence! };
    // A confidence under another key (`Confidence`, `confidence_score`) is not read: unreadable,
    // never 1.0; beside a readable `confidence`, only one that says another number is.
    if (!unreadable) {
      const read = rawConfidence !== undefined ? parsed : undefined;
      const readField = `${fromLabel ? 'labels' : 'annotations'}.confidence`;
      const differs = read !== undefined ? { differs_from: { field: readField, value: rawConfidence! } } : {};
      const labelKey = confidenceLookalike(labels, read);
      const annotationKey = labelKey === undefined ? confidenceLookalike(annotations, read) : undefined;
      if (labelKey !== undefined) unreadable = { field: `labels.${labelKey}`, value: labels[labelKey]!, not_read: true, ...differs };
      else if (annotationKey !== undefined) unreadable = { field: `annotations.${annotationKey}`, value: annotations![annotationKey]!, not_read: true, ...differs };
      if (unreadable) parsed = undefined;
    }
    const alertname = labels.alertname;
    // None, the alert is still decided (left to a person; a resolve needs none), for
    // the same reason: the other alerts of its group must not be dropped with it.
    // Each at most as long as a generic incident's (256), cut as PagerDuty's title is: a
    // label of any length would be held in memory with every decision about it.
    const rootCause = cutText(labels.root_cause || labels.reason || alertname || '', MAX_ROOT_CAUSE);
    const symptoms: string[] = [];
    for (const raw of [labels.reason, alertname]) {
      const s = raw && cutText(raw, MAX_ROOT_CAUSE);
      if (s && s !== rootCause && !symptoms.includes(s)) symptoms.push(s);
    }
    const fp = a.fingerprint || fingerprintOf(a.labels);
    const occurrence = `${fp}:${a.startsAt ?? ''}`;
    const incident: Incident = {
      id: opts.newId(),
      source: 'alertmanager',
      root_cause: rootCause,
      confidence: parsed ?? 0,
      service,
      services: [service],
      symptoms,
      // The alert's own label map serves as both (nothing downstream changes an
      // incident's maps): placeholders read the labels, and the store keeps them once.
      context: labels,
      labels,
      status: a.status,
      ...(alertname ? { alertname } : {}),
      dedup_key: `am:${occurrence}:${a.status}`,
      alert_key: `am:${occurrence}`,
      received_at: opts.now,
    };
    // Set only on the rare alert that has it: the storm's others keep one object shape.
    if (!rootCause) incident.no_root_cause = true;
    if (unreadable) incident.confidence_unreadable = unreadable;
    incidents.push(incident);
  }
  return { incidents, problems: [] };
}
