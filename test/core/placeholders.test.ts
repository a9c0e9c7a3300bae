import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hasPlaceholderValues, placeholderValues } from '../../src/domain/index.js';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService, type TestService } from '../helpers/service.js';

/**
 * Where a placeholder's value comes from (spec §3): the incident's context first,
 * then its labels, then its own service and id. A storm's alerts do not carry a copy
 * of these values while their group commit waits: the params stage reads them from
 * the incident, so the precedence must hold on that path too.
 */
describe('placeholder values', () => {
  const labels = { service: 'from-label', pod: 'pod-label', namespace: 'prod' };

  it('context over labels over the incident id; service always the incident\'s own', () => {
    const v = placeholderValues({ id: 'inc_1', service: 'svc', labels, context: { pod: 'pod-context' } });
    assert.deepEqual(v, { service: 'svc', incident_id: 'inc_1', pod: 'pod-context', namespace: 'prod' });
    const bare = placeholderValues({ id: 'inc_2', service: 'svc', labels: {}, context: {} });
    assert.deepEqual(bare, { service: 'svc', incident_id: 'inc_2' });
  });

  it('an Alertmanager incident (context is its labels) gives the same values', () => {
    assert.deepEqual(placeholderValues({ id: 'inc_3', service: 'svc', labels, context: labels }), {
      service: 'svc',
      incident_id: 'inc_3',
      pod: 'pod-label',
      namespace: 'prod',
    });
  });

  it('which placeholders the incident itself gives: its own keys only, never an inherited name', () => {
    const incident = { labels: { pod: 'p' }, context: { deployment: 'd' } };
    assert.equal(hasPlaceholderValues(incident, ['pod', 'deployment', 'service', 'incident_id']), true);
    assert.equal(hasPlaceholderValues(incident, ['pod', 'namespace']), false);
    assert.equal(hasPlaceholderValues(incident, ['constructor']), false);
    assert.equal(hasPlaceholderValues(incident, ['toString']), false);
    assert.equal(hasPlaceholderValues(incident, []), true);
  });
});

describe('placeholders rendered on the intake path', () => {
  let target: HttpTarget;
  let svc: TestService;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/restart/ctx-pod', { status: 200 });
    target.route('POST', '/restart/label-pod', { status: 200 });
    svc = await startTestService({
      runbooks: `runbooks:
  restart:
    risk: LOW
    triggers: [crashloop]
    max_per_hour: 10
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${target.url}/restart/{pod}"}
`,
    });
  });
  after(async () => {
    await svc.stop({ remove: true });
    await target.close();
  });

  it('a context value wins over the label of the same name; alone, the label is used', async () => {
    const both = await svc.post('/api/v1/incidents?wait=true', {
      id: 'INC-CTX',
      service: 'api',
      root_cause: 'crashloop',
      confidence: 1,
      context: { pod: 'ctx-pod' },
      labels: { pod: 'label-pod' },
    });
    assert.equal(both.status, 202);
    assert.equal(both.body.action, 'executed');
    assert.equal(both.body.success, true);
    const label = await svc.post('/api/v1/incidents?wait=true', {
      id: 'INC-LABEL',
      service: 'api',
      root_cause: 'crashloop',
      confidence: 1,
      labels: { pod: 'label-pod' },
    });
    assert.equal(label.status, 202);
    assert.equal(label.body.action, 'executed');
    assert.equal(target.calls('/restart/ctx-pod', 'POST'), 1);
    assert.equal(target.calls('/restart/label-pod', 'POST'), 1);
  });
});
