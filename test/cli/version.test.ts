import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { cli } from './capture.js';
import { startTestService } from '../helpers/service.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('rectify --version', () => {
  it('prints the package.json version on stdout, exit 0, as --version or version', async () => {
    for (const argv of [['--version'], ['version']]) {
      const r = await cli(argv);
      assert.deepEqual([r.code, r.out, r.err], [0, [`rectify ${version}`], []], argv.join(' '));
    }
    const extra = await cli(['version', 'now']);
    assert.deepEqual([extra.code, extra.out, extra.err], [2, [], ['rectify version: takes no arguments, got "now"']]);
    const help = await cli(['version', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.out[0]!, /^usage: rectify version \(or rectify --version\)$/);
    const usage = await cli(['--help']);
    assert.ok(usage.out.includes("  version      print this rectify's version (also: --version)"), usage.out.join('\n'));
  });

  it('the installed command (bin/rectify.js) and the sources through tsx print it from any folder', async () => {
    const bin = await run(process.execPath, [`${root}bin/rectify.js`, '--version'], { cwd: tmpdir() });
    assert.deepEqual([bin.stdout, bin.stderr], [`rectify ${version}\n`, '']);
    const tsx = createRequire(import.meta.url).resolve('tsx/cli');
    const src = await run(process.execPath, [tsx, `${root}src/main.ts`, 'version'], { cwd: tmpdir() });
    assert.deepEqual([src.stdout, src.stderr], [`rectify ${version}\n`, '']);
  });

  it("the OpenAPI document's info.version is the package.json version: served, committed, and followed to another version", async () => {
    const svc = await startTestService();
    try {
      const doc = await svc.get('/openapi.json');
      assert.equal(doc.status, 200);
      assert.equal(doc.body.info.version, version);
    } finally {
      await svc.stop({ remove: true });
    }
    assert.equal((parse(readFileSync(`${root}openapi.yaml`, 'utf8')) as { info: { version: string } }).info.version, version);

    // A copy of the sources beside a package.json of another version: `rectify openapi`
    // writes that version, as `rectify --version` prints it.
    const dir = mkdtempSync(join(tmpdir(), 'rectify-version-'));
    try {
      cpSync(`${root}src`, join(dir, 'src'), { recursive: true });
      symlinkSync(realpathSync(`${root}migrations`), join(dir, 'migrations'));
      symlinkSync(realpathSync(`${root}node_modules`), join(dir, 'node_modules'));
      const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as Record<string, unknown>;
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ ...pkg, version: '9.8.7-next.1' }));
      const tsx = createRequire(import.meta.url).resolve('tsx/cli');
      await run(process.execPath, [tsx, join(dir, 'src/main.ts'), 'openapi', 'out.yaml'], { cwd: dir });
      assert.equal((parse(readFileSync(join(dir, 'out.yaml'), 'utf8')) as { info: { version: string } }).info.version, '9.8.7-next.1');
      const printed = await run(process.execPath, [tsx, join(dir, 'src/main.ts'), '--version'], { cwd: dir });
      assert.equal(printed.stdout, 'rectify 9.8.7-next.1\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
