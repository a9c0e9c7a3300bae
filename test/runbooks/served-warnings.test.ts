import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startTestService, type TestService } from '../helpers/service.js';
import { cli } from '../cli/capture.js';

/** A runbook that lints OK on its own, with `match` when given. */
const runbook = (id: string, match?: string): string =>
  `runbooks:\n  ${id}:\n    risk: LOW\n    triggers: [CrashLoopBackOff]\n${match ? `    match: ['${match}']\n` : ''}    action: "kubectl delete pod {pod_name} -n {namespace}"\n    post_checks: [pod_becomes_ready]\n    params: [pod_name, namespace]\n`;
const CAREFUL = runbook('restart-careful', 'namespace!~"kube-system"');

/** GET /api/v1/runbooks's entry for one of these runbooks, nothing run yet. */
const state = (svc: TestService, id: string, file: string) => ({
  id,
  description: '',
  file: join(svc.runbooksDir, file),
  risk: 'LOW',
  mode: 'auto',
  triggers: ['CrashLoopBackOff'],
  min_confidence: 0.8,
  max_per_hour: 3,
  cooldown_minutes: 10,
  blast_radius_limit: 1,
  needs: ['kubernetes'],
  executable: false,
  params: ['namespace', 'pod_name'],
  actions: ['kubectl delete pod {pod_name} -n {namespace}'],
  has_rollback: false,
  circuit: { state: 'closed', failures: 0, opened_at: null },
  executions_last_hour: 0,
  busiest_service_last_hour: null,
  cooldowns: [],
  cooldown_end: null,
  object_cooldowns: [],
  success_rate: null,
  succeeded: 0,
  failed: 0,
  paused: null,
});

const NEVER_CHOSEN =
  'never chosen: restart-any (a.yaml:2) takes every CrashLoopBackOff alert first (it has no match:): an alert runs the first runbook in load order (files by name, runbooks in file order) whose triggers and match: fit it; put this one before that one, or remove it';

/**
 * GET /api/v1/runbooks carries the load warnings of the runbooks it lists, and `rectify
 * runbooks` prints them after its table: a runbook never chosen was said only in the log of
 * the start or reload that loaded it. A reload that loads replaces them with the runbooks; a
 * refused one keeps them.
 */
describe('the runbook list: the load warnings of the runbooks in force', () => {
  it('lists a runbook never chosen, keeps it across a refused reload, follows a reload that changes nothing, and drops it once fixed', async () => {
    const svc = await startTestService({ runbooks: { 'a.yaml': runbook('restart-any'), 'b.yaml': CAREFUL }, args: ['--listen', '127.0.0.1:0'] });
    try {
      const shadowed = { file: join(svc.runbooksDir, 'b.yaml'), line: 2, path: 'runbooks.restart-careful', message: NEVER_CHOSEN };
      const both = [state(svc, 'restart-any', 'a.yaml'), state(svc, 'restart-careful', 'b.yaml')];
      assert.deepEqual((await svc.get('/api/v1/runbooks')).body, { runbooks: both, paused: null, reload_refused: null, paused_not_loaded: [], warnings: [shadowed] });

      // rectify runbooks: the table on stdout, then each warning on stderr, as rectify lint prints it.
      const env = { RECTIFY_SERVER: await svc.service.listen() };
      const shown = await cli(['runbooks'], { env });
      assert.deepEqual({ code: shown.code, out: shown.out, err: shown.err }, {
        code: 0,
        out: [
          'RUNBOOK          RISK  MODE  PAUSED  EXECUTABLE  CIRCUIT  LAST HOUR  COOLDOWN  OBJECT COOLDOWN  SUCCESS',
          'restart-any      LOW   auto  no      NO          closed   0/3        -         -                -',
          'restart-careful  LOW   auto  no      NO          closed   0/3        -         -                -',
        ],
        err: [`${join(svc.runbooksDir, 'b.yaml')}:2: runbooks.restart-careful: warning: ${NEVER_CHOSEN}`],
      });

      // A refused reload changes nothing in force: the warnings stay with the runbooks they are of.
      writeFileSync(join(svc.runbooksDir, 'c.yaml'), 'runbooks:\n  broken:\n    risk: nope\n');
      assert.equal((await svc.service.reload()).runbooks?.ok, false);
      const refused = (await svc.get('/api/v1/runbooks')).body;
      assert.deepEqual([refused.runbooks, refused.reload_refused === null, refused.warnings], [both, false, [shadowed]]);

      // The same runbooks again, beside a file not loaded (.YAML): nothing changed, and the warnings are the folder's as read now.
      rmSync(join(svc.runbooksDir, 'c.yaml'));
      writeFileSync(join(svc.runbooksDir, 'd.YAML'), runbook('restart-other'));
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 2, added: [], removed: [], changed: [], reordered: false });
      const miscased = { file: join(svc.runbooksDir, 'd.YAML'), line: null, path: '', message: 'not loaded: only names ending in .yaml or .yml, in lowercase, are runbook files; rename it to d.yaml' };
      assert.deepEqual((await svc.get('/api/v1/runbooks')).body, { runbooks: both, paused: null, reload_refused: null, paused_not_loaded: [], warnings: [miscased, shadowed] });

      // Fixed: restart-any takes prod alerts only, and the file not loaded is gone.
      rmSync(join(svc.runbooksDir, 'd.YAML'));
      writeFileSync(join(svc.runbooksDir, 'a.yaml'), runbook('restart-any', 'namespace="prod"'));
      assert.deepEqual((await svc.service.reload()).runbooks, { ok: true, count: 2, added: [], removed: [], changed: ['restart-any'], reordered: false });
      assert.deepEqual((await svc.get('/api/v1/runbooks')).body, { runbooks: both, paused: null, reload_refused: null, paused_not_loaded: [], warnings: [] });
      const fixed = await cli(['runbooks'], { env });
      assert.deepEqual({ code: fixed.code, lines: fixed.out.length, err: fixed.err }, { code: 0, lines: 3, err: [] });
    } finally {
      await svc.stop({ remove: true });
    }
  });

  it('is empty for runbooks with no warning, from the start', async () => {
    const svc = await startTestService({ runbooks: { 'a.yaml': CAREFUL, 'b.yaml': runbook('restart-any') } });
    try {
      assert.deepEqual((await svc.get('/api/v1/runbooks')).body, {
        runbooks: [state(svc, 'restart-careful', 'a.yaml'), state(svc, 'restart-any', 'b.yaml')],
        paused: null,
        reload_refused: null,
        paused_not_loaded: [],
        warnings: [],
      });
    } finally {
      await svc.stop({ remove: true });
    }
  });
});
