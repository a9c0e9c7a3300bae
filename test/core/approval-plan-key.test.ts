import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { earlierApprovalPlanKey } from '../../src/engine/apply.js';
import type { ExecutionPlan } from '../../src/pipeline/index.js';

/** A plan as rendered: an http action with no body written (its `body` key there, undefined), a command as rollback. */
function plan(body: unknown): ExecutionPlan {
  const http = { type: 'http', method: 'POST', url: 'http://127.0.0.1:8080/restart', headers: {}, body, expectStatus: [200, 299], timeoutMs: 10_000 };
  return {
    params: { service: 'api' },
    actions: [{ index: 0, phase: 'action', type: 'http', summary: 'POST http://127.0.0.1:8080/restart', spec: http }],
    rollback: [{ index: 0, phase: 'rollback', type: 'http', summary: 'POST http://127.0.0.1:8080/restart', spec: { ...http } }],
    preChecks: [],
    postChecks: [],
    runbookVersion: '0123456789abcdef',
  };
}

describe('the approval plan key earlier releases recorded', () => {
  it('of an http action without a body is the one it had when such a body was rendered null', () => {
    // As pending approval requests stored before the upgrade were keyed.
    const stored = createHash('sha256').update(JSON.stringify(['restart-api', 'api', plan(null)])).digest('base64url');
    assert.equal(earlierApprovalPlanKey('restart-api', 'api', plan(undefined)), stored);
    assert.equal(earlierApprovalPlanKey('restart-api', 'api', plan(null)), stored);
  });

  it('still tells a body apart from none, and a null inside a body from one left out', () => {
    const none = earlierApprovalPlanKey('restart-api', 'api', plan(undefined));
    assert.notEqual(earlierApprovalPlanKey('restart-api', 'api', plan({})), none);
    assert.notEqual(earlierApprovalPlanKey('restart-api', 'api', plan({ body: null })), earlierApprovalPlanKey('restart-api', 'api', plan({})));
  });
});
