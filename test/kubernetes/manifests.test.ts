import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';

const run = promisify(execFile);

interface Container {
  env?: Array<{ name: string; value?: string }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
const deployment = parse(readFileSync(new URL('../../deploy/kubernetes/deployment.yaml', import.meta.url), 'utf8')) as {
  spec: { template: { spec: { containers: Container[]; volumes: Array<{ name: string; persistentVolumeClaim?: unknown; emptyDir?: { sizeLimit?: string } }> } } };
};

/**
 * SQLite spills a sort larger than its cache (an index a migration builds over a long
 * audit log) to temporary files. The manifest's root filesystem is read-only and /tmp a
 * small emptyDir, so they go to the data volume: checked against the manifest, and
 * against the SQLite rectify bundles (it reads SQLITE_TMPDIR itself, at its first open).
 */
describe('deploy/kubernetes/deployment.yaml', () => {
  it("points SQLite's temporary files at the data volume, not the small /tmp emptyDir", () => {
    const pod = deployment.spec.template.spec;
    const rectify = pod.containers[0]!;
    const dir = rectify.env?.find((e) => e.name === 'SQLITE_TMPDIR')?.value;
    const data = pod.volumes.find((v) => v.persistentVolumeClaim !== undefined)!;
    assert.equal(dir, rectify.volumeMounts?.find((m) => m.name === data.name)?.mountPath);
    assert.equal(pod.volumes.find((v) => v.name === 'tmp')?.emptyDir?.sizeLimit, '64Mi');
  });

  it('the bundled SQLite spills a large sort into SQLITE_TMPDIR', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-sqlite-tmp-'));
    try {
      // A sort of 200,000 rows with a 10-page cache spills; its open temporary files are listed.
      const script = `
        const Database = require('better-sqlite3');
        const fs = require('node:fs');
        const db = new Database(':memory:');
        db.pragma('cache_size = 10');
        db.exec('CREATE TABLE t(x)');
        const ins = db.prepare('INSERT INTO t VALUES (?)');
        db.transaction(() => { for (let i = 0; i < 200000; i++) ins.run('y'.repeat(40) + ((i * 7919) % 200000)); })();
        const rows = db.prepare('SELECT x FROM t ORDER BY x').iterate();
        rows.next();
        const open = fs.readdirSync('/proc/self/fd').map((fd) => { try { return fs.readlinkSync('/proc/self/fd/' + fd); } catch { return ''; } });
        rows.return();
        console.log(JSON.stringify(open.filter((l) => l.includes('etilqs_'))));
      `;
      const { stdout } = await run(process.execPath, ['-e', script], { cwd: new URL('../..', import.meta.url).pathname, env: { ...process.env, SQLITE_TMPDIR: dir } });
      const spilled = JSON.parse(stdout) as string[];
      assert.ok(spilled.length > 0, 'the sort spilled');
      for (const f of spilled) assert.ok(f.startsWith(`${dir}/etilqs_`), f);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * The restore recipe in deploy/kubernetes/README.md runs a one-off pod on the data volume
 * while rectify is scaled to 0: it must mount the claim deployment.yaml mounts, where it
 * mounts it, as the user that owns the files there, from the same image, and leave the
 * database where RECTIFY_DB says.
 */
describe('deploy/kubernetes/README.md: Restore a backup', () => {
  it('its helper pod matches deployment.yaml and pvc.yaml', () => {
    const readme = readFileSync(new URL('../../deploy/kubernetes/README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Restore a backup'));
    const manifest = /apply -f - <<'EOF'\n([\s\S]*?)\nEOF\n/.exec(section)?.[1];
    assert.ok(manifest, 'the helper pod manifest is in the section');
    const helper = parse(manifest) as {
      metadata: { namespace: string; labels?: Record<string, string> };
      spec: { securityContext: Record<string, unknown>; containers: Array<{ image: string; volumeMounts: Array<{ name: string; mountPath: string }> }>; volumes: Array<{ name: string; persistentVolumeClaim?: { claimName: string } }> };
    };
    const full = parse(readFileSync(new URL('../../deploy/kubernetes/deployment.yaml', import.meta.url), 'utf8')) as {
      metadata: { namespace: string };
      spec: { template: { spec: { securityContext: Record<string, unknown>; containers: Array<{ image: string; env: Array<{ name: string; value?: string }>; volumeMounts: Array<{ name: string; mountPath: string }> }>; volumes: Array<{ name: string; persistentVolumeClaim?: { claimName: string } }> } } };
    };
    const pvc = parse(readFileSync(new URL('../../deploy/kubernetes/pvc.yaml', import.meta.url), 'utf8')) as { metadata: { name: string } };
    const pod = full.spec.template.spec;
    const rectify = pod.containers[0]!;
    assert.equal(helper.metadata.namespace, full.metadata.namespace);
    // Not rectify's label: the loop that waits for rectify's pod to go, and the Service, must not see it.
    assert.equal(helper.metadata.labels, undefined);
    assert.deepEqual(helper.spec.securityContext, pod.securityContext);
    const container = helper.spec.containers[0]!;
    assert.equal(container.image, rectify.image);
    const claim = helper.spec.volumes.find((v) => v.name === container.volumeMounts[0]!.name)!.persistentVolumeClaim!.claimName;
    assert.equal(claim, pvc.metadata.name);
    const dataVolume = pod.volumes.find((v) => v.persistentVolumeClaim?.claimName === claim)!;
    const dataPath = rectify.volumeMounts.find((m) => m.name === dataVolume.name)!.mountPath;
    assert.equal(container.volumeMounts[0]!.mountPath, dataPath);
    // The file the recipe puts in place is the one the pod's RECTIFY_DB names.
    assert.equal(rectify.env.find((e) => e.name === 'RECTIFY_DB')?.value, `sqlite:${dataPath}/rectify.db`);
    // Put in place by rectify restore, on the database RECTIFY_DB names: never moved over it by hand.
    assert.ok(section.includes(`rectify restore ${dataPath}/restore.db \\\n  --db sqlite:${dataPath}/rectify.db\n`));
    assert.ok(!/\bmv restore\.db|rm -f rectify\.db-wal/.test(section));
    assert.ok(section.includes(`rectify-restore:${dataPath}/restore.db`));
  });
});
