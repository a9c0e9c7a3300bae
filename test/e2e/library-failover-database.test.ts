import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget, type RecordedRequest } from '../helpers/http-target.js';
import { startPrometheus, waitForQuery, type RunningDaemon } from '../helpers/prometheus.js';
import { startTestService, type TestService } from '../helpers/service.js';

/**
 * The bundled failover-database, as shipped but for its two URLs, its mode (auto) and
 * its post-checks' waits, through the whole service, when it is meant to fire: the
 * primary of orders-db is down (Patroni's metrics of it stopped; Prometheus still holds
 * the WAL position it last reported). Patroni cannot run here: a local server stands in
 * for its REST API, answering as Patroni documents it: `/switchover` needs a healthy
 * leader and is refused without one; `/failover` promotes the `candidate` its body names
 * (with a `leader` field, it is a switchover). Its /metrics are what Patroni exports,
 * scraped by a real Prometheus. Alertmanager's alerts API is a second local server.
 */
const SCOPE = 'orders-db';
const NS = 'databases';
const AUTH = 'cmVjdGlmeTpzM2NyM3Q=';
const SHIPPED = readFileSync(new URL('../../runbooks/failover-database.yaml', import.meta.url), 'utf8');

function adapted(text: string, patroni: string, alertmanager: string): string {
  let out = text
    .replace('mode: dry_run', 'mode: auto')
    .replace('http://alertmanager-main.monitoring.svc:9093', alertmanager)
    .replace('http://patroni.databases.svc:8008', patroni)
    .replaceAll('for_seconds: 30', 'for_seconds: 1')
    .replaceAll('for_seconds: 60', 'for_seconds: 1');
  out = out.replace(/^( {10}timeout_seconds: )(180|300)$/gm, '$130');
  assert.doesNotMatch(out, /svc:|for_seconds: [36]0|timeout_seconds: (180|300)$/m, 'every URL and long wait was adapted');
  return out;
}

