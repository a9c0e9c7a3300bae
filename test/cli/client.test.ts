import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { freePort } from '../helpers/prometheus.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { cli } from './capture.js';

function runbooks(base: string): string {
  return `runbooks:
  restart-api:
    risk: LOW
    triggers: [CrashLoopBackOff]
    max_per_hour: 5
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/restart/{pod_name}"}
  rollback-deployment:
    risk: HIGH
    triggers: [error_rate_spike_after_deploy]
    max_per_hour: 5
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/undo/{deployment}"}
    rollback:
      http: {method: POST, url: "${base}/redo/{deployment}"}
  drop-replica:
    risk: HIGH
    approvals_required: 2
    triggers: [replica_lag]
    max_per_hour: 5
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/drop/{deployment}"}
`;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`gave up waiting for ${what}`);
}

describe('client commands against a running service', () => {
  let target: HttpTarget;
  let svc: TestService;
  let env: Record<string, string>;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/restart/api-1', { status: 200 });
    target.route('POST', '/undo/checkout', { status: 200 });
    target.route('POST', '/drop/db', { status: 200 });
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--listen', '127.0.0.1:0'] });
    env = { RECTIFY_SERVER: await svc.service.listen() };
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  it('runbooks: --json is the API answer; the table has a row per runbook', async () => {
    const r = await cli(['runbooks', '--json'], { env });
    assert.equal(r.code, 0);
    assert.deepEqual(r.json(), (await svc.get('/api/v1/runbooks')).body);
    const t = await cli(['runbooks'], { env });
    assert.equal(t.code, 0);
    assert.match(t.out[0]!, /^RUNBOOK\s+RISK\s+MODE\s+PAUSED\s+EXECUTABLE\s+CIRCUIT\s+LAST HOUR\s+COOLDOWN\s+OBJECT COOLDOWN\s+SUCCESS$/);
    assert.ok(t.out.some((l) => /^restart-api\s+LOW\s+auto\s+no\s+yes\s+closed\s+0\/5\s+-\s+-\s+-$/.test(l)), t.out.join('\n'));
    assert.ok(t.out.some((l) => /^rollback-deployment\s+HIGH\s+auto\s+no\s+yes\s+closed\s+0\/5/.test(l)));
    const one = await cli(['runbooks', 'restart-api', '--json'], { env });
    assert.deepEqual(one.json(), (await svc.get('/api/v1/runbooks/restart-api')).body);
    // A path in --server that the service does not serve: its "no route" says what to check.
    const path = await cli(['runbooks'], { env: { RECTIFY_SERVER: `${env.RECTIFY_SERVER}/api` } });
    assert.deepEqual([path.code, path.err], [1, ["rectify: NOT_FOUND: no route GET /api/api/v1/runbooks (check that --server is the service's address with no path it does not serve, such as /api, and that the service is as new as this CLI)"]]);
    const missing = await cli(['runbooks', 'nope'], { env });
    assert.equal(missing.code, 1);
    assert.deepEqual(missing.err, ['rectify: NOT_FOUND: no runbook "nope" is loaded']);
    // A typo of a loaded id is told the id it is near, wherever a runbook id is given.
    for (const argv of [['runbooks', 'restart-ap'], ['run', 'restart-ap', '--param', 'pod_name=api-1'], ['pause', '--runbook', 'restart-ap']]) {
      const typo = await cli(argv, { env });
      assert.deepEqual([typo.code, typo.err], [1, ['rectify: NOT_FOUND: no runbook "restart-ap" is loaded (did you mean "restart-api"?)']], argv.join(' '));
    }
  });

  it('run: the same guardrails and audit as an automatic run, the actor is --by, it waits for the end', async () => {
    target.reset();
    const r = await cli(['run', 'restart-api', '--param', 'pod_name=api-1', '--service', 'api', '--by', 'carol', '--json'], { env });
    assert.equal(r.code, 0, r.err.join('\n'));
    const { result, execution } = r.json();
    assert.equal(result.action, 'executed');
    assert.equal(result.reason, 'manual run');
    assert.equal(execution.state, 'succeeded');
    assert.equal(execution.actor, 'carol');
    assert.equal(execution.service, 'api');
    assert.equal(target.calls('/restart/api-1', 'POST'), 1);
    const audit = (await svc.get(`/api/v1/audit?incident_id=${result.incident_id}`)).body.events as Array<{ event: string; actor: string }>;
    assert.deepEqual(
      audit.map((e) => [e.event, e.actor]).reverse(),
      [
        ['MANUAL_RUN', 'carol'],
        ['EXECUTING', 'carol'],
        ['STEP_STARTED', 'rectify'],
        ['STEP_FINISHED', 'rectify'],
        ['SUCCESS', 'rectify'],
      ],
    );

    // A placeholder value that is not a Kubernetes-safe path segment is refused before any step.
    const bad = await cli(['run', 'restart-api', '--param', 'pod_name=../admin', '--by', 'carol'], { env });
    assert.equal(bad.code, 1);
    assert.match(bad.out[0]!, /^restart-api: blocked PARAM_REFUSED: /);
    assert.equal(target.calls('/restart/api-1', 'POST'), 1);

    const dry = await cli(['run', 'restart-api', '--param', 'pod_name=api-1', '--dry-run', '--json'], { env });
    assert.equal(dry.code, 0);
    // A parameter named as an object's inherited property is sent as any other (it was refused
    // as "given twice"): the service names it, as a param restart-api does not read (exit 2).
    const inherited = await cli(['run', 'restart-api', '--param', 'pod_name=api-1', '--param', 'constructor=x', '--dry-run', '--json'], { env });
    assert.equal(inherited.code, 2, inherited.err.join('\n'));
    assert.deepEqual(inherited.json().error.details, [{ path: 'body.params.constructor', message: 'not a param runbook restart-api reads' }]);
    assert.equal(dry.json().result.action, 'dry_run');
    assert.equal(dry.json().execution, null);
    assert.equal(target.calls('/restart/api-1', 'POST'), 1);

    const unknown = await cli(['run', 'nope', '--json'], { env });
    assert.equal(unknown.code, 1);
    assert.equal(unknown.json().error.code, 'NOT_FOUND');
  });

  it('approvals, approve, reject: exit 5 while waiting, 0 when approved and run, 1 on a second decision or an unknown id', async () => {
    target.reset();
    const asked = await cli(['run', 'rollback-deployment', '--param', 'deployment=checkout', '--by', 'carol', '--json'], { env });
    assert.equal(asked.code, 5);
    const id = asked.json().result.approval_id as string;
    assert.match(id, /^apr_/);
    assert.equal(asked.json().execution, null);

    const list = await cli(['approvals', '--json'], { env });
    assert.equal(list.code, 0);
    assert.deepEqual(list.json(), (await svc.get('/api/v1/approvals?status=pending')).body);
    assert.deepEqual(
      list.json().approvals.map((a: { id: string }) => a.id),
      [id],
    );
    const table = await cli(['approvals'], { env });
    assert.match(table.out[0]!, /^ID\s+RUNBOOK\s+SERVICE\s+STATUS\s+VOTES\s+REQUESTED\s+EXPIRES\s+ALERTS\s+REASON\s+ACTIONS\s+ROLLBACK$/);
    assert.equal(table.out.length, 2);
    // Why it asks, what Approve would run, and what undoes it if it fails; one approver: no votes to count.
    const reason = list.json().approvals[0].reason as string;
    assert.ok(reason.length > 0 && reason.length <= 60, reason);
    assert.match(table.out[1]!, new RegExp(`^${id}\\s+rollback-deployment\\s+rollback-deployment\\s+pending\\s+-\\s+2026-11-24T03:00:00Z\\s+2026-11-24T04:00:00Z\\s+0\\s+${reason.replace(/[()]/g, '\\$&')}\\s+POST ${target.url}/undo/checkout\\s+POST ${target.url}/redo/checkout$`));

    const ok = await cli(['approve', id, '--by', 'alice', '--comment', 'error rate is real', '--json'], { env });
    assert.equal(ok.code, 0, ok.err.join('\n'));
    const answer = ok.json();
    assert.equal(answer.status, 'approved');
    assert.equal(answer.decided_by, 'alice');
    assert.equal(answer.result.action, 'executed');
    assert.equal(answer.execution.state, 'succeeded');
    assert.equal(target.calls('/undo/checkout', 'POST'), 1);

    const twice = await cli(['approve', id, '--by', 'bob', '--json'], { env });
    assert.equal(twice.code, 1);
    assert.deepEqual(twice.json(), { error: { code: 'CONFLICT', message: `approval request ${id} is already approved by alice`, details: [] } });
    assert.deepEqual(twice.err, [`rectify: CONFLICT: approval request ${id} is already approved by alice`]);
    assert.equal(target.calls('/undo/checkout', 'POST'), 1);

    const unknown = await cli(['approve', 'apr_NOPE'], { env });
    assert.equal(unknown.code, 1);
    assert.deepEqual(unknown.err, ['rectify: NOT_FOUND: no approval request "apr_NOPE"']);
    assert.deepEqual(unknown.out, []);

    svc.clock.advance(60_000);
    const again = await cli(['run', 'rollback-deployment', '--param', 'deployment=checkout', '--json'], { env });
    const id2 = again.json().result.approval_id as string;
    const no = await cli(['reject', id2, '--by', 'bob', '--comment', 'not now'], { env });
    assert.equal(no.code, 0);
    assert.deepEqual(no.out, [`rejected ${id2} (rollback-deployment on rollback-deployment) as bob: nothing will run`]);
    const noAgain = await cli(['reject', id2, '--by', 'bob'], { env });
    assert.equal(noAgain.code, 1);
    assert.equal(target.calls('/undo/checkout', 'POST'), 1);
    const none = await cli(['approvals'], { env });
    assert.deepEqual(none.out, ['no pending approval requests']);
    // Statuses read regardless of case, as --event does.
    const upper = await cli(['approvals', '--status', 'Pending'], { env });
    assert.deepEqual([upper.code, upper.out], [0, ['no pending approval requests']]);
  });

  it('approve, two-person: the first vote exits 5 saying the request waits for another approver; the second runs it', async () => {
    target.reset();
    const asked = await cli(['run', 'drop-replica', '--param', 'deployment=db', '--by', 'carol', '--json'], { env });
    assert.equal(asked.code, 5);
    const id = asked.json().result.approval_id as string;
    const first = await cli(['approve', id, '--by', 'alice'], { env });
    assert.deepEqual([first.code, first.out, first.err], [5, [`approved ${id} (drop-replica on drop-replica) as alice: vote 1 of 2, still pending until another approver approves`], []]);
    // A runbook with no rollback says so; the votes cast of those needed are counted.
    const listed = await cli(['approvals'], { env });
    assert.match(listed.out[1]!, new RegExp(`^${id}\\s+drop-replica\\s+drop-replica\\s+pending\\s+1/2\\s.*\\s+POST ${target.url}/drop/db\\s+none$`));
    assert.equal(target.calls('/drop/db', 'POST'), 0);
    const second = await cli(['approve', id, '--by', 'bob', '--json'], { env });
    assert.equal(second.code, 0, second.err.join('\n'));
    assert.deepEqual([second.json().status, second.json().result.action, second.json().execution.state], ['approved', 'executed', 'succeeded']);
    assert.equal(target.calls('/drop/db', 'POST'), 1);
  });

  it('run --no-wait and approve --no-wait: exit 5, the run started and its outcome not known yet (0 said it succeeded)', async () => {
    target.reset();
    const r = await cli(['run', 'restart-api', '--param', 'pod_name=api-1', '--service', 'api-nw', '--by', 'carol', '--no-wait'], { env });
    assert.equal(r.code, 5, r.err.join('\n'));
    assert.match(r.out[0]!, /^restart-api: executing \(manual run\), execution exe_\w+, incident man_\w+$/);
    const j = await cli(['run', 'restart-api', '--param', 'pod_name=api-1', '--service', 'api-nw', '--by', 'carol', '--no-wait', '--json'], { env });
    assert.deepEqual([j.code, j.json().result.action, j.json().execution], [5, 'executed', null]);
    const asked = await cli(['run', 'rollback-deployment', '--param', 'deployment=checkout', '--by', 'carol', '--json'], { env });
    const id = asked.json().result.approval_id as string;
    const a = await cli(['approve', id, '--by', 'alice', '--no-wait'], { env });
    assert.equal(a.code, 5, a.err.join('\n'));
    assert.deepEqual(a.out.slice(0, 1), [`approved ${id} (rollback-deployment on rollback-deployment) as alice`]);
    assert.match(a.out[1]!, /^rollback-deployment: executing \(approved.*\), execution exe_\w+, incident \S+$/);
    await until(() => target.calls('/restart/api-1', 'POST') === 2 && target.calls('/undo/checkout', 'POST') === 1, 'the runs started');
  });

  it('pause and resume: the kill switch, audited with --by and --reason', async () => {
    const p = await cli(['pause', '--by', 'ops', '--reason', 'maintenance', '--json'], { env });
    assert.equal(p.code, 0);
    assert.deepEqual(p.json(), { paused: true, changed: true });
    // The runbooks list says who paused everything, since when and why, before the table.
    const state = (await svc.get('/api/v1/runbooks')).body.paused;
    const p2 = await cli(['pause', '--by', 'ops'], { env });
    assert.deepEqual([p2.code, p2.out], [0, [`already paused by ops since ${state.since.replace(/\.\d{3}Z$/, 'Z')}: maintenance; nothing changed`]]);
    assert.deepEqual({ ...state, since: typeof state.since }, { by: 'ops', reason: 'maintenance', since: 'string' });
    const listed = await cli(['runbooks'], { env });
    assert.deepEqual([listed.code, listed.out[0], listed.out[1]!.split(/\s+/)[0]], [0, `all automatic runs paused by ops since ${state.since.replace(/\.\d{3}Z$/, 'Z')}: maintenance`, 'RUNBOOK']);
    const d = await svc.post('/api/v1/incidents', { id: 'INC-P1', root_cause: 'CrashLoopBackOff', service: 'api', context: { pod_name: 'api-1' } });
    assert.equal(d.body.event, 'PAUSED');
    const r = await cli(['resume', '--by', 'ops'], { env });
    assert.deepEqual(
      [r.code, r.out],
      [0, ['resumed: automatic execution is allowed again', '1 alert was held off while paused (restart-api: 1): they are not decided again (a re-delivery is a duplicate); act by hand on those still firing']],
    );
    const audit = await cli(['audit', '--event', 'service_paused', '--json'], { env });
    assert.equal(audit.code, 0);
    const rows = audit.json().events;
    assert.equal(rows.length, 1);
    assert.equal(rows[0].actor, 'ops');
    assert.deepEqual(rows[0].details, { reason: 'maintenance' });
    assert.equal((await svc.get('/api/v1/runbooks')).body.paused, null);
    assert.match((await cli(['runbooks'], { env })).out[0]!, /^RUNBOOK\s+RISK\s+MODE\s+PAUSED\s/);
    // Paused with no reason: who and since when only.
    await cli(['pause', '--by', 'ops'], { env });
    const bare = (await svc.get('/api/v1/runbooks')).body.paused;
    assert.deepEqual((await cli(['runbooks'], { env })).out[0], `all automatic runs paused by ops since ${bare.since.replace(/\.\d{3}Z$/, 'Z')}`);
    await cli(['resume', '--by', 'ops'], { env });
    // Who acted is shown whole in the table: it was cut at 11 characters (alice.smith…).
    await cli(['pause', '--by', 'alice.smithers-oncall', '--reason', 'again'], { env });
    await cli(['resume', '--by', 'ops'], { env });
    const t = await cli(['audit', '--event', 'service_paused', '--limit', '1'], { env });
    assert.match(t.out[1]!, /^\d+\s+\S+Z\s+SERVICE_PAUSED\s+-\s+-\s+alice\.smithers-oncall again$/);
  });

  it('pause --runbook: that runbook alone stops, the decision says who and why; resume --runbook lets it run; an unknown runbook exits 1', async () => {
    const p = await cli(['pause', '--runbook', 'restart-api', '--by', 'ops', '--reason', 'flapping', '--json'], { env });
    assert.equal(p.code, 0);
    const answer = p.json();
    assert.deepEqual({ ...answer, pause: { ...answer.pause, since: typeof answer.pause.since } }, { runbook: 'restart-api', paused: true, changed: true, pause: { by: 'ops', reason: 'flapping', since: 'string' } });
    const again = await cli(['pause', '--runbook', 'restart-api', '--by', 'ops'], { env });
    assert.deepEqual([again.code, again.out], [0, [`restart-api was already paused by ops since ${answer.pause.since.replace(/\.\d{3}Z$/, 'Z')}: flapping; nothing changed`]]);
    const d = await svc.post('/api/v1/incidents', { id: 'INC-RP1', root_cause: 'CrashLoopBackOff', service: 'api-rp', context: { pod_name: 'api-1' } });
    assert.deepEqual([d.body.action, d.body.event, d.body.reason], ['blocked', 'PAUSED', 'runbook restart-api is paused by ops (flapping): it does not run automatically (POST /api/v1/runbooks/restart-api/resume)']);
    assert.deepEqual((await svc.get('/api/v1/runbooks/restart-api')).body.paused, { by: 'ops', reason: 'flapping', since: answer.pause.since });
    assert.equal((await svc.get('/api/v1/runbooks/rollback-deployment')).body.paused, null, 'the other runbooks go on');
    // The CLI shows it: a PAUSED column, and who, since when and why in the detail view.
    const table = (await cli(['runbooks'], { env })).out;
    assert.ok(table.some((l) => /^restart-api\s+LOW\s+auto\s+YES\s+yes\s+closed\s/.test(l)), table.join('\n'));
    assert.ok(table.some((l) => /^rollback-deployment\s+HIGH\s+auto\s+no\s+yes\s/.test(l)), table.join('\n'));
    const detail = (await cli(['runbooks', 'restart-api'], { env })).out;
    assert.deepEqual(detail.filter((l) => l.startsWith('paused')), [`paused        by ops since ${answer.pause.since.replace(/\.\d{3}Z$/, 'Z')}: flapping`]);
    assert.deepEqual((await cli(['runbooks', 'rollback-deployment'], { env })).out.filter((l) => l.startsWith('paused')), ['paused        no']);
    const r = await cli(['resume', '--runbook', 'restart-api', '--by', 'ops'], { env });
    assert.deepEqual(
      [r.code, r.out],
      [0, ['resumed restart-api: it runs automatically again', '1 alert was held off while paused (restart-api: 1): they are not decided again (a re-delivery is a duplicate); act by hand on those still firing']],
    );
    const d2 = await svc.post('/api/v1/incidents?wait=true', { id: 'INC-RP2', root_cause: 'CrashLoopBackOff', service: 'api-rp2', context: { pod_name: 'api-1' } });
    assert.equal(d2.body.action, 'executed');
    const events = (await svc.get('/api/v1/audit?runbook=restart-api&limit=1000')).body.events.filter((e: any) => e.event.startsWith('RUNBOOK_'));
    assert.deepEqual(events.map((e: any) => [e.event, e.actor, e.details.reason]), [['RUNBOOK_RESUMED', 'ops', null], ['RUNBOOK_PAUSED', 'ops', 'flapping']]);
    const missing = await cli(['pause', '--runbook', 'nope', '--by', 'ops'], { env });
    assert.equal(missing.code, 1);
    assert.match(missing.err.join('\n'), /no runbook "nope" is loaded/);
  });

  it('audit: --json is the API page; the table lists the newest rows oldest first', async () => {
    const j = await cli(['audit', '--runbook', 'restart-api', '--limit', '3', '--json'], { env });
    assert.equal(j.code, 0);
    assert.deepEqual(j.json(), (await svc.get('/api/v1/audit?runbook=restart-api&limit=3')).body);
    const t = await cli(['audit', '--runbook', 'restart-api', '--limit', '3'], { env });
    assert.equal(t.code, 0);
    assert.match(t.out[0]!, /^SEQ\s+AT\s+EVENT\s+RUNBOOK\s+INCIDENT\/EXECUTION\s+ACTOR\s+DETAIL$/);
    const seqs = t.out.slice(1, 4).map((l) => Number(l.split(/\s+/)[0]));
    assert.deepEqual(seqs, j.json().events.map((e: { seq: number }) => e.seq).reverse());
    assert.equal(t.out[4], `(older rows: add --cursor ${j.json().next_cursor})`);
    const bad = await cli(['audit', '--event', 'EXECUTNG'], { env });
    assert.equal(bad.code, 2);
    assert.deepEqual(bad.err, ['--event: unknown audit event "EXECUTNG" (did you mean "EXECUTING"?)']);
  });

  it('audit --follow prints rows written after it started, oldest first, until interrupted (exit 0)', async () => {
    const stop = new AbortController();
    const out: string[] = [];
    const running = cli(['audit', '--follow', '--runbook', 'restart-api', '--limit', '1', '--interval', '20ms', '--json'], { env, signal: stop.signal, out });
    await until(() => out.length === 1, 'the first row');
    const first = JSON.parse(out[0]!) as { seq: number };
    const d = await svc.post('/api/v1/incidents?wait=true', { id: 'INC-F1', root_cause: 'CrashLoopBackOff', service: 'api-f', context: { pod_name: 'api-1' } });
    assert.equal(d.body.action, 'executed');
    await until(() => out.slice(1).some((l) => l.includes('"SUCCESS"')), 'the SUCCESS row');
    stop.abort();
    const r = await running;
    assert.equal(r.code, 0);
    const rows = out.map((l) => JSON.parse(l) as { seq: number; event: string; incident_id: string });
    const later = rows.slice(1);
    assert.deepEqual(
      later.map((e) => e.event),
      ['EXECUTING', 'STEP_STARTED', 'STEP_FINISHED', 'SUCCESS'],
    );
    assert.ok(later.every((e, i) => e.seq > (i === 0 ? first.seq : later[i - 1]!.seq)));
  });

  it('exit 3 when nothing answers, with the address and the cause', async () => {
    const server = `http://127.0.0.1:${await freePort()}`;
    const r = await cli(['approvals', '--json'], { env: { RECTIFY_SERVER: server } });
    assert.equal(r.code, 3);
    assert.deepEqual(r.err, [`rectify: cannot reach rectify at ${server}: ECONNREFUSED (is it running? set --server or RECTIFY_SERVER)`]);
    assert.equal(r.json().error.code, 'UNREACHABLE');
    const flag = await cli(['pause', '--server', server], { env });
    assert.equal(flag.code, 3);
  });

  it('usage mistakes exit 2 and change nothing', async () => {
    const cases: Array<[string[], string]> = [
      [['approve'], 'rectify approve: missing <id> (see: rectify approve --help)'],
      [['reject', 'a', 'b'], 'rectify reject: unexpected argument "b" (see: rectify reject --help)'],
      [['run'], 'rectify run: missing <runbook> (see: rectify run --help)'],
      [['run', 'restart-api', '--param', 'pod_name'], '--param: expected key=value with a key of letters, digits and _ . -, got "pod_name"'],
      [['run', 'restart-api', '--param', 'a=1', '--param', 'a=2'], '--param: a is given twice; give each parameter once'],
      [['run', 'restart-api', '--param', '__proto__=x'], '--param: "__proto__" cannot be a parameter name (no placeholder can have it); give the value under the name the runbook\'s placeholder has'],
      [['run', 'restart-api', '--wait-timeout', 'soon'], '--wait-timeout: expected a duration such as 30s or 10m, got "soon"'],
      [['approve', 'apr_1', '--wait-timeout', '10 minutes'], '--wait-timeout: expected a duration such as 30s or 10m, got "10 minutes"'],
      [['approvals', '--status', 'waiting'], '--status: expected one of pending, approved, rejected, expired, cancelled, all; got "waiting"'],
      [['approvals', '--status', 'pendng'], '--status: expected one of pending, approved, rejected, expired, cancelled, all; got "pendng" (did you mean "pending"?)'],
      [['audit', '--since', 'yesterday'], '--since: expected an RFC 3339 time (2026-11-24T03:00:00Z) or a duration back from now (1h, 30m), got "yesterday"'],
      // A day that does not exist is refused, not read as March 3rd.
      [['audit', '--since', '2026-02-31T12:00:00Z'], '--since: 2026-02-31 does not exist: February 2026 has 28 days'],
      [['audit', '--since', '2026-04-30T24:00:00Z'], '--since: 24:00:00 is not a time of day (00:00:00 to 23:59:59): write 00:00:00 of the next day'],
      // A time before the first date JavaScript can hold: refused, not a RangeError's stack trace.
      // A unit twice or out of order is a slip, not a sum.
      [['run', 'restart-api', '--wait-timeout', '1m1m'], '--wait-timeout: expected a duration such as 30s or 10m, got "1m1m" (each unit at most once, largest first; this adds up to 2m)'],
      [['audit', '--since', '30m1h'], '--since: expected an RFC 3339 time (2026-11-24T03:00:00Z) or a duration back from now (1h, 30m), got "30m1h" (each unit at most once, largest first; this adds up to 1h30m)'],
      [['audit', '--interval', '1s1s'], '--interval: expected a positive duration such as 2s, got "1s1s" (each unit at most once, largest first; this adds up to 2s)'],
      [['audit', '--since', '999999999d'], '--since: expected a duration back from now of at most 3650d (ten years), got "999999999d"'],
    ];
    for (const [argv, message] of cases) {
      const r = await cli(argv, { env });
      assert.equal(r.code, 2, argv.join(' '));
      assert.equal(r.err[0], message);
    }
    const badServer = await cli(['approvals', '--server', 'ftp://x'], { env });
    assert.equal(badServer.code, 2);
    assert.deepEqual(badServer.err, ['--server: expected an http:// or https:// URL, got "ftp://x"', 'see: rectify approvals --help']);
    const badEnv = await cli(['approvals'], { env: { RECTIFY_SERVER: 'nope' } });
    assert.equal(badEnv.err[0], 'RECTIFY_SERVER: expected an http:// or https:// URL, got a value that is not scheme://host (not shown: it may hold a secret)');
    const secretPath = await cli(['approvals', '--server', 'ftp://rectify.example/secret-token-123'], { env });
    assert.deepEqual(secretPath.err, ['--server: expected an http:// or https:// URL, got "ftp://rectify.example" (the rest is left out: it may hold a secret)', 'see: rectify approvals --help']);
    // Credentials in the address would not be sent, and must not be printed back.
    const creds = await cli(['runbooks'], { env: { RECTIFY_SERVER: `http://ops:SECRETPW@${new URL(env.RECTIFY_SERVER!).host}` } });
    assert.equal(creds.code, 2);
    assert.equal(creds.err[0], `RECTIFY_SERVER: expected a URL without user:password@ (credentials in the URL are not sent: give the token with --token or RECTIFY_TOKEN), got "http://${new URL(env.RECTIFY_SERVER!).host}" (the rest is left out: it may hold a secret)`);
    assert.equal([...creds.err, ...creds.out].join('\n').includes('SECRETPW'), false);
    // A query or fragment: every request's path went after it, so each went to / (a pause
    // answered by whatever serves /). Refused, naming where it came from; nothing is sent.
    const host = new URL(env.RECTIFY_SERVER!).host;
    const pausesBefore = (await svc.get('/api/v1/audit?event=SERVICE_PAUSED&limit=1000')).body.events.length;
    const hidden = `"http://${host}" (the rest is left out: it may hold a secret)`;
    for (const [argv, env2, from, got] of [
      [['pause', '--by', 'ops', '--server', `http://${host}/?token=SECRETQ`], {}, '--server', hidden],
      [['pause', '--by', 'ops', '--server', `http://${host}?`], {}, '--server', `"http://${host}?"`],
      [['pause', '--by', 'ops'], { RECTIFY_SERVER: `http://${host}/#SECRETQ` }, 'RECTIFY_SERVER', hidden],
    ] as Array<[string[], Record<string, string>, string, string]>) {
      const r = await cli(argv, { env: { ...env, ...env2 } });
      const message = `${from}: expected the service's address without a query (?…) or fragment (#…) (each request's path is added to it, so every request would go to its path, /); got ${got}`;
      assert.deepEqual([r.code, r.err[0]], [2, message], argv.join(' '));
      assert.equal([...r.err, ...r.out].join('\n').includes('SECRETQ'), false);
    }
    assert.equal((await svc.get('/api/v1/audit?event=SERVICE_PAUSED&limit=1000')).body.events.length, pausesBefore, 'nothing was paused');
    // "." and ".." name nothing: the URL would collapse them (pause --runbook .. was POST /api/v1/pause, the global switch).
    const switches = async () => (await svc.get('/api/v1/audit?limit=1000')).body.events.filter((e: { event: string }) => e.event.startsWith('SERVICE_')).length;
    const switchesBefore = await switches();
    for (const argv of [['pause', '--runbook', '..'], ['resume', '--runbook', '.'], ['approve', '..'], ['runbooks', '..']]) {
      const r = await cli(argv, { env });
      assert.deepEqual([r.code, r.err], [2, [`rectify: ${JSON.stringify(argv[argv.length - 1])} is not an id`]], argv.join(' '));
    }
    assert.equal(await switches(), switchesBefore, 'the global switch was not touched');
    const unknownFlag = await cli(['pause', '--reasn', 'x'], { env });
    assert.equal(unknownFlag.code, 2);
    assert.equal(unknownFlag.err[0], '--reasn: unknown flag (did you mean "--reason"?)');
    assert.equal((await svc.get('/api/v1/approvals?status=pending')).body.approvals.length, 0);
  });

  it('usage mistakes under --json: stdout is the error as JSON (it was empty), stderr the sentence, exit 2', async () => {
    const cases: Array<[string[], string]> = [
      [['approvals', '--status', 'waiting', '--json'], '--status: expected one of pending, approved, rejected, expired, cancelled, all; got "waiting"'],
      [['approve', '--json'], 'rectify approve: missing <id> (see: rectify approve --help)'],
      [['pause', '--reasn', 'x', '--json'], '--reasn: unknown flag (did you mean "--reason"?)'],
      [['audit', '--json=true', '--limit', '0'], '--limit: expected an integer from 1 to 1000, got "0"'],
      [['run', 'restart-api', '--param', 'pod_name', '--json'], '--param: expected key=value with a key of letters, digits and _ . -, got "pod_name"'],
    ];
    for (const [argv, message] of cases) {
      const r = await cli(argv, { env });
      assert.equal(r.code, 2, argv.join(' '));
      assert.equal(r.err[0], message);
      assert.deepEqual(r.json(), { error: { code: 'VALIDATION_FAILED', message, details: [] } }, argv.join(' '));
    }
    // Without --json, stdout stays empty.
    const plain = await cli(['approvals', '--status', 'waiting'], { env });
    assert.deepEqual([plain.code, plain.out], [2, []]);
  });

  it('--help of every client command names the usage and the exit codes (replay, which talks to no service, has its own: test/cli/replay.test.ts)', async () => {
    for (const name of ['run', 'approvals', 'approve', 'reject', 'audit', 'pause', 'resume', 'runbooks']) {
      const r = await cli([name, '--help']);
      assert.equal(r.code, 0, name);
      assert.ok(r.out[0]!.startsWith(`usage: rectify ${name}`), `${name}: ${r.out[0]}`);
      assert.ok(r.out.includes('Exit codes:'), name);
      assert.ok(r.out.some((l) => l.startsWith('  4  ')), name);
    }
  });
});

