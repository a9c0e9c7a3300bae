import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService, type TestService } from '../helpers/service.js';

/**
 * A value from an alert is refused when it holds "${", but two values side by side
 * ("$" and "{file:/path}"), or a value beside the runbook's own text, could still
 * form a secret reference, which the executor resolves at run time: the alert would
 * choose a file or a variable to send to the target. Every reference in a rendered
 * string must be the runbook's own text.
 */
describe('alert values cannot form a secret reference', () => {
  let dir: string;
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rectify-refs-'));
    writeFileSync(join(dir, 'private'), 'PRIVATE-FILE-CONTENT\n');
    process.env.RECTIFY_TEST_NOTE_TOKEN = 'tok-123';
    target = await startHttpTarget();
    target.route('POST', '/note', { status: 200 });
    svc = await startTestService({
      runbooks: `runbooks:
  note:
    risk: LOW
    triggers: [Note]
    max_per_hour: 100
    cooldown_minutes: 0
    params: {a: first part, b: second part}
    action:
      http:
        method: POST
        url: "${target.url}/note"
        headers: {Authorization: "Bearer \${env:RECTIFY_TEST_NOTE_TOKEN}", X-Service: "{service}"}
        body: {msg: "{a}{b}", who: "{service} \${env:RECTIFY_TEST_NOTE_TOKEN}"}
`,
    });
  });
  after(async () => {
    await svc?.stop({ remove: true });
    await target?.close();
    rmSync(dir, { recursive: true, force: true });
    delete process.env.RECTIFY_TEST_NOTE_TOKEN;
  });

  const post = (a: string, b: string) =>
    svc.post('/api/v1/incidents?wait=true', { root_cause: 'Note', service: 'shop', context: { a, b } });

  for (const [a, b] of [
    ['$', `{file:${'/'}tmp/x}`],
    ['x$', '{env:HOME}'],
    ['${', 'env:HOME}'],
  ] as const) {
    it(`"${a}" + "${b}": refused (PARAM_REFUSED) before anything is sent`, async () => {
      const before = target.calls('/note', 'POST');
      const r = await post(a, b.replace('/tmp/x', join(dir, 'private')));
      assert.equal(r.status, 202);
      if (a === '${') {
        // One value holding "${" was refused before this change too.
        assert.equal(r.body.event, 'PARAM_REFUSED');
      } else {
        assert.deepEqual([r.body.action, r.body.event], ['blocked', 'PARAM_REFUSED']);
        assert.match(r.body.reason, /^placeholder \{a\} in action 1: with the text around it, its value would form or change the secret reference "\$\{/);
      }
      assert.equal(target.calls('/note', 'POST'), before);
    });
  }

  it("the runbook's own references beside values still resolve, and values stay plain text", async () => {
    const r = await post('hello', 'world');
    assert.equal(r.body.event, 'SUCCESS', r.body.reason);
    const sent = target.requests('/note', 'POST').at(-1)!;
    assert.equal(sent.headers.authorization, 'Bearer tok-123');
    assert.deepEqual(sent.json(), { msg: 'helloworld', who: 'shop tok-123' });
  });
});