describe('failover-database when the primary is down', { timeout: 180_000 }, () => {
  let patroni: HttpTarget;
  let am: HttpTarget;
  let prom: RunningDaemon;
  let svc: TestService;
  let commits: NodeJS.Timeout | undefined;
  const savedAuth = process.env.PATRONI_API_AUTH;

  /** Patroni's members: orders-db-1 caught up, orders-db-2 50 MB behind. */
  const replicas: Record<string, number> = { 'orders-db-1': 52_000_000, 'orders-db-2': 2_000_000 };
  let primary: string | null = 'orders-db-0';
  const publish = () => {
    for (const [name, replayed] of Object.entries(replicas)) {
      const labels = { scope: SCOPE, name };
      patroni.setMetric('patroni_primary', name === primary ? 1 : 0, labels);
      patroni.setMetric('patroni_replica', name === primary ? 0 : 1, labels);
      patroni.setMetric('patroni_xlog_replayed_location', replayed, labels);
    }
  };

  /** Patroni's answers (docs/rest_api.rst: "Switchover and failover endpoints"). */
  const switchover = () => ({ status: 412, body: 'switchover is not possible: cluster does not have leader' });

  before(async () => {
    process.env.PATRONI_API_AUTH = AUTH;
    patroni = await startHttpTarget();
    am = await startHttpTarget();
    am.route('POST', '/api/v2/alerts', { status: 200 });
    patroni.route('POST', '/switchover', switchover);
    patroni.route('POST', '/failover', (req: RecordedRequest) => {
      const body = req.json() as { leader?: string; candidate?: string };
      if (body.leader !== undefined) return switchover();
      if (body.candidate === undefined) return { status: 400, body: 'Failover could be performed only to a specific candidate' };
      if (!(body.candidate in replicas)) return { status: 412, body: 'candidate name does not match with members' };
      primary = body.candidate;
      publish();
      return { status: 200, body: `Successfully failed over to "${body.candidate}"` };
    });
    // The primary as it was until it failed: its last WAL position, then nothing.
    patroni.setMetric('patroni_primary', 1, { scope: SCOPE, name: 'orders-db-0' });
    patroni.setMetric('patroni_xlog_location', 52_400_000, { scope: SCOPE, name: 'orders-db-0' });
    publish();
    // Applications commit transactions (they reconnect to whichever member is primary).
    let xacts = 0;
    commits = setInterval(() => patroni.setMetric('pg_stat_database_xact_commit', (xacts += 10), { namespace: NS, datname: 'orders' }), 200);
    prom = await startPrometheus({ scrapeTargets: [patroni.hostPort] });
    await waitForQuery(prom.url, `patroni_xlog_location{scope="${SCOPE}"}`, (v) => v[0] === 52_400_000, 30_000);
    await waitForQuery(prom.url, `count(patroni_replica{scope="${SCOPE}"} == 1)`, (v) => v[0] === 2);
    // The primary goes down: its series stop.
    primary = null;
    patroni.deleteMetric('patroni_primary', { scope: SCOPE, name: 'orders-db-0' });
    patroni.deleteMetric('patroni_xlog_location');
    publish();
    await waitForQuery(prom.url, `count(patroni_primary{scope="${SCOPE}"} == 1) or vector(0)`, (v) => v[0] === 0);
    await waitForQuery(prom.url, `rate(pg_stat_database_xact_commit{namespace="${NS}"}[1m]) > 0`, (v) => v.length === 1);
    svc = await startTestService({
      runbooks: { 'failover-database.yaml': adapted(SHIPPED, patroni.url, am.url) },
      realClock: true,
      args: ['--prometheus-url', prom.url],
    });
  });
  after(async () => {
    if (commits) clearInterval(commits);
    if (savedAuth === undefined) delete process.env.PATRONI_API_AUTH;
    else process.env.PATRONI_API_AUTH = savedAuth;
    await svc?.stop({ remove: true });
    await prom?.stop();
    await patroni?.close();
    await am?.close();
  });

  it('a replica that is behind is not promoted: a person decides, and nothing is sent', async () => {
    const r = await svc.post('/api/v1/incidents?wait=true', {
      id: 'DB-LAGGING',
      root_cause: 'primary_unhealthy',
      service: SCOPE,
      context: { scope: SCOPE, leader: 'orders-db-0', candidate: 'orders-db-2', namespace: NS },
    });
    assert.equal(r.body.action, 'approval_required');
    assert.match(r.body.reason, /^risk MEDIUM: guardrail failed: promql: expected < 1048576, got 50400000 after \d+ attempts$/);
    assert.equal(am.calls('/api/v2/alerts'), 0);
    assert.equal(patroni.calls('/failover') + patroni.calls('/switchover'), 0);
    // Not left waiting on a person for the rest of the file.
    await svc.post(`/api/v1/approvals/${r.body.approval_id}/reject`, { by: 'sam', comment: 'not that one' });
  });

  it('pages the team, then fails over to the caught-up candidate through /failover, and verifies it is the one primary', async () => {
    const r = await svc.post('/api/v1/incidents?wait=true', {
      id: 'DB-DOWN',
      root_cause: 'primary_unhealthy',
      service: SCOPE,
      context: { scope: SCOPE, leader: 'orders-db-0', candidate: 'orders-db-1', namespace: NS },
    });
    assert.equal(r.body.action, 'executed', r.body.reason);
    assert.equal(r.body.success, true, r.body.reason);
    const [page] = am.requests('/api/v2/alerts');
    assert.ok(page);
    assert.equal(patroni.calls('/switchover'), 0);
    const failovers = patroni.requests('/failover');
    assert.equal(failovers.length, 1);
    assert.deepEqual(failovers[0]!.json(), { candidate: 'orders-db-1' });
    assert.equal(failovers[0]!.headers.authorization, `Basic ${AUTH}`);
    assert.ok(page.at <= failovers[0]!.at, 'the team is paged before anything changes');
    const e = (await svc.get(`/api/v1/executions/${r.body.execution_id}`)).body;
    assert.deepEqual(
      e.steps.map((s: { phase: string; summary: string; ok: boolean }) => [s.phase, s.summary, s.ok]),
      [
        ['action', `POST ${am.url}/api/v2/alerts`, true],
        ['action', `POST ${patroni.url}/failover`, true],
        ['post_check', `promql max(patroni_primary{scope="${SCOPE}",name="orders-db-1"}) == 1`, true],
        ['post_check', `promql sum(patroni_primary{scope="${SCOPE}"}) == 1`, true],
        ['post_check', `promql max(patroni_primary{scope="${SCOPE}",name="orders-db-0"}) == 0`, true],
        ['post_check', `promql sum(rate(pg_stat_database_xact_commit{namespace="${NS}"}[1m])) > 0`, true],
      ],
    );
  });
});
