import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
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
  flush-cache:
    risk: LOW
    triggers: [cache_stale]
    max_per_hour: 5
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/flush"}
    rollback:
      http: {method: POST, url: "${base}/unflush"}
  drop-replica:
    risk: HIGH
    triggers: [replica_lag]
    max_per_hour: 5
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/drop/{deployment}"}
  fail-over:
    risk: LOW
    triggers: [node_down]
    max_per_hour: 5
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${base}/fail"}
  warm-cache:
    risk: LOW
    triggers: [cache_cold]
    max_per_hour: 5
    cooldown_minutes: 30
    action:
      http: {method: POST, url: "${base}/warm"}
  warm-slowly:
    risk: LOW
    triggers: [cache_cold_slow]
    max_per_hour: 5
    cooldown_minutes: 30
    action:
      http: {method: POST, url: "${base}/warm-slowly", timeout_seconds: 600}
`;
}

const z = (iso: string) => iso.replace(/\.\d{3}Z$/, 'Z');

/** What an on-call person reads from the CLI: what is still in force after they act. */
describe('on-call: the CLI says what is still in force', () => {
  let target: HttpTarget;
  let svc: TestService;
  let env: Record<string, string>;
  let release: () => void = () => {};
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/restart/api-1', { status: 200 });
    target.route('POST', '/flush', { status: 200 });
    target.route('POST', '/drop/db', { status: 200 });
    target.route('POST', '/fail', { status: 500 });
    target.route('POST', '/warm', { status: 200 });
    svc = await startTestService({ runbooks: runbooks(target.url), args: ['--listen', '127.0.0.1:0', '--circuit-failure-threshold', '1', '--circuit-recovery', '10m'] });
    env = { RECTIFY_SERVER: await svc.service.listen() };
  });
  after(async () => {
    release();
    await svc.stop({ remove: true });
    await target.close();
  });

  it('resume --runbook while paused globally says nothing runs yet; a global resume names the runbooks still paused on their own', async () => {
    assert.equal((await cli(['pause', '--by', 'root', '--reason', 'db migration'], { env })).code, 0);
    assert.equal((await cli(['pause', '--runbook', 'restart-api', '--by', 'ops', '--reason', 'flapping'], { env })).code, 0);
    assert.equal((await cli(['pause', '--runbook', 'flush-cache', '--by', 'ops'], { env })).code, 0);
    const global = (await svc.get('/api/v1/runbooks')).body.paused;
    const r = await cli(['resume', '--runbook', 'flush-cache', '--by', 'ops'], { env });
    assert.deepEqual(
      [r.code, r.out],
      [0, [`resumed flush-cache; but rectify is still paused globally (by root since ${z(global.since)}: db migration): nothing runs automatically until \`rectify resume\``]],
    );
    const j = await cli(['resume', '--runbook', 'flush-cache', '--by', 'ops', '--json'], { env });
    assert.deepEqual(j.json(), { runbook: 'flush-cache', paused: false, changed: false, pause: null, global_pause: global });
    const own = (await svc.get('/api/v1/runbooks/restart-api')).body.paused;
    const g = await cli(['resume', '--by', 'root'], { env });
    assert.deepEqual(
      [g.code, g.out],
      [0, ['resumed: automatic execution is allowed again', `1 runbook stays paused on its own: restart-api (by ops since ${z(own.since)}: flapping); each runs automatically only after \`rectify resume --runbook <id>\``]],
    );
    const back = await cli(['resume', '--runbook', 'restart-api', '--by', 'ops'], { env });
    assert.deepEqual([back.code, back.out], [0, ['resumed restart-api: it runs automatically again']]);
    const none = await cli(['resume', '--by', 'root', '--json'], { env });
    assert.deepEqual(none.json(), { paused: false, changed: false, runbooks_paused: [] });
  });

  it('runbooks <id>: the paused line says the global pause too (it read "no" while nothing ran automatically)', async () => {
    const line = async (id: string) => (await cli(['runbooks', id], { env })).out.filter((l) => l.startsWith('paused'));
    assert.deepEqual(await line('flush-cache'), ['paused        no']);
    await cli(['pause', '--by', 'root', '--reason', 'freeze'], { env });
    await cli(['pause', '--runbook', 'restart-api', '--by', 'ops', '--reason', 'flapping'], { env });
    try {
      const global = (await svc.get('/api/v1/runbooks')).body.paused;
      const own = (await svc.get('/api/v1/runbooks/restart-api')).body.paused;
      assert.deepEqual(await line('flush-cache'), [`paused        yes (all automatic runs paused by root since ${z(global.since)}: freeze)`]);
      assert.deepEqual(await line('restart-api'), [`paused        by ops since ${z(own.since)}: flapping; and all automatic runs paused by root since ${z(global.since)}: freeze`]);
    } finally {
      await cli(['resume', '--by', 'root'], { env });
      await cli(['resume', '--runbook', 'restart-api', '--by', 'ops'], { env });
    }
    assert.deepEqual(await line('flush-cache'), ['paused        no']);
  });

  it('runbooks: a refused reload is the first line, and a runbook not loaded because of it says so', async () => {
    const file = join(svc.runbooksDir, 'db.yaml');
    writeFileSync(file, 'runbooks:\n  scale-db:\n    risk: EXTREME\n    triggers: [DbSlow]\n    action:\n      http: {method: POST, url: "http://127.0.0.1:1/x"}\n');
    try {
      assert.equal((await svc.service.reload()).runbooks?.ok, false);
      const refused = (await svc.get('/api/v1/runbooks')).body.reload_refused;
      assert.deepEqual(refused, (await svc.get('/readyz')).body.runbooks_reload_refused);
      const first = String(refused.problems[0]);
      const n = refused.problems.length;
      const t = await cli(['runbooks'], { env });
      assert.equal(t.code, 0);
      assert.equal(t.out[0], `RELOAD REFUSED at ${z(refused.at)}: ${n} problem${n === 1 ? '' : 's'}; first: ${first}; the runbooks below are the last good set`);
      assert.match(t.out[1]!, /^RUNBOOK\s/);
      const missing = await cli(['runbooks', 'scale-db'], { env });
      assert.deepEqual(missing.err, [
        `rectify: NOT_FOUND: no runbook "scale-db" is loaded; but the last reload of the runbooks folder was refused (at ${z(refused.at)}: ${n} problem${n === 1 ? '' : 's'}; first: ${first}): the runbooks loaded are the last good set, so a runbook added or renamed since is not`,
      ]);
      assert.equal(missing.code, 1);
    } finally {
      rmSync(file);
    }
    assert.equal((await svc.service.reload()).runbooks?.ok, true);
    assert.equal((await svc.get('/api/v1/runbooks')).body.reload_refused, null);
    assert.match((await cli(['runbooks'], { env })).out[0]!, /^RUNBOOK\s/);
    assert.deepEqual((await cli(['runbooks', 'scale-db'], { env })).err, ['rectify: NOT_FOUND: no runbook "scale-db" is loaded']);
  });

  it('run and approve while paused go ahead, and say so in a note line', async () => {
    await cli(['pause', '--by', 'root', '--reason', 'freeze'], { env });
    await cli(['pause', '--runbook', 'restart-api', '--by', 'ops', '--reason', 'flapping'], { env });
    const page = (await svc.get('/api/v1/runbooks')).body;
    const global = page.paused;
    const own = page.runbooks.find((r: any) => r.id === 'restart-api').paused;
    try {
      const r = await cli(['run', 'restart-api', '--param', 'pod_name=api-1', '--by', 'carol'], { env });
      assert.equal(r.code, 0, r.err.join('\n'));
      assert.deepEqual(r.out.slice(-2), [
        `note: rectify is paused (by root since ${z(global.since)}: freeze); this manual run went ahead, as approvals and manual runs do`,
        `note: restart-api is paused (by ops since ${z(own.since)}: flapping); this manual run went ahead, as approvals and manual runs do`,
      ]);
      // --json is the API's answer, with no note.
      const j = await cli(['run', 'restart-api', '--param', 'pod_name=api-1', '--by', 'carol', '--json'], { env });
      assert.equal(j.json().result.action, 'executed');
      const asked = await cli(['run', 'drop-replica', '--param', 'deployment=db', '--by', 'carol', '--json'], { env });
      assert.equal(asked.code, 5);
      const a = await cli(['approve', asked.json().result.approval_id, '--by', 'alice'], { env });
      assert.equal(a.code, 0, a.err.join('\n'));
      assert.equal(a.out.at(-1), `note: rectify is paused (by root since ${z(global.since)}: freeze); this approved run went ahead, as approvals and manual runs do`);
      assert.equal(a.out.filter((l) => l.startsWith('note:')).length, 1);
    } finally {
      await cli(['resume', '--by', 'root'], { env });
      await cli(['resume', '--runbook', 'restart-api', '--by', 'ops'], { env });
    }
    // Not paused: no note.
    const r = await cli(['run', 'restart-api', '--param', 'pod_name=api-1', '--by', 'carol'], { env });
    assert.equal(r.code, 0);
    assert.deepEqual(r.out.filter((l) => l.startsWith('note:')), []);
  });

  it('run blocked by the circuit or a cooldown says which command ends it', async () => {
    const failed = await cli(['run', 'fail-over', '--by', 'carol'], { env });
    assert.equal(failed.code, 1);
    const open = await cli(['run', 'fail-over', '--by', 'carol'], { env });
    assert.equal(open.code, 1);
    assert.match(open.out[0]!, /^fail-over: blocked CIRCUIT_OPEN: Circuit OPEN/);
    assert.deepEqual(open.out.slice(1), ['  once the cause of the failures is fixed, close the circuit by hand, then run again: rectify circuit close fail-over --reason <why>']);
    assert.equal((await cli(['run', 'warm-cache', '--service', 'shop web', '--by', 'carol'], { env })).code, 0);
    const cool = await cli(['run', 'warm-cache', '--service', 'shop web', '--by', 'carol'], { env });
    assert.equal(cool.code, 1);
    assert.match(cool.out[0]!, /^warm-cache: blocked RATE_LIMITED: Cooldown active \(/);
    assert.deepEqual(cool.out.slice(1), ["  to run it before the cooldown ends, end it by hand, then run again: rectify cooldown clear warm-cache --service 'shop web' --reason <why>"]);
    // The hint's command works as written.
    assert.equal((await cli(['cooldown', 'clear', 'warm-cache', '--service', 'shop web', '--reason', 'test'], { env })).code, 0);
    assert.equal((await cli(['run', 'warm-cache', '--service', 'shop web', '--by', 'carol'], { env })).code, 0);
    // --json is the API's answer alone.
    const j = await cli(['run', 'fail-over', '--by', 'carol', '--json'], { env });
    assert.equal(j.json().result.event, 'CIRCUIT_OPEN');
  });

  it('run blocked by a cooldown a run under way holds names that run, not cooldown clear (which does not end its hold)', async () => {
    // The action is held until the test lets it go: the run is under way meanwhile.
    target.route('POST', '/warm-slowly', () => new Promise((resolve) => (release = () => resolve({ status: 200 }))));
    const started = await cli(['run', 'warm-slowly', '--service', 'shop', '--by', 'carol', '--no-wait'], { env });
    const id = /execution (exe_\w+)/.exec(started.out[0] ?? '')?.[1];
    assert.ok(id, started.out.join('\n'));
    try {
      // The timed cooldown is in force too, so the reason says nothing of the run.
      const cool = await cli(['run', 'warm-slowly', '--service', 'shop', '--by', 'carol'], { env });
      assert.equal(cool.code, 1);
      assert.match(cool.out[0]!, /^warm-slowly: blocked RATE_LIMITED: Cooldown active \(\d+s remaining\)/);
      assert.deepEqual(cool.out.slice(1), [
        `  execution ${id}, still running on shop, holds this cooldown until it ends, whatever rectify cooldown clear does; follow it: rectify audit --execution-id ${id} --follow`,
      ]);
    } finally {
      release();
    }
    for (let i = 0; i < 400 && svc.service.store.read((tx) => tx.getExecution(id))?.state === 'running'; i++) await new Promise((r) => setTimeout(r, 25));
    // The run over, the timed cooldown alone holds: cooldown clear ends it.
    const after = await cli(['run', 'warm-slowly', '--service', 'shop', '--by', 'carol'], { env });
    assert.deepEqual(after.out.slice(1), ['  to run it before the cooldown ends, end it by hand, then run again: rectify cooldown clear warm-slowly --service shop --reason <why>']);
  });

  it('a second pause names the pause in force, and says its own reason was not recorded', async () => {
    assert.equal((await cli(['pause', '--by', 'root', '--reason', 'db migration'], { env })).code, 0);
    const global = (await svc.get('/api/v1/runbooks')).body.paused;
    try {
      const again = await cli(['pause', '--by', 'bob', '--reason', 'deploy freeze'], { env });
      assert.deepEqual(
        [again.code, again.out],
        [0, [`already paused by root since ${z(global.since)}: db migration; nothing changed (the reason given now, "deploy freeze", was not recorded)`]],
      );
      assert.deepEqual((await svc.get('/api/v1/runbooks')).body.paused, global);
      await cli(['pause', '--runbook', 'flush-cache', '--by', 'ops'], { env });
      const own = (await svc.get('/api/v1/runbooks/flush-cache')).body.paused;
      const rb = await cli(['pause', '--runbook', 'flush-cache', '--by', 'bob', '--reason', 'noisy'], { env });
      assert.deepEqual(rb.out, [`flush-cache was already paused by ops since ${z(own.since)}; nothing changed (the reason given now, "noisy", was not recorded)`]);
    } finally {
      await cli(['resume', '--by', 'root'], { env });
      await cli(['resume', '--runbook', 'flush-cache', '--by', 'ops'], { env });
    }
  });

  it('run --dry-run shows the plan and its rollback, and says "dry run" once', async () => {
    target.reset();
    const r = await cli(['run', 'flush-cache', '--dry-run', '--by', 'carol'], { env });
    assert.equal(r.code, 0, r.err.join('\n'));
    const id = (await svc.get('/api/v1/audit?event=DRY_RUN&limit=1')).body.events[0].incident_id;
    assert.deepEqual(r.out, [`flush-cache: dry run recorded, nothing executed; incident ${id}`, `  would run: POST ${target.url}/flush`, `  rollback:  POST ${target.url}/unflush`]);
    const high = await cli(['run', 'restart-api', '--param', 'pod_name=api-1', '--dry-run', '--by', 'carol'], { env });
    assert.deepEqual(high.out.slice(1), [`  would run: POST ${target.url}/restart/api-1`, '  rollback:  none']);
    assert.match(high.out[0]!, /^restart-api: dry run recorded, nothing executed; incident \S+$/);
    assert.equal(target.calls('/flush', 'POST') + target.calls('/restart/api-1', 'POST'), 0);
  });

  it('runbooks: an open circuit says when its trial is allowed, then that the next alert is a trial', async () => {
    // Opened by the run-blocked test above (one failure opens it here, --circuit-recovery 10m).
    const c = (await svc.get('/api/v1/runbooks/fail-over')).body.circuit;
    assert.equal(c.state, 'open');
    const from = new Date(Date.parse(c.opened_at) + 10 * 60_000).toISOString();
    assert.deepEqual([c.trial_from, c.trial_allowed], [from, false]);
    const detail = (await cli(['runbooks', 'fail-over'], { env })).out.filter((l) => l.startsWith('circuit'));
    assert.deepEqual(detail, [`circuit       OPEN since ${z(c.opened_at)}, trial from ${z(from)}`]);
    const row = (await cli(['runbooks'], { env })).out.find((l) => l.startsWith('fail-over '));
    assert.match(row!, new RegExp(`\\sOPEN, trial from ${z(from)}\\s`));
    svc.clock.advance(10 * 60_000);
    assert.equal((await svc.get('/api/v1/runbooks/fail-over')).body.circuit.trial_allowed, true);
    const due = (await cli(['runbooks', 'fail-over'], { env })).out.filter((l) => l.startsWith('circuit'));
    assert.deepEqual(due, [`circuit       OPEN since ${z(c.opened_at)}, next alert is a trial`]);
    // Closed: neither field.
    assert.equal((await cli(['circuit', 'close', 'fail-over', '--reason', 'fixed'], { env })).code, 0);
    assert.deepEqual(Object.keys((await svc.get('/api/v1/runbooks/fail-over')).body.circuit).sort(), ['failures', 'opened_at', 'state']);
  });
});
