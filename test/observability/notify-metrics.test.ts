import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createNotifyQueue, createWebhookNotifier } from '../../src/notify/index.js';
import { createPrometheusMetrics, createTestLogger } from '../../src/observability/index.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { notification, receiver } from '../notify/events.js';
import { startTestService } from '../helpers/service.js';
import { until } from '../helpers/until.js';

const runbooks = (base: string) => `runbooks:
  fix:
    risk: LOW
    triggers: [broken]
    min_confidence: 0.5
    max_per_hour: 100
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/act"}
`;

/** The samples of the notification delivery metrics, in the order /metrics gives them. */
function notifySamples(text: string): string[] {
  return text.split('\n').filter((l) => l.startsWith('rectify_notifications_total') || l.startsWith('rectify_notify_receiver_failing'));
}

describe('notification deliveries are counted per receiver, and a failing receiver shows on /metrics', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/act', { status: 200 });
  });
  after(async () => target.close());

  it('a receiver answering 404 counts failed and is failing; answering 200 counts delivered and is not; a 503 counts deferred until its later round is delivered', async () => {
    let answer = 404;
    target.route('POST', '/hook', () => ({ status: answer }));
    const svc = await startTestService({
      runbooks: runbooks(target.url),
      args: ['--notify-webhook', `${target.url}/hook`],
      overrides: { notifyQueue: { backoffMs: 10, approvalRetryMs: 300 } },
    });
    try {
      const receiver = svc.service.receivers[0]!;
      assert.match(receiver, /^webhook http:\/\/127\.0\.0\.1:\d+ #[0-9a-f]{8}$/);
      const samples = async () => notifySamples((await svc.get('/metrics')).body as string);
      const expect = (delivered: number, deferred: number, failed: number, failing: 0 | 1) => [
        `rectify_notifications_total{receiver="${receiver}",result="delivered"} ${delivered}`,
        `rectify_notifications_total{receiver="${receiver}",result="deferred"} ${deferred}`,
        `rectify_notifications_total{receiver="${receiver}",result="failed"} ${failed}`,
        `rectify_notify_receiver_failing{receiver="${receiver}"} ${failing}`,
      ];
      // Every series from the first scrape, at 0: an alert on increase() hears the first failure.
      assert.deepEqual(await samples(), expect(0, 0, 0, 0));

      // A revoked URL: the outcome is refused at once, given up, and the receiver is failing.
      assert.equal((await svc.post('/api/v1/incidents?wait=true', { id: 'M1', root_cause: 'broken', service: 'shop' })).status, 202);
      await svc.service.drainNotifications();
      assert.equal(target.calls('/hook'), 1, 'a 404 is not tried again');
      assert.deepEqual(await samples(), expect(0, 0, 1, 1));

      // The URL works again: the next is delivered, and the receiver is no longer failing.
      answer = 200;
      assert.equal((await svc.post('/api/v1/incidents?wait=true', { id: 'M2', root_cause: 'broken', service: 'shop' })).status, 202);
      await svc.service.drainNotifications();
      assert.deepEqual(await samples(), expect(1, 0, 1, 0));

      // Down for a while: three attempts spent on 503s, the outcome waits for its later round.
      answer = 503;
      assert.equal((await svc.post('/api/v1/incidents?wait=true', { id: 'M3', root_cause: 'broken', service: 'shop' })).status, 202);
      await svc.service.drainNotifications();
      assert.equal(target.calls('/hook'), 5);
      assert.deepEqual(await samples(), expect(1, 1, 1, 1));
      answer = 200;
      await until('the later round is delivered', async () => (target.calls('/hook') === 6 ? true : undefined));
      await svc.service.drainNotifications();
      assert.deepEqual(await samples(), expect(2, 1, 1, 0));
      const text = (await svc.get('/metrics')).body as string;
      assert.match(text, /^# TYPE rectify_notifications_total counter$/m);
      assert.match(text, /^# TYPE rectify_notify_receiver_failing gauge$/m);
    } finally {
      await svc.stop({ remove: true });
    }
  });
});

describe('a receiver failing when rectify stopped is failing from the next start', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/act', { status: 200 });
  });
  after(async () => target.close());

  it('its outcome still waiting and its last attempt failed (500): 1 from the first scrape, before any attempt; 0 once one is delivered', async () => {
    let answer = 500;
    target.route('POST', '/hook', () => ({ status: answer }));
    // The later round waits a minute, longer than this test: no attempt after the first round.
    const svc = await startTestService({
      runbooks: runbooks(target.url),
      args: ['--notify-webhook', `${target.url}/hook`],
      overrides: { notifyQueue: { backoffMs: 10, approvalRetryMs: 60_000 } },
    });
    let next: Awaited<ReturnType<typeof svc.restart>> | undefined;
    try {
      const receiver = svc.service.receivers[0]!;
      const failing = async (s: typeof svc) => notifySamples((await s.get('/metrics')).body as string).filter((l) => l.startsWith('rectify_notify_receiver_failing'));
      assert.equal((await svc.post('/api/v1/incidents?wait=true', { id: 'R1', root_cause: 'broken', service: 'shop' })).status, 202);
      await svc.service.drainNotifications();
      assert.equal(target.calls('/hook'), 3, 'three attempts answered 500, its later round to come');
      assert.deepEqual(await failing(svc), [`rectify_notify_receiver_failing{receiver="${receiver}"} 1`]);

      // Stopped, and started again with the receiver still down: its outcome is told again when
      // its later round is due (a minute on), so nothing is tried before this scrape.
      next = await svc.restart();
      assert.equal(next.service.receivers[0], receiver);
      assert.deepEqual(await failing(next), [`rectify_notify_receiver_failing{receiver="${receiver}"} 1`]);
      assert.equal(target.calls('/hook'), 3, 'no attempt since the start');

      // The receiver is back: the next notification is delivered, and it is not failing.
      answer = 200;
      assert.equal((await next.post('/api/v1/incidents?wait=true', { id: 'R2', root_cause: 'broken', service: 'shop' })).status, 202);
      await next.service.drainNotifications();
      assert.equal(target.calls('/hook'), 4);
      assert.deepEqual(await failing(next), [`rectify_notify_receiver_failing{receiver="${receiver}"} 0`]);
    } finally {
      if (next) await next.stop({ remove: true });
      else await svc.stop({ remove: true });
    }
  });
});

