/**
 * Alertmanager webhook bodies for the storms: the shape Alertmanager sends
 * (version 4, a group envelope, full label sets, annotations, generatorURL), one
 * unique fingerprint per alert, optionally half re-deliveries of alerts already sent.
 *
 * Bodies are built from string templates, not JSON.stringify of objects: the load
 * generator shares two cores with the service it measures, and must stay cheap.
 */
export interface BodySpec {
  alertsPerBody: number;
  /** Alerts are spread round-robin over this many services. */
  services: number;
  /** Alert names used in turn (each should trigger a runbook). */
  alertnames: readonly string[];
  /** Fraction of alerts in a body that re-deliver an alert sent before (0 to 0.9). */
  duplicateRatio: number;
  /** Makes fingerprints unique across load-generator processes of one run. */
  prefix: string;
}

export interface BodyCounts {
  /** Alerts never sent before. */
  fresh: number;
  /** Exact copies of an alert sent before. */
  duplicates: number;
}

const STARTS_AT = '2026-11-24T03:00:00.000Z';

export function serviceName(i: number): string {
  return `svc-${String(i).padStart(4, '0')}`;
}

function alertJson(fp: string, alertname: string, service: string): string {
  return (
    `{"status":"firing","labels":{"alertname":"${alertname}","cluster":"bench-eu-1","container":"app","job":"kube-state-metrics",` +
    `"namespace":"production","pod":"${service}-7d9f8-${fp.slice(-5)}","service":"${service}","severity":"critical"},` +
    `"annotations":{"summary":"Pod production/${service} is crash looping","description":"Pod production/${service}-7d9f8 (app) is in waiting state (reason: CrashLoopBackOff).",` +
    `"runbook_url":"https://runbooks.example/kube/${alertname}"},` +
    `"startsAt":"${STARTS_AT}","endsAt":"0001-01-01T00:00:00Z",` +
    `"generatorURL":"http://prometheus.bench:9090/graph?g0.expr=kube_pod_container_status_waiting_reason%7Breason%3D%22CrashLoopBackOff%22%7D&g0.tab=1",` +
    `"fingerprint":"${fp}"}`
  );
}

function envelope(alertname: string, alerts: string): string {
  return (
    `{"version":"4","groupKey":"{}:{alertname=\\"${alertname}\\"}","truncatedAlerts":0,"status":"firing","receiver":"rectify",` +
    `"groupLabels":{"alertname":"${alertname}"},"commonLabels":{"alertname":"${alertname}","cluster":"bench-eu-1","severity":"critical"},` +
    `"commonAnnotations":{},"externalURL":"http://alertmanager.bench:9093","alerts":[${alerts}]}`
  );
}

/** Produces bodies one after the other; counts what it produced. */
export function createBodyMaker(spec: BodySpec) {
  let n = 0;
  const counts: BodyCounts = { fresh: 0, duplicates: 0 };
  // Alerts already sent, for re-delivery: a bounded ring, so memory stays flat.
  const ring: string[] = [];
  const RING = spec.duplicateRatio > 0 ? 10_000 : 0;
  let ringAt = 0;
  const dupsPerBody = Math.round(spec.alertsPerBody * spec.duplicateRatio);

  function freshAlert(): { json: string; alertname: string } {
    const i = n++;
    const alertname = spec.alertnames[i % spec.alertnames.length]!;
    const service = serviceName(i % spec.services);
    const fp = `${spec.prefix}${i.toString(16).padStart(10, '0')}`;
    const json = alertJson(fp, alertname, service);
    if (RING === 0) {
      // no re-deliveries asked for: keep nothing
    } else if (ring.length < RING) ring.push(json);
    else ring[ringAt++ % RING] = json;
    counts.fresh++;
    return { json, alertname };
  }

  return {
    counts,
    next(): string {
      const parts: string[] = [];
      let name = spec.alertnames[0]!;
      // Re-deliveries only of alerts from earlier bodies (the first body has none to repeat).
      const dups = ring.length >= dupsPerBody ? dupsPerBody : 0;
      const available = ring.length;
      for (let k = 0; k < dups; k++) {
        parts.push(ring[(n * 7919 + k * 104_729) % available]!);
        counts.duplicates++;
      }
      for (let k = parts.length; k < spec.alertsPerBody; k++) {
        const a = freshAlert();
        name = a.alertname;
        parts.push(a.json);
      }
      return envelope(name, parts.join(','));
    },
  };
}
