import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { runCli } from '../../src/cli/index.js';
import { loadRunbooks, STANDARD_ALERT_LABELS } from '../../src/runbooks/index.js';
import { LIBRARY, ROOT, SEED_RUNBOOKS } from './helpers.js';

/**
 * The bundled runbooks/ is the seed's "common remediation runbooks" collection
 * (test/fixtures/seed-library.yaml, the seed's library.yaml unchanged), each
 * runbook with its own `rectify test` file in runbooks/tests/.
 */
interface SeedEntry {
  risk: string;
  triggers: string[];
  action: string;
  verification: string;
  guardrails: string[];
}
const SEED_LIBRARY_FILE = join(ROOT, 'test', 'fixtures', 'seed-library.yaml');
const SEED_LIBRARY = parse(readFileSync(SEED_LIBRARY_FILE, 'utf8')) as Record<string, SeedEntry>;
const lib = loadRunbooks(LIBRARY);
const byId = new Map(lib.runbooks.map((r) => [r.id, r]));

async function cli(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env: {}, cwd: ROOT });
  return { code, out, err };
}

test("the seed's library fixture is the seed's library.yaml, byte for byte", () => {
  assert.equal(createHash('sha256').update(readFileSync(SEED_LIBRARY_FILE)).digest('hex'), '8f9c0d4f1cfa80f24f8faa6fcaffe34bc73cb1572139a47b9c111d18f1073553');
});

test('rectify lint runbooks/ passes: no problem and no warning', async () => {
  const r = await cli('lint', 'runbooks');
  assert.deepEqual(r.err, []);
  assert.deepEqual(r.out, [`7 runbook(s) OK in ${resolve(ROOT, 'runbooks')}`]);
  assert.equal(r.code, 0);
});

test("one runbook per entry of the seed's collection, one file each, with the seed's risk, triggers and verification", () => {
  assert.deepEqual(lib.problems, []);
  assert.deepEqual([...byId.keys()].sort(), Object.keys(SEED_LIBRARY).sort());
  for (const [id, seed] of Object.entries(SEED_LIBRARY)) {
    const rb = byId.get(id)!;
    assert.equal(rb.file, join(LIBRARY, `${id}.yaml`), id);
    assert.equal(rb.risk, seed.risk, id);
    assert.equal(rb.raw.verification, seed.verification, id);
    assert.ok(rb.owner, `${id} names an owner`);
    assert.ok(rb.postChecks.length > 0, `${id} verifies`);
    // The seed's trigger words are triggers; "disk_usage > 85%" is a condition, kept as clear-disk-cache's pre-check.
    for (const t of seed.triggers.filter((w) => !w.includes(' '))) assert.ok(rb.triggers.includes(t), `${id} triggers on ${t}`);
    // Every runbook can be undone, or says why not.
    assert.ok(rb.rollback !== null || rb.raw.rollback === null || (rb.raw.rollback === 'none' && rb.rollbackReason), id);
  }
  const disk = byId.get('clear-disk-cache')!;
  assert.ok(disk.preChecks.some((c) => c.type === 'promql' && c.expect.op === '>' && c.expect.value === 85));
  assert.ok(disk.postChecks.some((c) => c.type === 'promql' && c.expect.op === '<' && c.expect.value === 70));
});

test("restart-pod, scale-up and rollback-deployment keep the exercise file's ids, limits and actions", () => {
  const seed = new Map(loadRunbooks(SEED_RUNBOOKS).runbooks.map((r) => [r.id, r]));
  for (const id of ['restart-pod', 'scale-up', 'rollback-deployment']) {
    const a = seed.get(id)!;
    const b = byId.get(id)!;
    assert.deepEqual(
      [b.risk, b.minConfidence, b.maxPerHour, b.cooldownMs, b.blastRadiusLimit],
      [a.risk, a.minConfidence, a.maxPerHour, a.cooldownMs, a.blastRadiusLimit],
      id,
    );
    assert.deepEqual(b.actions, a.actions, id);
    assert.deepEqual(b.rollback, a.rollback, id);
    for (const t of a.triggers) assert.ok(b.triggers.includes(t), `${id} triggers on ${t}`);
  }
});

test('the standard alerts that trigger each runbook, and no trigger shared by two runbooks', () => {
  const alerts = (id: string) => byId.get(id)!.triggers.filter((t) => Object.prototype.hasOwnProperty.call(STANDARD_ALERT_LABELS, t));
  assert.deepEqual(alerts('restart-pod'), ['KubePodCrashLooping']);
  assert.deepEqual(alerts('restart-service'), ['KubeDeploymentReplicasMismatch']);
  assert.deepEqual(alerts('clear-disk-cache'), ['NodeFilesystemSpaceFillingUp', 'NodeFilesystemAlmostOutOfSpace']);
  assert.deepEqual(alerts('rollback-deployment'), ['KubeDeploymentRolloutStuck']);
  // No standard alert should scale, fail over a database or take a workload offline on its own.
  for (const id of ['scale-up', 'failover-database', 'scale-to-zero']) assert.deepEqual(alerts(id), [], id);
  const owner = new Map<string, string>();
  for (const rb of lib.runbooks) {
    for (const t of rb.triggers) {
      assert.equal(owner.get(t), undefined, `${t} triggers both ${owner.get(t)} and ${rb.id}`);
      owner.set(t, rb.id);
    }
  }
});

test('every runbook has its own test file, which tests it', () => {
  const files = readdirSync(join(LIBRARY, 'tests')).sort();
  for (const id of byId.keys()) {
    const file = join(LIBRARY, 'tests', `${id}.test.yaml`);
    assert.ok(existsSync(file), `runbooks/tests/${id}.test.yaml`);
    const doc = parse(readFileSync(file, 'utf8')) as { tests: Array<{ expect: { runbook?: string | null } }> };
    assert.ok(doc.tests.some((t) => t.expect.runbook === id), `${id}.test.yaml expects ${id} to be chosen`);
  }
  assert.deepEqual(files, [...[...byId.keys()].map((id) => `${id}.test.yaml`), 'seed-incidents.test.yaml'].sort());
});

test('every library test passes (rectify test runbooks/tests)', async () => {
  const r = await cli('test', 'runbooks/tests');
  assert.deepEqual(r.err, []);
  assert.deepEqual(r.out.filter((l) => l.startsWith('  FAIL')), []);
  const summary = r.out[r.out.length - 1]!;
  const m = /^(\d+) test\(s\): (\d+) passed, 0 failed$/.exec(summary);
  assert.ok(m && m[1] === m[2] && Number(m[1]) >= 40, summary);
  assert.equal(r.code, 0);
});

test("deploy/kubernetes's ConfigMap carries the library, file for file", () => {
  const doc = parse(readFileSync(join(ROOT, 'deploy', 'kubernetes', 'configmap-runbooks.yaml'), 'utf8')) as { data: Record<string, string> };
  const files = readdirSync(LIBRARY).filter((n) => n.endsWith('.yaml')).sort();
  assert.deepEqual(Object.keys(doc.data).filter((k) => k.endsWith('.yaml')).sort(), files);
  for (const f of files) assert.equal(doc.data[f], readFileSync(join(LIBRARY, f), 'utf8'), `${f}: regenerate the ConfigMap (deploy/kubernetes/README.md)`);
});
