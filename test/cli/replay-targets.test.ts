import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { amWebhook } from '../helpers/service.js';
import { cli } from './capture.js';

const T0 = Date.UTC(2026, 10, 24, 3, 0, 0);
const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * A replay decides as the service does: the Kubernetes object a run acts on is counted
 * whatever the service, and {service} is the service counted (an exporter's `service`
 * label is not it).
 */
describe('rectify replay: the object acted on and the service counted', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rectify-replay-targets-'));
    mkdirSync(join(dir, 'runbooks'));
    writeFileSync(
      join(dir, 'runbooks', 'runbooks.yaml'),
      `runbooks:
  restart-deployment:
    risk: LOW
    triggers: [KubeDeploymentReplicasMismatch]
    max_per_hour: 1
    cooldown_minutes: 0
    action: kubectl rollout restart deployment {deployment} -n {namespace}
`,
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('three alerts for deployment checkout under three services: one run, two rate limited', async () => {
    const lines = ['checkout-api', 'checkout-web', 'checkout'].map((service, i) =>
      JSON.stringify({
        at: iso(T0 + i * MIN),
        webhook: amWebhook([
          { labels: { alertname: 'KubeDeploymentReplicasMismatch', service, namespace: 'production', deployment: 'checkout' }, fingerprint: `fp-${i}`, startsAt: iso(T0 + i * MIN) },
        ]),
      }),
    );
    writeFileSync(join(dir, 'stream.jsonl'), lines.join('\n') + '\n');
    // As a service given a cluster (replay neither reads the kubeconfig nor reaches the cluster).
    const r = await cli(['replay', 'stream.jsonl', '--runbooks', join(dir, 'runbooks'), '--kubeconfig', join(dir, 'kubeconfig'), '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.err.join('\n'));
    const rep = r.json();
    assert.deepEqual(rep.executions, { 'restart-deployment': 1 });
  });
});
