import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startPrometheus, waitForQuery, type RunningDaemon } from '../helpers/prometheus.js';
import { startTestService, type TestService } from '../helpers/service.js';

/**
 * The alert the README recommends, `increase(rectify_operator_resets_total[1h]) > 0`,
 * evaluated by a real Prometheus scraping a real rectify: it hears the first wait ended
 * by hand, because the series was scraped at 0 before it (a series that first appears
 * at 1 reads as no increase at all).
 */
describe('the first operator reset, as Prometheus sees it', { timeout: 120_000 }, () => {
  let target: HttpTarget;
  let svc: TestService;
  let prom: RunningDaemon;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/cool/a', { status: 200 });
    svc = await startTestService({
      runbooks: `runbooks:
  cool:
    risk: LOW
    triggers: [cool]
    min_confidence: 0.5
    cooldown_minutes: 30
    action:
      http: {method: POST, url: "${target.url}/cool/{service}"}
`,
      args: ['--listen', '127.0.0.1:0'],
    });
    const addr = await svc.service.listen();
    prom = await startPrometheus({ scrapeTargets: [new URL(addr.startsWith('http') ? addr : `http://${addr}`).host] });
  });
  after(async () => {
    await prom?.stop();
    await svc?.stop({ remove: true });
    await target?.close();
  });

  it('increase() over the series reads more than 0 once a cooldown is ended by hand', async () => {
    const series = 'rectify_operator_resets_total{runbook="cool",kind="cooldown_clear"}';
    // Scraped at 0 before anything was ended.
    assert.deepEqual(await waitForQuery(prom.url, series, (v) => v.length === 1, 30_000), [0]);
    assert.equal((await svc.post('/api/v1/incidents?wait=true', { root_cause: 'cool', service: 'a', confidence: 0.9 })).body.event, 'SUCCESS');
    const cleared = await svc.post('/api/v1/runbooks/cool/cooldown/clear', { reason: 'fixed by hand', service: 'a', by: 'alice' });
    assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
    await waitForQuery(prom.url, series, (v) => v[0] === 1, 30_000);
    const [increase] = await waitForQuery(prom.url, `increase(${series}[1h])`, (v) => v.length === 1);
    assert.ok(increase! > 0, `increase ${increase}`);
  });
});
