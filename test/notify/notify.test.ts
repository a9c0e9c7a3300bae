import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { slackPlanText, webhookText } from '../../src/notify/index.js';
import { holdFirstCall, sequence, startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { acceptStoredService, amWebhook, startTestService } from '../helpers/service.js';

const runbooks = (base: string) => `runbooks:
  fix:
    risk: LOW
    triggers: [broken]
    min_confidence: 0.5
    max_per_hour: 10
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/act"}
  risky:
    risk: HIGH
    owner: security-team
    triggers: [scary]
    action:
      http: {method: POST, url: "${base}/act"}
  twice:
    risk: HIGH
    approvals_required: 2
    triggers: [grave]
    action:
      http: {method: POST, url: "${base}/act"}
`;

describe('notifications: always notify, never block', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/act', { status: 200 });
  });
  after(async () => target.close());

  it('the generic webhook gets decisions that need a person and execution outcomes, with links; each audited NOTIFIED', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 204 });
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`, '--public-url', 'https://rectify.example.com'] });
    const exec = await svc.post('/api/v1/incidents?wait=true', { id: 'N1', root_cause: 'broken', service: 'shop' });
    const appr = await svc.post('/api/v1/incidents', { id: 'N2', root_cause: 'scary', service: 'shop' });
    await svc.post('/api/v1/incidents', { id: 'N3', root_cause: 'unknown', service: 'shop' });
    await svc.post('/api/v1/incidents', { id: 'N3', root_cause: 'unknown', service: 'shop' }); // duplicate: not told again
    await svc.service.drainNotifications();
    const got = target.requests('/hook', 'POST').map((r) => r.json() as any);
    assert.deepEqual(got.map((g) => [g.incident_id, g.event, g.outcome]).sort(), [
      ['N1', 'SUCCESS', 'succeeded'],
      ['N2', 'APPROVAL_REQUIRED', 'approval_required'],
      ['N3', 'NO_RUNBOOK', 'manual'],
    ]);
    const approval = got.find((g) => g.incident_id === 'N2');
    assert.equal(approval.links.approval, `https://rectify.example.com/api/v1/approvals/${appr.body.approval_id}`);
    assert.equal(approval.owner, 'security-team', 'an approval request names who approves');
    const success = got.find((g) => g.incident_id === 'N1');
    assert.equal(success.links.execution, `https://rectify.example.com/api/v1/executions/${exec.body.execution_id}`);
    assert.equal(success.service, 'shop');
    const audited = (await svc.get('/api/v1/audit?event=NOTIFIED')).body.events;
    assert.equal(audited.length, 3);
    assert.equal(audited[0].details.notifier, svc.service.receivers[0]);
    await svc.stop({ remove: true });
  });

  it('an Alertmanager alert whose confidence cannot be read is told as LOW_CONFIDENCE, naming the field and value; its group is decided and told as usual', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 204 });
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`] });
    const r = await svc.post('/api/v1/webhooks/alertmanager?wait=true', amWebhook([
      { labels: { alertname: 'broken', service: 'shop', confidence: 'abc' }, fingerprint: 'badconf000000001' },
      { labels: { alertname: 'broken', service: 'shop', confidence: '0.9' }, fingerprint: 'badconf000000002' },
    ]));
    assert.equal(r.status, 202);
    await svc.service.drainNotifications();
    const [bad, good] = r.body.results.map((x: any) => x.incident_id);
    const got = target.requests('/hook', 'POST').map((q) => q.json() as any);
    assert.deepEqual(got.map((g) => [g.incident_id, g.event, g.outcome, g.runbook]).sort(), [
      [bad, 'LOW_CONFIDENCE', 'manual', 'fix'],
      [good, 'SUCCESS', 'succeeded', 'fix'],
    ].sort());
    assert.equal(got.find((g) => g.incident_id === bad).reason, 'Confidence unreadable: labels.confidence is "abc", not a decimal number from 0 to 1');
    assert.equal(target.calls('/act', 'POST'), 1);
    await svc.stop({ remove: true });
  });

  it('Slack: Block Kit with incident, runbook, outcome and a link; the secret path never reaches the audit log', async () => {
    target.reset();
    target.route('POST', '/services/T000/B000/SECRETxyz', { status: 200 });
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--slack-webhook-url', `${target.url}/services/T000/B000/SECRETxyz`, '--public-url', 'https://rectify.example.com'] });
    await svc.post('/api/v1/incidents', { id: 'S1', root_cause: 'scary', service: 'shop' });
    await svc.service.drainNotifications();
    const [msg] = target.requests('/services/T000/B000/SECRETxyz').map((r) => r.json() as any);
    assert.equal(msg.blocks[0].type, 'header');
    assert.match(msg.blocks[0].text.text, /APPROVAL_REQUIRED risky/);
    assert.deepEqual(msg.blocks[1].fields.map((f: any) => f.text), ['*Incident*\n`S1`', '*Service*\n`shop`', '*Runbook*\n`risky`', '*Outcome*\n`approval_required`', '*Approver*\n`security-team`']);
    assert.deepEqual([...new Set(msg.blocks[1].fields.map((f: any) => f.verbatim))], [true]);
    assert.match(msg.blocks[3].elements[0].text, /^<https:\/\/rectify\.example\.com\/api\/v1\/approvals\/apr_[0-9A-Z]+\|Open in rectify>$/);
    const audit = JSON.stringify((await svc.get('/api/v1/audit?limit=100')).body);
    assert.ok(!audit.includes('SECRETxyz'), 'the webhook path is a credential');
    await svc.stop({ remove: true });
  });

  it('Slack: values from an alert cannot ping a channel or dress up a link; --slack-approvers are mentioned on approval requests', async () => {
    target.reset();
    target.route('POST', '/services/T000/B000/SECRETxyz', { status: 200 });
    const svc = await startTestService({
      runbooks: runbooks(target.url),
      args: ['--slack-webhook-url', `${target.url}/services/T000/B000/SECRETxyz`, '--slack-signing-secret', 'x'.repeat(32), '--slack-approvers', 'U0ALICE,U0BOB'],
    });
    await svc.post('/api/v1/incidents', { id: 'S2', root_cause: 'scary', service: '<!channel> & <https://evil.example|Approve here>' });
    // A line break and formatting in a value: it may not fake a field of its own, bold text or a link.
    // (Intake refuses a service with a line break now; one stored before is still told.)
    await acceptStoredService(svc, { id: 'S3', root_cause: 'scary' }, 'api\n\n*Outcome*\n:white_check_mark: `SUCCESS` https://evil.example/ok');
    await svc.service.drainNotifications();
    const msgs = target.requests('/services/T000/B000/SECRETxyz').map((r) => r.json() as any);
    // By the incident field: a random id elsewhere in a message may spell "S2" too.
    const about = (incident: string) => msgs.find((m) => m.blocks[1].fields[0].text === `*Incident*\n\`${incident}\``);
    const approval = about('S2');
    assert.deepEqual(approval.blocks[1].fields.map((f: any) => f.text), [
      '*Incident*\n`S2`',
      '*Service*\n`&lt;!channel&gt; &amp; &lt;https://evil.example|Approve here&gt;`',
      '*Runbook*\n`risky`',
      '*Outcome*\n`approval_required`',
      '*Approver*\n`security-team`',
      '*Who may approve here*\n<@U0ALICE> <@U0BOB>',
    ]);
    const faked = about('S3');
    assert.equal(faked.blocks[1].fields[1].text, "*Service*\n`api *Outcome* :white_check_mark: 'SUCCESS' https://evil.example/ok`");
    assert.deepEqual(faked.blocks[2].text.type, 'plain_text', 'the reason (prose naming values) is plain text');
    assert.equal(faked.text.includes('\n'), false);
    const all = JSON.stringify(msgs);
    assert.ok(!all.includes('<!channel>') && !all.includes('<https://evil'), all);
    await svc.stop({ remove: true });
  });

  it('characters a screen draws as nothing, in values from an alert or a person, are written as their escapes in the text people read (Slack fields, reason, fallback text; the webhook reason); the webhook data fields keep them as sent', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 204 });
    target.route('POST', '/slack', { status: 200 });
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`, '--slack-webhook-url', `${target.url}/slack`] });
    try {
      // A zero-width space, an invisible operator, a tag character, a soft hyphen and a BEL: "shop" to the eye.
      const service = 'shop\u200b\u2062\u{E0041}\u00ad\u0007';
      const shown = 'shop\\u200b\\u2062\\udb40\\udc41\\u00ad\\u0007';
      // Intake refuses such a service now; one stored before is still told.
      const asked = { body: await acceptStoredService(svc, { id: 'H1', root_cause: 'scary' }, service) };
      assert.equal(asked.body.action, 'approval_required');
      // A comment with a zero-width space, a line break, a mention and a right-to-left override.
      const rejected = await svc.post(`/api/v1/approvals/${asked.body.approval_id}/reject`, { by: 'bob', comment: 'fine\u200b\n<!here> FAKE \u202egnp' });
      assert.equal(rejected.status, 200);
      await svc.service.drainNotifications();

      const hooks = target.requests('/hook', 'POST').map((r) => r.json() as any);
      assert.deepEqual(
        hooks.map((h) => [h.event, h.service, h.reason]),
        [
          ['APPROVAL_REQUIRED', service, 'risk HIGH requires approval'],
          ['REJECTED', service, 'rejected by bob ("fine\\u200b <!here> FAKE \\u202egnp"): nothing ran'],
        ],
        'the service as data, as sent; the reason as a person reads it',
      );
      // The audit row records what was told as it was: the data, not its rendering.
      const [row] = (await svc.get('/api/v1/audit?event=REJECTED')).body.events;
      assert.equal(row.details.told.reason, 'rejected by bob ("fine\u200b\n<!here> FAKE \u202egnp"): nothing ran');
      assert.equal(row.details.told.service, service);

      const slack = target.requests('/slack', 'POST').map((r) => r.json() as any);
      assert.deepEqual(
        slack.map((m) => m.blocks[1].fields[1].text),
        [`*Service*\n\`${shown}\``, `*Service*\n\`${shown}\``],
      );
      const [, no] = slack;
      assert.equal(no.blocks[2].text.text, 'rejected by bob ("fine\\u200b <!here> FAKE \\u202egnp"): nothing ran');
      assert.equal(no.text, ':no_entry_sign: rectify: REJECTED risky: rejected by bob ("fine\\u200b &lt;!here&gt; FAKE \\u202egnp"): nothing ran');
      const everything = [...slack.flatMap((m) => [m.text, m.blocks[0].text.text, ...m.blocks[1].fields.map((f: any) => f.text), m.blocks[2].text.text]), ...hooks.map((h) => h.reason)]
        .join(' ')
        // A field's own line break, between its label and its value: rectify's.
        .replaceAll('*\n`', '* `');
      // eslint-disable-next-line no-control-regex -- looking for control characters is the point
      assert.equal(/[\p{Cf}\u0000-\u001f\u007f-\u009f]/u.test(everything), false, 'no invisible or control character reaches what people read');
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('an approval request that nobody answered in time is told as EXPIRED: nothing ran', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 204 });
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`, '--approval-ttl', '10m'] });
    const appr = await svc.post('/api/v1/incidents', { id: 'E1', root_cause: 'scary', service: 'vault' });
    assert.equal(appr.body.action, 'approval_required');
    svc.clock.advance(9 * 60_000);
    await svc.service.housekeep();
    await svc.service.drainNotifications();
    assert.deepEqual(target.requests('/hook', 'POST').map((r) => (r.json() as any).event), ['APPROVAL_REQUIRED'], 'not yet due');
    svc.clock.advance(2 * 60_000);
    await svc.service.housekeep();
    await svc.service.housekeep();
    await svc.service.drainNotifications();
    const got = target.requests('/hook', 'POST').map((r) => r.json() as any);
    assert.deepEqual(got.map((g) => g.event), ['APPROVAL_REQUIRED', 'EXPIRED'], 'told once');
    const expired = got[1];
    assert.deepEqual(
      [expired.incident_id, expired.runbook, expired.service, expired.approval_id, expired.execution_id, expired.outcome],
      ['E1', 'risky', 'vault', appr.body.approval_id, null, 'expired'],
    );
    assert.equal(expired.reason, 'nobody approved before the deadline (2026-11-24T03:10:00.000Z): nothing ran; trigger a new run if the fix is still needed');
    const audited = (await svc.get('/api/v1/audit?event=NOTIFIED')).body.events.map((e: any) => e.details.about);
    assert.deepEqual(audited.sort(), ['APPROVAL_REQUIRED', 'EXPIRED']);
    assert.equal(target.calls('/act'), 0);
    await svc.stop({ remove: true });
  });

  it('a request of two approvers that expires with one vote is told and audited with the vote, not as nobody approved', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 204 });
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`, '--approval-ttl', '10m'] });
    const appr = await svc.post('/api/v1/incidents', { id: 'E2', root_cause: 'grave', service: 'vault' });
    assert.equal(appr.body.action, 'approval_required');
    const vote = await svc.post(`/api/v1/approvals/${appr.body.approval_id}/approve`, { by: 'alice', comment: 'looks right' });
    assert.deepEqual([vote.status, vote.body.status], [202, 'pending']);
    svc.clock.advance(11 * 60_000);
    await svc.service.housekeep();
    await svc.service.drainNotifications();
    const got = target.requests('/hook', 'POST').map((r) => r.json() as any);
    assert.deepEqual(got.map((g) => g.event), ['APPROVAL_REQUIRED', 'APPROVAL_VOTE', 'EXPIRED']);
    assert.equal(got[2].reason, '1 of 2 approvals (alice) before the deadline (2026-11-24T03:10:00.000Z); the request expired: nothing ran; trigger a new run if the fix is still needed');
    const rows = (await svc.get('/api/v1/audit?event=EXPIRED')).body.events;
    assert.equal(rows.length, 1);
    assert.equal(rows[0].details.reason, '1 of 2 approvals (alice) before the deadline; the request expired');
    assert.equal(rows[0].details.told.reason, got[2].reason);
    assert.equal(target.calls('/act'), 0);
    await svc.stop({ remove: true });
  });

  it('the kill switch is told: who paused or resumed, and why; a pause that changes nothing is not', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 204 });
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`] });
    await svc.post('/api/v1/pause', { by: 'alice', reason: 'bad deploy in flight' });
    await svc.post('/api/v1/pause', { by: 'bob' });
    await svc.post('/api/v1/resume', { by: 'alice' });
    await svc.service.drainNotifications();
    const got = target.requests('/hook', 'POST').map((r) => r.json() as any);
    assert.deepEqual(
      got.map((g) => [g.event, g.outcome, g.reason, g.incident_id]),
      [
        ['SERVICE_PAUSED', 'paused', 'automatic remediation paused by alice: bad deploy in flight', null],
        ['SERVICE_RESUMED', 'resumed', 'automatic remediation resumed by alice', null],
      ],
    );
    await svc.stop({ remove: true });
  });

  it('retries a failing receiver with backoff (exact attempts), then gives up and audits NOTIFY_FAILED', async () => {
    target.reset();
    target.route('POST', '/flaky', sequence([{ status: 500 }, { status: 502 }, { status: 200 }]));
    target.route('POST', '/down', { status: 503 });
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/flaky`] });
    await svc.post('/api/v1/incidents', { id: 'R1', root_cause: 'unknown', service: 'x' });
    await svc.service.drainNotifications();
    assert.equal(target.calls('/flaky'), 3);
    const ok = (await svc.get('/api/v1/audit?event=NOTIFIED')).body.events;
    assert.equal(ok[0].details.attempts, 3);
    await svc.stop({ remove: true });

    const down = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/down`] });
    await down.post('/api/v1/incidents', { id: 'R2', root_cause: 'unknown', service: 'x' });
    await down.service.drainNotifications();
    assert.equal(target.calls('/down'), 3);
    const failed = (await down.get('/api/v1/audit?event=NOTIFY_FAILED')).body.events;
    assert.equal(failed.length, 1);
    assert.equal(failed[0].details.detail, 'answered 503');
    assert.equal(failed[0].details.about, 'NO_RUNBOOK');
    await down.stop({ remove: true });
  });

  it('a receiver that hangs does not delay the decision: the 202 comes back while the notification is still in flight', async () => {
    target.reset();
    target.route('POST', '/slow', { status: 200, delayMs: 4_000 });
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/slow`] });
    const r = await svc.post('/api/v1/incidents?wait=true', { id: 'H1', root_cause: 'broken', service: 'shop' });
    assert.equal(r.status, 202);
    assert.equal(r.body.success, true, 'the remediation itself completed');
    await target.waitForRequest('/slow');
    assert.equal((await svc.get('/api/v1/audit?event=NOTIFIED')).body.events.length, 0, 'delivery has not finished yet');
    await svc.stop({ remove: true });
  });

  it('a breaker trip is told', async () => {
    target.reset();
    target.route('POST', '/act', { status: 500 });
    target.route('POST', '/hook', { status: 200 });
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/hook`] });
    for (let i = 0; i < 3; i++) await svc.post('/api/v1/incidents?wait=true', { root_cause: 'broken', service: 'shop' });
    await svc.service.drainNotifications();
    const events = target.requests('/hook').map((r) => (r.json() as any).event);
    assert.deepEqual(events.filter((e) => e === 'FAILED').length, 3);
    assert.deepEqual(events.filter((e) => e === 'CIRCUIT_TRIPPED').length, 1);
    target.route('POST', '/act', { status: 200 });
    await svc.stop({ remove: true });
  });

  it('notifications a full queue drops are audited: one NOTIFY_FAILED row for the burst, one warning', async () => {
    target.reset();
    const release = holdFirstCall(target, 'POST', '/hook');
    const svc = await startTestService({
      runbooks: runbooks(target.url),
      args: ['--notify-webhook', `${target.url}/hook`, '--notify-repeat-window', '0s'],
      overrides: { notifyQueue: { maxQueued: 3, dropReportMs: 60_000 } },
      captureLogs: true,
    });
    try {
      await svc.post('/api/v1/incidents', { id: 'D1', root_cause: 'unknown', service: 'shop' }); // being delivered, held
      await target.waitForRequest('/hook');
      // D2..D4 fill the queue; each of D5..D30 pushes out the oldest waiting (D2..D27).
      for (let i = 2; i <= 30; i++) await svc.post('/api/v1/incidents', { id: `D${i}`, root_cause: 'unknown', service: 'shop' });
      release();
      await svc.service.drainNotifications();
      assert.deepEqual(target.requests('/hook', 'POST').map((r) => (r.json() as any).incident_id), ['D1', 'D28', 'D29', 'D30']);
      assert.equal((await svc.get('/api/v1/audit?event=NOTIFIED')).body.events.length, 4);
      const failed = (await svc.get('/api/v1/audit?event=NOTIFY_FAILED')).body.events;
      assert.equal(failed.length, 1, 'one row for the burst, not one per drop');
      assert.equal(failed[0].incident_id, null);
      assert.deepEqual(failed[0].details, {
        notifier: svc.service.receivers[0],
        about: 'NO_RUNBOOK',
        attempts: 0,
        detail: 'dropped: queue full',
        dropped: 26,
        incident_ids: Array.from({ length: 20 }, (_, i) => `D${i + 2}`),
      });
      const warnings = svc.log.records().filter((r) => r.level === 'warn' && String(r.msg).includes('dropped'));
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0]!.count, 26);
    } finally {
      release();
      await svc.stop({ remove: true });
    }
  });

  it('--notify-timeout bounds each attempt; the retry after a timed-out attempt carries the same notification_id, which the audit row names', async () => {
    target.reset();
    target.route('POST', '/late', sequence([{ status: 204, delayMs: 1_500 }, { status: 204 }]));
    const svc = await startTestService({ runbooks: runbooks(target.url), args: ['--notify-webhook', `${target.url}/late`, '--notify-timeout', '1s'] });
    try {
      assert.equal(svc.config.notifyTimeoutMs, 1_000);
      await svc.post('/api/v1/incidents', { id: 'T1', root_cause: 'unknown', service: 'shop' });
      await svc.service.drainNotifications();
      const got = target.requests('/late', 'POST');
      assert.equal(got.length, 2, 'the first attempt timed out after 1 s (the receiver would have answered at 1.5 s); the second was answered');
      const ids = got.map((r) => [r.headers['idempotency-key'], (r.json() as any).notification_id]);
      const id = ids[0]![0];
      assert.match(String(id), /^ntf_[0-9A-Z]{26}$/);
      assert.deepEqual(ids, [
        [id, id],
        [id, id],
      ]);
      const ok = (await svc.get('/api/v1/audit?event=NOTIFIED')).body.events;
      assert.equal(ok.length, 1);
      assert.deepEqual(ok[0].details, { notifier: svc.service.receivers[0], about: 'NO_RUNBOOK', attempts: 2, detail: 'delivered', notification_id: id });
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('an approval request shows its plan: what Approve would run and the rollback, in the webhook body and as a code block in Slack; never headers or bodies', async () => {
    target.reset();
    target.route('POST', '/hook', { status: 204 });
    target.route('POST', '/services/T000/B000/SECRETxyz', { status: 200 });
    const guarded = `  guarded:
    risk: HIGH
    owner: db-team
    triggers: [dbdown]
    actions:
      - http: {method: POST, url: "${target.url}/failover/{service}", headers: {authorization: "Bearer s3cr3t-token"}, body: {password: hunter2}}
      - http: {method: POST, url: "${target.url}/drain/{service}"}
    rollback:
      - http: {method: POST, url: "${target.url}/failback/{service}"}
`;
    const svc = await startTestService({
      runbooks: runbooks(target.url) + guarded,
      args: ['--notify-webhook', `${target.url}/hook`, '--slack-webhook-url', `${target.url}/services/T000/B000/SECRETxyz`, '--slack-signing-secret', 'x'.repeat(32)],
    });
    try {
      const asked = await svc.post('/api/v1/incidents', { id: 'P1', root_cause: 'dbdown', service: 'orders' });
      assert.equal(asked.body.action, 'approval_required');
      const noRollback = await svc.post('/api/v1/incidents', { id: 'P2', root_cause: 'scary', service: 'shop' });
      assert.equal(noRollback.body.action, 'approval_required');
      // A person's manual run of a HIGH-risk runbook asks another person: told with its plan too.
      const manual = await svc.post('/api/v1/runbooks/guarded/run', { params: {}, by: 'alice', service: 'billing' });
      assert.equal(manual.body.action, 'approval_required');
      await svc.post('/api/v1/incidents?wait=true', { id: 'P3', root_cause: 'broken', service: 'shop' });
      await svc.service.drainNotifications();

      const hooks = target.requests('/hook', 'POST').map((r) => r.json() as any);
      const hook = (incident: string) => hooks.find((h) => h.incident_id === incident);
      assert.deepEqual(hook('P1').plan, {
        actions: [`POST ${target.url}/failover/orders`, `POST ${target.url}/drain/orders`],
        rollback: [`POST ${target.url}/failback/orders`],
      });
      assert.deepEqual(hook('P2').plan, { actions: [`POST ${target.url}/act`], rollback: null });
      assert.deepEqual(hook(manual.body.incident_id).plan, {
        actions: [`POST ${target.url}/failover/billing`, `POST ${target.url}/drain/billing`],
        rollback: [`POST ${target.url}/failback/billing`],
      });
      assert.equal(hook('P3').event, 'SUCCESS');
      assert.equal('plan' in hook('P3'), false, 'only approval requests carry a plan');
      // What the API's approval view shows the approver is what the notification showed.
      const view = (await svc.get(`/api/v1/approvals/${asked.body.approval_id}`)).body;
      assert.deepEqual(view.actions, hook('P1').plan.actions);

      const slack = target.requests('/services/T000/B000/SECRETxyz', 'POST').map((r) => r.json() as any);
      const message = (incident: string) => slack.find((m) => m.blocks[1].fields[0].text === `*Incident*\n\`${incident}\``);
      const blocks = message('P1').blocks;
      assert.deepEqual(
        blocks.map((b: any) => b.type),
        ['header', 'section', 'section', 'context', 'section', 'actions'],
        'the plan right above the Approve and Reject buttons',
      );
      assert.deepEqual(blocks[4].text, {
        type: 'mrkdwn',
        verbatim: true,
        text: [
          '*Plan: what Approve runs*',
          '```',
          `1. POST ${target.url}/failover/orders`,
          `2. POST ${target.url}/drain/orders`,
          '```',
          '*Rollback if it fails*',
          '```',
          `1. POST ${target.url}/failback/orders`,
          '```',
        ].join('\n'),
      });
      assert.equal(message('P2').blocks[4].text.text, ['*Plan: what Approve runs*', '```', `1. POST ${target.url}/act`, '```', '*Rollback if it fails*: none'].join('\n'));
      assert.equal(message('P3').blocks.some((b: any) => String(b.text?.text ?? '').includes('Plan')), false);

      const everything = JSON.stringify([hooks, slack]);
      assert.ok(!everything.includes('s3cr3t-token') && !everything.includes('hunter2'), 'headers and bodies stay out');
    } finally {
      await svc.stop({ remove: true });
    }
  });
});

