import Database from 'better-sqlite3';

/** Counts rows through a connection of its own: what it sees is committed, not merely queued. */
export function countRows(dbPath: string, sql: string, ...args: unknown[]): number {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(sql).get(...args) as { n: number }).n;
  } finally {
    db.close();
  }
}

/** POSTs JSON over a real socket; answers status and parsed body. */
export async function postJson(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** One Alertmanager alert for a storm: its own fingerprint, one service. */
export function stormAlert(alertname: string, service: string, n: number) {
  return {
    status: 'firing' as const,
    labels: { alertname, service, namespace: 'production', severity: 'critical', pod: `${service}-${n}` },
    annotations: { summary: `${service} is down` },
    startsAt: '2026-11-24T03:00:00.000Z',
    endsAt: '0001-01-01T00:00:00Z',
    fingerprint: `${alertname}-${service}-${n.toString(16).padStart(8, '0')}`,
  };
}

export function webhook(alerts: unknown[]) {
  return { version: '4', groupKey: '{}:{alertname="storm"}', status: 'firing', receiver: 'rectify', externalURL: 'http://alertmanager.test:9093', alerts };
}

/** Deterministic shuffle (a fixed seed keeps a failure reproducible). */
export function shuffle<T>(items: T[], seed = 42): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