describe('rectify runbooks: the last hour against a per-service limit', () => {
  it('shows the busiest service against max_per_hour, and the total apart (it showed 6/2 for 2 a service)', async () => {
    const target = await startHttpTarget();
    target.route('POST', '/restart/api-1', { status: 200 });
    const svc = await startTestService({
      runbooks: `runbooks:
  restart-api:
    risk: LOW
    triggers: [CrashLoopBackOff]
    max_per_hour: 2
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/restart/{pod_name}"}
`,
      args: ['--listen', '127.0.0.1:0'],
    });
    try {
      const env = { RECTIFY_SERVER: await svc.service.listen() };
      const row = async () => (await cli(['runbooks'], { env })).out.find((l) => l.startsWith('restart-api'))!;
      assert.match(await row(), /\s0\/2\s/);
      // Two for each of three services: each service at its limit, six in all; a third for one is refused.
      for (const service of ['cart', 'shop', 'web']) {
        for (let i = 0; i < 2; i++) {
          const d = await svc.post('/api/v1/incidents?wait=true', { root_cause: 'CrashLoopBackOff', service, context: { pod_name: 'api-1' } });
          assert.equal(d.body.action, 'executed', JSON.stringify(d.body));
        }
      }
      assert.equal((await svc.post('/api/v1/incidents', { root_cause: 'CrashLoopBackOff', service: 'web', context: { pod_name: 'api-1' } })).body.event, 'RATE_LIMITED');
      const api = (await svc.get('/api/v1/runbooks/restart-api')).body;
      assert.deepEqual([api.executions_last_hour, api.max_per_hour, api.busiest_service_last_hour], [6, 2, { service: 'cart', executions: 2 }]);
      assert.match(await row(), /^restart-api\s+LOW\s+auto\s+no\s+yes\s+closed\s+2\/2, 6 in all\s+-\s+-\s+100% of 6$/);
      const one = await cli(['runbooks', 'restart-api'], { env });
      assert.ok(one.out.includes('last hour     2 of 2 for cart (the busiest service; the limit is per service); 6 in all'), one.out.join('\n'));
    } finally {
      await svc.stop({ remove: true });
      await target.close();
    }
  });
});