describe("Slack: an approval request's plan", () => {
  it('a step summary holding a character a screen draws as nothing shows its escape, in Slack and in the webhook body', () => {
    const plan = { actions: ['POST https://x/act?svc=shop\u200b'], rollback: ['echo \u202egnp\u0000'] };
    assert.equal(
      slackPlanText(plan),
      ['*Plan: what Approve runs*', '```', '1. POST https://x/act?svc=shop\\u200b', '```', '*Rollback if it fails*', '```', '1. echo \\u202egnp\\u0000', '```'].join('\n'),
    );
    const e = { event: 'APPROVAL_REQUIRED', incident_id: 'i\u200b', runbook: 'r', service: 'shop\u200b', execution_id: null, approval_id: null, outcome: 'approval_required', reason: 'why\u200b', at: 0, plan } as const;
    assert.deepEqual(webhookText(e), { ...e, reason: 'why\\u200b', plan: { actions: ['POST https://x/act?svc=shop\\u200b'], rollback: ['echo \\u202egnp\\u0000'] } });
  });

  it('one line per step, its markup and backticks defused; a long plan is cut to fit the section, the rest counted', () => {
    const text = slackPlanText({ actions: ['POST https://x/<!channel>?a=1&b=2', 'echo ```done```\n*bold*'], rollback: null });
    assert.equal(
      text,
      ['*Plan: what Approve runs*', '```', '1. POST https://x/&lt;!channel&gt;?a=1&amp;b=2', "2. echo '''done''' *bold*", '```', '*Rollback if it fails*: none'].join('\n'),
    );
    const step = (i: number) => `POST https://example.com/${String(i).padStart(2, '0')}/${'x'.repeat(200)}`;
    const long = slackPlanText({ actions: Array.from({ length: 40 }, (_, i) => step(i)), rollback: [step(98), step(99)] });
    assert.ok(long.length <= 3_000, `${long.length} characters`);
    const lines = long.split('\n');
    // 2,900 characters less 120 for each part's title, fences and "more" line: 2,660, and
    // the steps take 232 (9 of them) or 233 characters with their line breaks: 11 fit.
    assert.deepEqual(
      lines.filter((l) => /^\d+\. POST/.test(l)).map((l) => l.split('/')[3]),
      ['00', '01', '02', '03', '04', '05', '06', '07', '08', '09', '10'],
    );
    assert.deepEqual(lines.filter((l) => l.startsWith('…')), ['… 29 more step(s): see the approval in rectify', '… 2 more step(s): see the approval in rectify'], 'the rollback is counted when none of it fits');
  });
});
