import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { runCli } from '../../src/cli/index.js';
import { loadConfig } from '../../src/config/index.js';
import type { RenderedKubernetesCheck } from '../../src/domain/index.js';
import { createExecutors } from '../../src/executors.js';
import { startKubeFake, type KubeFake } from '../helpers/kube-fake/index.js';
import { stepContext } from './setup.js';

const root = mkdtempSync(join(tmpdir(), 'rectify-kubeconfig-list-'));
after(() => rmSync(root, { recursive: true, force: true }));

const write = (dir: string, name: string, config: object): string => {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'Config', ...config }), { mode: 0o600 });
  return file;
};

const nodeExists: RenderedKubernetesCheck = { type: 'kubernetes', condition: 'exists', kind: 'node', name: 'node-a', namespace: null, params: {}, timeoutMs: 2_000, intervalMs: 40 };

async function serve(argv: string[], env: Record<string, string>, cwd: string): Promise<{ code: number; err: string[] }> {
  const err: string[] = [];
  const code = await runCli(['serve', '--listen', '127.0.0.1:0', '--log-level', 'silent', ...argv], { out: () => {}, err: (l) => void err.push(...l.split('\n')), env, cwd });
  return { code, err };
}

/**
 * $KUBECONFIG as kubectl's colon-separated list was read as one file name ("default: ENOENT …
 * open '/a.yaml:/b.yaml'"), and the start stopped, blaming the default of --kubernetes.
 */
describe('$KUBECONFIG as a list of files', () => {
  let fake: KubeFake;
  before(async () => {
    fake = await startKubeFake();
    fake.addNode('node-a');
  });
  after(async () => fake.close());

  it('merges the files as kubectl does: the first current-context and the first of each name win', async () => {
    const dir = mkdtempSync(join(root, 'merge-'));
    // The first file: the context in force and its user; the cluster it names is in the second.
    const first = write(dir, 'first.yaml', {
      users: [{ name: 'rectify', user: { token: 'fake-token' } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'rectify' } }],
      'current-context': 'fake',
    });
    // The second: its own current-context and a context of the same name pointing nowhere, both ignored.
    const second = write(dir, 'second.yaml', {
      clusters: [
        { name: 'fake', cluster: { server: fake.url, 'insecure-skip-tls-verify': true } },
        { name: 'elsewhere', cluster: { server: 'https://127.0.0.1:9', 'insecure-skip-tls-verify': true } },
      ],
      users: [{ name: 'other', user: { token: 'other-token' } }],
      contexts: [
        { name: 'fake', context: { cluster: 'elsewhere', user: 'other' } },
        { name: 'other', context: { cluster: 'elsewhere', user: 'other' } },
      ],
      'current-context': 'other',
    });
    const loaded = loadConfig(['--kubernetes', 'kubeconfig', '--runbooks', dir], { KUBECONFIG: `${first}${delimiter}${second}` }, { cwd: dir });
    assert.ok('config' in loaded, JSON.stringify(loaded));
    const executors = await createExecutors(loaded.config, pino({ level: 'silent' }), {});
    assert.equal(executors.available.has('kubernetes'), true);
    fake.clearRequests();
    const out = await executors.checks.get('kubernetes')!.run(nodeExists, stepContext());
    assert.deepEqual(out, { ok: true, detail: 'node node-a exists', attempts: 1 });
    assert.deepEqual(fake.requests.map((r) => [r.method, r.path, r.authorization, r.status]), [['GET', '/api/v1/nodes/node-a', true, 200]]);
  });

  it('a file of the list not there stops the start naming KUBECONFIG and the file; no database is created', async () => {
    const dir = mkdtempSync(join(root, 'missing-'));
    mkdirSync(join(dir, 'runbooks'));
    const good = write(dir, 'good.yaml', {
      clusters: [{ name: 'fake', cluster: { server: fake.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'rectify', user: { token: 'fake-token' } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'rectify' } }],
      'current-context': 'fake',
    });
    const missing = join(dir, 'gone.yaml');
    const db = join(dir, 'r.db');
    for (const mode of ['kubeconfig', 'auto']) {
      const r = await serve(['--db', `sqlite:${db}`, '--kubernetes', mode], { KUBECONFIG: `${good}${delimiter}${missing}` }, dir);
      assert.deepEqual(r, { code: 2, err: [`KUBECONFIG: kubernetes: cannot read the kubeconfig file ${missing}: ENOENT: no such file or directory, open '${missing}'`] }, mode);
      assert.equal(existsSync(db), false, mode);
    }
    // --kubeconfig names one file, and is named as the source.
    const r = await serve(['--db', `sqlite:${db}`, '--kubernetes', 'kubeconfig', '--kubeconfig', missing], {}, dir);
    assert.deepEqual(r, { code: 2, err: [`--kubeconfig: kubernetes: cannot read the kubeconfig file ${missing}: ENOENT: no such file or directory, open '${missing}'`] });
    assert.equal(existsSync(db), false);
  });

  it('--kubernetes kubeconfig with no kubeconfig says which settings give one', async () => {
    const dir = mkdtempSync(join(root, 'none-'));
    mkdirSync(join(dir, 'runbooks'));
    const db = join(dir, 'r.db');
    const r = await serve(['--db', `sqlite:${db}`, '--kubernetes', 'kubeconfig'], {}, dir);
    assert.deepEqual(r, {
      code: 2,
      err: ['--kubernetes: kubernetes: mode kubeconfig needs a kubeconfig file: set --kubeconfig (RECTIFY_KUBECONFIG, kubeconfig in the config file) or KUBECONFIG'],
    });
    assert.equal(existsSync(db), false);
  });
});
