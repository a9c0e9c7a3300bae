import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startHttpTarget } from '../helpers/http-target.js';
import { acceptStoredService, startTestService } from '../helpers/service.js';
import { name, table } from '../../src/cli/client/format.js';
import { cli } from './capture.js';

/** Bidirectional controls: U+202E reorders the rest of a line as a terminal shows it. */
const BIDI = '\u202e\u2066\u2069\u200f\u061c';
const SERVICE = `shop${BIDI}gnp.exe\u001b[31m\nFAKE`;

/** A listening service whose one runbook, HIGH risk, asks approval for the alert above. */
function startAsking() {
  return startTestService({
    runbooks: `runbooks:
  rollback-deployment:
    risk: HIGH
    triggers: [error_rate_spike_after_deploy]
    action:
      http: {method: POST, url: "http://127.0.0.1:9/undo/{deployment}"}
`,
    args: ['--listen', '127.0.0.1:0'],
  });
}

describe('what an alert says never reaches the terminal raw', () => {
  it('approvals and reject: a service label with a right-to-left override, an escape sequence and a newline is shown on one line, the controls as their escapes', async () => {
    const svc = await startAsking();
    try {
      const env = { RECTIFY_SERVER: await svc.service.listen() };
      // Intake passes over such a service label now; an alert stored before with one is still shown.
      const decided = await acceptStoredService(svc, { id: 'f1', root_cause: 'error_rate_spike_after_deploy', context: { deployment: 'checkout' } }, SERVICE);
      const id = decided.approval_id as string;
      // The service keeps the label as it came: --json is the data, unchanged.
      const json = await cli(['approvals', '--json'], { env });
      assert.equal(json.json().approvals[0].service, SERVICE);
      const t = await cli(['approvals'], { env });
      assert.equal(t.code, 0);
      assert.equal(t.out.length, 2);
      const shown = String.raw`shop\u202e\u2066\u2069\u200f\u061cgnp.exe\u001b[31m FAKE`;
      assert.ok(t.out[1]!.startsWith(`${id}  rollback-deployment  ${shown}  pending  `), t.out[1]);
      const no = await cli(['reject', id, '--by', 'bob'], { env });
      assert.deepEqual([no.code, no.out], [0, [`rejected ${id} (rollback-deployment on ${shown}) as bob: nothing will run`]]);
      assert.ok(![...t.out, ...no.out].some((l) => [...BIDI, '\u001b'].some((c) => l.includes(c))));
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a decision reason, an execution outcome and an error message from the service are put on one line, their control characters shown as escapes', async () => {
    const fake = await startHttpTarget();
    try {
      const env = { RECTIFY_SERVER: fake.url };
      const result = { incident_id: 'man_1', action: 'executed', runbook: 'r', reason: `manual run${BIDI}`, event: 'EXECUTING', approval_id: null, execution_id: 'exe_1' };
      fake.route('POST', '/api/v1/runbooks/r/run', { status: 200, body: result });
      fake.route('GET', '/api/v1/executions/exe_1', {
        status: 200,
        body: { id: 'exe_1', runbook: 'r', service: 's', state: 'failed', actor: 'a', started_at: '2026-11-24T03:00:00Z', finished_at: '2026-11-24T03:00:01Z', outcome: `action 1 failed: 500 ${BIDI}\u001b]0;pwned\u0007\nexecution exe_2 succeeded`, needs_human: false, steps: [] },
      });
      const r = await cli(['run', 'r', '--by', 'carol'], { env });
      assert.deepEqual([r.code, r.out], [1, [String.raw`r: executing (manual run\u202e\u2066\u2069\u200f\u061c), execution exe_1, incident man_1`, String.raw`execution exe_1 failed: action 1 failed: 500 \u202e\u2066\u2069\u200f\u061c\u001b]0;pwned\u0007 execution exe_2 succeeded`]]);
      fake.route('POST', '/api/v1/approvals/apr_1/approve', { status: 409, body: { error: { code: 'CONFLICT', message: `blocked on shop${BIDI}\nrectify: approved`, details: [{ path: `body${BIDI}`, message: `bad\n  x: y` }] } } });
      const a = await cli(['approve', 'apr_1', '--by', 'carol'], { env });
      assert.deepEqual([a.code, a.err], [1, [String.raw`rectify: CONFLICT: blocked on shop\u202e\u2066\u2069\u200f\u061c rectify: approved`, String.raw`  body\u202e\u2066\u2069\u200f\u061c: bad   x: y`]]);
    } finally {
      await fake.close();
    }
  });

  it('characters a terminal draws as nothing (zero-width, word joiner, BOM, soft hyphen, tags) are shown as their escape: "shop\\u200b" is not "shop"', async () => {
    const svc = await startAsking();
    const service = 'shop\u200b\u200c\u200d\u2060\u2064\ufeff\u00ad\u{e0041}';
    const shown = String.raw`shop\u200b\u200c\u200d\u2060\u2064\ufeff\u00ad\udb40\udc41`;
    const invisible = /[\u00ad\u200b-\u200f\u2060-\u2064\ufeff\u{e0000}-\u{e007f}]/u;
    try {
      const env = { RECTIFY_SERVER: await svc.service.listen() };
      // Intake passes over such a service label now; an alert stored before with one is still shown.
      const decided = await acceptStoredService(svc, { id: 'f1', root_cause: 'error_rate_spike_after_deploy', context: { deployment: 'checkout' } }, service);
      const id = decided.approval_id as string;
      const t = await cli(['approvals'], { env });
      assert.equal(t.code, 0);
      assert.equal(t.out.length, 2);
      assert.match(t.out[1]!, new RegExp(`^${id}\\s+rollback-deployment\\s+${shown.replace(/\\/g, '\\\\')}\\s+pending\\s`));
      // The columns stay aligned: the status column starts where its header does.
      assert.equal(t.out[1]!.indexOf('pending'), t.out[0]!.indexOf('STATUS'));
      // --json is the same data, the characters written as JSON escapes.
      const json = await cli(['approvals', '--json'], { env });
      assert.equal(json.json().approvals[0].service, service);
      assert.ok(json.out.join('\n').includes(`"service":"${shown}"`));
      const no = await cli(['reject', id, '--by', 'bob'], { env });
      assert.deepEqual([no.code, no.out], [0, [`rejected ${id} (rollback-deployment on ${shown}) as bob: nothing will run`]]);
      assert.ok(![...t.out, ...json.out, ...no.out].some((l) => invisible.test(l)));
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('a blank service name (stored before intake refused one) is quoted: not invisible, not "-" (none)', () => {
    assert.deepEqual([name(''), name('  '), name('\t'), name('web'), name('a\nb')], ['""', '"  "', '"\\t"', 'web', 'a b']);
    assert.deepEqual(table(['SERVICE', 'UNTIL'], [[name(' '), 'x'], ['web', 'y']]), ['SERVICE  UNTIL', '" "      x', 'web      y']);
    assert.deepEqual(table(['UNTIL', 'SERVICE'], [['x', name(' ')]]), ['UNTIL  SERVICE', 'x      " "']);
  });

  it('cooldown clear: a service with a newline in its name cannot print a line of its own', async () => {
    const fake = await startHttpTarget();
    try {
      const env = { RECTIFY_SERVER: fake.url };
      const cleared = [{ kind: 'service', subject: 'shop\nrectify: all cooldowns ended', last_started_at: '2026-11-24T02:50:00.000Z', until: '2026-11-24T03:20:00.000Z' }];
      fake.route('POST', '/api/v1/runbooks/r/cooldown/clear', { status: 200, body: { runbook: 'r', cleared } });
      const r = await cli(['cooldown', 'clear', 'r', '--reason', 'fixed', '--by', 'dave'], { env });
      assert.deepEqual([r.code, r.out], [0, ['ended the cooldown of r:', '  service shop rectify: all cooldowns ended (it held until 2026-11-24T03:20:00Z)']]);
    } finally {
      await fake.close();
    }
  });

  it('a control character JSON leaves raw (DEL, the C1 CSI that starts an escape sequence, NEL) is escaped in every line printed, --json included, and the document reads back the same', async () => {
    const fake = await startHttpTarget();
    const service = 'shop\u009b2J\u007f\u0085x';
    try {
      const env = { RECTIFY_SERVER: fake.url };
      const approval = { id: 'apr_1', incident_id: 'INC-1', runbook: 'r', service, status: 'pending', reason: 'risk HIGH requires approval', actions: [], params: {}, requested_at: '2026-11-24T03:00:00.000Z', requested_by: 'rectify', expires_at: '2026-11-24T04:00:00.000Z', decided_at: null, decided_by: null, comment: null, decisions: [], execution_id: null, alerts: 1, alerts_open: 1 };
      fake.route('GET', '/api/v1/approvals', { status: 200, body: { approvals: [approval] } });
      const json = await cli(['approvals', '--json'], { env });
      assert.equal(json.code, 0);
      assert.equal(json.json().approvals[0].service, service);
      assert.ok(json.out.join('\n').includes(String.raw`"service":"shop\u009b2J\u007f\u0085x"`));
      const t = await cli(['approvals'], { env });
      // NEL is a line break: one space, as a newline is.
      assert.ok(t.out[1]!.startsWith(String.raw`apr_1  r        shop\u009b2J\u007f x  pending  `), t.out[1]);
      assert.ok(![...json.out, ...t.out].some((l) => /[\u007f-\u009f]/.test(l)));
    } finally {
      await fake.close();
    }
  });
});