describe('client commands: what the service answers with an error', () => {
  let fake: HttpTarget;
  before(async () => {
    fake = await startHttpTarget();
  });
  after(async () => fake.close());

  it('401 and 403 exit 4 with what to do; the token goes as a bearer token', async () => {
    fake.route('GET', '/api/v1/approvals', (req) =>
      req.headers.authorization === undefined
        ? { status: 401, body: { error: { code: 'UNAUTHORIZED', message: 'a bearer token is required', details: [] } } }
        : { status: 403, body: { error: { code: 'FORBIDDEN', message: 'token "viewer" may only read', details: [] } } },
    );
    const env = { RECTIFY_SERVER: fake.url };
    const none = await cli(['approvals'], { env });
    assert.equal(none.code, 4);
    assert.deepEqual(none.err, [`rectify: rectify at ${fake.url} refused the request: it needs an API token (set --token or RECTIFY_TOKEN) [a bearer token is required]`]);

    fake.reset();
    const denied = await cli(['approvals', '--json'], { env: { ...env, RECTIFY_TOKEN: 's3cret-token' } });
    assert.equal(denied.code, 4);
    assert.deepEqual(denied.err, ['rectify: the token is not allowed to GET /api/v1/approvals: token "viewer" may only read']);
    assert.deepEqual(denied.json(), { error: { code: 'FORBIDDEN', message: 'token "viewer" may only read', details: [] } });
    assert.equal(fake.requests('/api/v1/approvals')[0]!.headers.authorization, 'Bearer s3cret-token');
    // The flag wins over the variable, and the token is never printed.
    fake.reset();
    const flag = await cli(['approvals', '--token', 'flag-tok-7q'], { env: { ...env, RECTIFY_TOKEN: 's3cret-token' } });
    assert.equal(fake.requests('/api/v1/approvals')[0]!.headers.authorization, 'Bearer flag-tok-7q');
    assert.ok(![...flag.out, ...flag.err, ...denied.err].some((l) => l.includes('s3cret') || l.includes('flag-tok-7q')));
  });

  it('a 503 exits 3 (try again later) with the Retry-After; a 400 exits 2 with its fields', async () => {
    fake.route('POST', '/api/v1/pause', { status: 503, headers: { 'retry-after': '5' }, body: { error: { code: 'STORE_UNAVAILABLE', message: 'the database is locked', details: [] } } });
    const r = await cli(['pause'], { env: { RECTIFY_SERVER: fake.url } });
    assert.equal(r.code, 3);
    assert.deepEqual(r.err, [`rectify: rectify at ${fake.url} could not answer (503 STORE_UNAVAILABLE): the database is locked; retry after 5s`]);
    fake.route('POST', '/api/v1/resume', { status: 400, body: { error: { code: 'VALIDATION_FAILED', message: 'invalid body', details: [{ path: 'body.by', message: 'too long' }] } } });
    const u = await cli(['resume'], { env: { RECTIFY_SERVER: fake.url } });
    assert.equal(u.code, 2);
    assert.deepEqual(u.err, ['rectify: VALIDATION_FAILED: invalid body', '  body.by: too long']);
    // A detail the message already holds is not said again (the service's 400s name their fields in the message).
    const said = 'invalid query: query.cursor: expected the next_cursor of a previous page';
    fake.route('GET', '/api/v1/approvals', { status: 400, body: { error: { code: 'VALIDATION_FAILED', message: said, details: [{ path: 'query.cursor', message: 'expected the next_cursor of a previous page' }, { path: 'query.limit', message: 'too big' }] } } });
    const c = await cli(['approvals', '--cursor', 'abc'], { env: { RECTIFY_SERVER: fake.url } });
    assert.deepEqual([c.code, c.err], [2, [`rectify: VALIDATION_FAILED: ${said}`, '  query.limit: too big']]);
  });

  it('what the service stored from outside cannot forge a row: every cell is on one line', async () => {
    // Rows recorded before the API refused control characters in `by`, or from a service
    // that does not: a newline in decided_by or in a service made a row of its own.
    const forged = 'a\u0000\nb4d  demo  shop  approved  2026-11-24T03:00:00Z  mallory';
    const approval = (id: string, over: Record<string, unknown>) => ({
      id, incident_id: 'INC-1', runbook: 'restart-api', service: 'shop', status: 'approved', reason: 'risk HIGH requires approval',
      actions: ['POST http://x/restart'], params: {}, requested_at: '2026-11-24T03:00:00.000Z', requested_by: 'rectify',
      expires_at: '2026-11-24T04:00:00.000Z', decided_at: '2026-11-24T03:01:00.000Z', decided_by: 'alice', comment: null,
      decisions: [], execution_id: null, alerts: 1, alerts_open: 0, ...over,
    });
    fake.route('GET', '/api/v1/approvals', { status: 200, body: { approvals: [approval('apr_1', { decided_by: forged }), approval('apr_2', { service: 'shop\u2028apr_3 \u001b[31mFAKE', status: 'rejected' })] } });
    const r = await cli(['approvals', '--status', 'all'], { env: { RECTIFY_SERVER: fake.url } });
    assert.equal(r.code, 0);
    assert.deepEqual(r.out, [
      'ID     RUNBOOK      SERVICE                    STATUS    VOTES  REQUESTED             EXPIRES/BY                                                        ALERTS  REASON                       ACTIONS                ROLLBACK',
      String.raw`apr_1  restart-api  shop                       approved  -      2026-11-24T03:00:00Z  a\u0000 b4d  demo  shop  approved  2026-11-24T03:00:00Z  mallory  1       risk HIGH requires approval  POST http://x/restart  -`,
      String.raw`apr_2  restart-api  shop apr_3 \u001b[31mFAKE  rejected  -      2026-11-24T03:00:00Z  alice                                                             1       risk HIGH requires approval  POST http://x/restart  -`,
    ]);
    // A long reason is cut, as the other cells are (--json has it whole); two approvers: the votes counted.
    const long = `risk HIGH requires approval; ${'x'.repeat(80)}`;
    fake.route('GET', '/api/v1/approvals', { status: 200, body: { approvals: [approval('apr_6', { status: 'pending', reason: long, approvals_required: 2, votes: [{ by: 'alice', at: '2026-11-24T03:01:00.000Z', comment: null, slack_user_id: null }] })] } });
    const cut = await cli(['approvals'], { env: { RECTIFY_SERVER: fake.url } });
    assert.equal(cut.code, 0);
    assert.match(cut.out[1]!, new RegExp(`^apr_6\\s+restart-api\\s+shop\\s+pending\\s+1/2\\s+\\S+\\s+\\S+\\s+1\\s+${long.slice(0, 59)}…\\s+POST http://x/restart\\s+-$`), cut.out[1]);
    fake.route('POST', '/api/v1/approvals/apr_4/reject', { status: 200, body: approval('apr_4', { status: 'rejected', service: 'shop\nrejected apr_5', decided_by: 'bob\r\u001b[2Kmallory' }) });
    const rejected = await cli(['reject', 'apr_4', '--by', 'bob'], { env: { RECTIFY_SERVER: fake.url } });
    assert.deepEqual(rejected.out, [String.raw`rejected apr_4 (restart-api on shop rejected apr_5) as bob \u001b[2Kmallory: nothing will run`]);
  });

  it('a 404 that is not the API\'s (another service at --server) exits 3 and says so: it read as an unknown id, exit 1', async () => {
    fake.reset();
    const env = { RECTIFY_SERVER: fake.url };
    const r = await cli(['approve', 'apr_1', '--by', 'carol', '--json'], { env });
    const message = `rectify at ${fake.url} answered POST /api/v1/approvals/apr_1/approve with 404 Not Found but no rectify error: is --server a rectify service?`;
    assert.deepEqual([r.code, r.err, r.json()], [3, [`rectify: ${message}`], { error: { code: 'BAD_ANSWER', message, details: [] } }]);
    const a = await cli(['audit', '--limit', '5'], { env });
    assert.deepEqual([a.code, a.err], [3, [`rectify: rectify at ${fake.url} answered GET /api/v1/audit with 404 Not Found but no rectify error: is --server a rectify service?`]]);
    // The API's own 404 is an unknown id, as before.
    fake.route('POST', '/api/v1/approvals/apr_2/approve', { status: 404, body: { error: { code: 'NOT_FOUND', message: 'no approval request "apr_2"', details: [] } } });
    const unknown = await cli(['approve', 'apr_2', '--by', 'carol'], { env });
    assert.deepEqual([unknown.code, unknown.err], [1, ['rectify: NOT_FOUND: no approval request "apr_2"']]);
  });

  it('an answer that is not the API (no JSON) exits 3 and says so', async () => {
    fake.route('GET', '/api/v1/runbooks', { status: 200, body: '<html>hello</html>' });
    const r = await cli(['runbooks'], { env: { RECTIFY_SERVER: fake.url } });
    assert.equal(r.code, 3);
    assert.deepEqual(r.err, [`rectify: rectify at ${fake.url} answered GET /api/v1/runbooks with 200 but no JSON: is --server a rectify service?`]);
  });
});

