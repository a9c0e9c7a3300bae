import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { cli } from './capture.js';

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
});