describe('deliveries passed over behind a failing one are counted too', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
  });
  after(async () => target.close());

  it('a receiver answering 503: the first outcome spends its attempts (deferred), the one behind it is passed over to its later round (deferred), a blocked decision behind them is given up (failed)', async () => {
    target.route('POST', '/down', { status: 503 });
    const metrics = createPrometheusMetrics({ defaultMetrics: false });
    const notifier = createWebhookNotifier(`${target.url}/down`, undefined, receiver);
    metrics.knowReceivers([notifier.name]);
    const q = createNotifyQueue({ notifiers: [notifier], log: createTestLogger({ capture: false }).logger, record: async () => {}, backoffMs: 10, approvalRetryMs: 60_000, metrics });
    try {
      q.notify(notification('e1', 'FAILED', 'failed'));
      q.notify(notification('e2', 'SUCCESS', 'succeeded'));
      q.notify(notification('e3', 'RATE_LIMITED', 'blocked'));
      await q.drain();
      assert.equal(target.calls('/down'), 3, 'only the first was tried');
      assert.deepEqual(notifySamples(await metrics.render()), [
        `rectify_notifications_total{receiver="${notifier.name}",result="delivered"} 0`,
        `rectify_notifications_total{receiver="${notifier.name}",result="deferred"} 2`,
        `rectify_notifications_total{receiver="${notifier.name}",result="failed"} 1`,
        `rectify_notify_receiver_failing{receiver="${notifier.name}"} 1`,
      ]);
    } finally {
      await q.close();
    }
  });
});