describe('rectify run of a runbook that acts on {service}', () => {
  it('acts only on a service it is given: without one (a misspelt --param service) it is refused, nothing runs', async () => {
    const target = await startHttpTarget();
    target.route('POST', '/restart/web', { status: 200 });
    const svc = await startTestService({
      runbooks: `runbooks:
  restart-service:
    risk: LOW
    triggers: [ServiceDown]
    max_per_hour: 5
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/restart/{service}"}
`,
      args: ['--listen', '127.0.0.1:0'],
    });
    try {
      const env = { RECTIFY_SERVER: await svc.service.listen() };
      const reason =
        'no value for placeholder {service}: a run of restart-service by hand acts on the service it names, and none was given (give service, or the param service: rectify run --service <name>); nothing was run';
      for (const extra of [[], ['--dry-run']]) {
        const r = await cli(['run', 'restart-service', ...extra, '--by', 'carol'], { env });
        assert.deepEqual([r.code, r.out], [1, [`restart-service: blocked PARAM_REFUSED: ${reason}`]], extra.join(' '));
      }
      // The misspelt param itself is refused, named, before anything is decided.
      const misspelt = await cli(['run', 'restart-service', '--param', 'servce=web', '--by', 'carol'], { env });
      assert.deepEqual([misspelt.code, misspelt.out], [2, []]);
      assert.match(misspelt.err.join('\n'), /body\.params\.servce is not a param runbook restart-service reads \(did you mean "service"\?\): it reads service; nothing was run/);
      assert.equal(target.requests().length, 0, 'nothing was called: not /restart/restart-service either');

      // Named, by --service or by the param, it runs on that service.
      for (const extra of [['--service', 'web'], ['--param', 'service=web']]) {
        const r = await cli(['run', 'restart-service', ...extra, '--by', 'carol', '--json'], { env });
        assert.equal(r.code, 0, r.err.join('\n'));
        assert.equal(r.json().execution.service, 'web');
      }
      assert.equal(target.calls('/restart/web', 'POST'), 2);

      // Both, differing: it would act on the param's service and count its cooldown against the other.
      const auditBefore = svc.service.store.auditHighWater();
      const both = await cli(['run', 'restart-service', '--service', 'db', '--param', 'service=web', '--by', 'carol', '--json'], { env });
      const message = 'service "db" and the param service "web" differ: give the service once (rectify run --service, or --param service=…); nothing was run';
      assert.deepEqual([both.code, both.json()], [2, { error: { code: 'VALIDATION_FAILED', message, details: [{ path: 'body.service', message: 'differs from params.service "web"' }] } }]);
      const api = await svc.post('/api/v1/runbooks/restart-service/run', { by: 'carol', service: 'db', params: { service: 'web' } });
      assert.deepEqual([api.status, api.body.error.message], [400, message]);
      assert.equal(target.calls('/restart/web', 'POST'), 2, 'nothing more ran');
      assert.equal(svc.service.store.auditHighWater(), auditBefore, 'nothing was recorded');
      const same = await cli(['run', 'restart-service', '--service', 'web', '--param', 'service=web', '--by', 'carol'], { env });
      assert.equal(same.code, 0, same.err.join('\n'));

      // A blank service, by either name, would count the limits against a service no one can
      // name (the runbook id stands in only when none is given): refused, naming the field.
      const beforeBlank = svc.service.store.auditHighWater();
      const blank = await cli(['run', 'restart-service', '--param', 'service=  ', '--by', 'carol', '--json'], { env });
      assert.deepEqual([blank.code, blank.json()], [2, { error: { code: 'VALIDATION_FAILED', message: 'body.params.service is blank ("  "): give a service, or none (the runbook id stands in for it); nothing was run', details: [{ path: 'body.params.service', message: 'blank: give a service, or none' }] } }]);
      for (const [body, path, why] of [
        [{ params: { service: '' } }, 'body.params.service', 'blank: give a service, or none'],
        [{ service: ' ' }, 'body.service', 'blank: give the name of the service'],
        [{ service: '' }, 'body.service', 'blank: give the name of the service'],
      ] as const) {
        const r = await svc.post('/api/v1/runbooks/restart-service/run', { by: 'carol', ...body });
        assert.deepEqual([r.status, r.body.error.details], [400, [{ path, message: why }]], JSON.stringify(body));
      }
      assert.equal(svc.service.store.auditHighWater(), beforeBlank, 'nothing was recorded');
    } finally {
      await svc.stop({ remove: true });
      await target.close();
    }
  });
});
