import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveSecrets, resolveSecretsDeep, scrubSecrets } from '../../src/checks/secrets.js';

const signal = new AbortController().signal;

describe('secret references', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rectify-secrets-'));
    await writeFile(join(dir, 'token'), 's3cr3t-from-file\n');
    await writeFile(join(dir, 'empty'), '\n');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('resolves ${env:NAME} and ${file:/abs} and leaves other text alone', async () => {
    const r = await resolveSecrets(`Bearer \${env:TOKEN} \${file:${dir}/token} \${other} $HOME`, { env: { TOKEN: 'abc' } }, signal);
    assert.deepEqual(r, { ok: true, value: 'Bearer abc s3cr3t-from-file ${other} $HOME', secrets: ['abc', 's3cr3t-from-file'] });
  });

  it('names the missing reference, never a value', async () => {
    assert.deepEqual(await resolveSecrets('${env:NOPE}', { env: {} }, signal), { ok: false, error: 'secret ${env:NOPE} is not set' });
    assert.deepEqual(await resolveSecrets('${env:EMPTY}', { env: { EMPTY: '' } }, signal), { ok: false, error: 'secret ${env:EMPTY} is not set' });
    assert.deepEqual(await resolveSecrets(`\${file:${dir}/missing}`, { env: {} }, signal), {
      ok: false,
      error: `cannot read secret \${file:${dir}/missing}: ENOENT (file not found)`,
    });
    assert.deepEqual(await resolveSecrets(`\${file:${dir}/empty}`, { env: {} }, signal), { ok: false, error: `secret \${file:${dir}/empty} is empty` });
  });

  it('a FIFO, a device or a folder is refused at once, never waited on or read to the deadline; a file above 64 KiB is refused unread', async () => {
    // Nobody ever writes the FIFO: a read that waited on it would hang here for good (and hold a libuv thread).
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    await symlink(join(dir, 'fifo'), join(dir, 'to-fifo'));
    const notAFile = 'is not a regular file (a FIFO, a socket or a device)';
    for (const path of [join(dir, 'fifo'), join(dir, 'to-fifo'), '/dev/zero']) {
      assert.deepEqual(await resolveSecrets(`Bearer \${file:${path}}`, { env: {} }, signal), { ok: false, error: `cannot read secret \${file:${path}}: ${notAFile}` });
    }
    assert.deepEqual(await resolveSecrets(`\${file:${dir}}`, { env: {} }, signal), { ok: false, error: `cannot read secret \${file:${dir}}: is a directory` });
    await writeFile(join(dir, 'big'), 'x'.repeat(64 * 1024 + 1));
    assert.deepEqual(await resolveSecrets(`\${file:${dir}/big}`, { env: {} }, signal), {
      ok: false,
      error: `cannot read secret \${file:${dir}/big}: is larger than the 64 KiB a secret file may be (65537 bytes)`,
    });
    await writeFile(join(dir, 'just-fits'), `${'y'.repeat(64 * 1024 - 1)}\n`);
    const fits = await resolveSecrets(`\${file:${dir}/just-fits}`, { env: {} }, signal);
    assert.equal(fits.ok && fits.value.length, 64 * 1024 - 1);
    // An aborted step reads nothing.
    const aborted = await resolveSecrets(`\${file:${dir}/token}`, { env: {} }, AbortSignal.abort());
    assert.deepEqual(aborted, { ok: false, error: `cannot read secret \${file:${dir}/token}: ABORT_ERR` });
  });

  it('rejects malformed references instead of sending them literally', async () => {
    assert.deepEqual(await resolveSecrets('${env:API-TOKEN}', { env: {} }, signal), {
      ok: false,
      error: 'secret ${env:API-TOKEN}: "API-TOKEN" is not a valid variable name (letters, digits and _, not starting with a digit), so it can never be set',
    });
    assert.deepEqual(await resolveSecrets('${file:relative/path}', { env: {} }, signal), {
      ok: false,
      error: 'secret ${file:relative/path}: the path must be absolute (start with /)',
    });
    // No placeholder is filled inside a reference, which ends at its first "}": the file
    // "/var/run/secrets/{service" is never read (a runbook loading one is refused).
    assert.deepEqual(await resolveSecrets('Bearer ${file:/var/run/secrets/{service}/token}', { env: {}, readFile: async () => 'never' }, signal), {
      ok: false,
      error: 'secret ${file:/var/run/secrets/{service}: placeholders are not filled inside a secret reference (it ends at its first "}"), so "/var/run/secrets/{service" is read as written and can never resolve; write the path out in full',
    });
  });

  it('resolves every string in a JSON body, keys as written', async () => {
    const r = await resolveSecretsDeep({ a: ['${env:X}', 1, null, { b: 'x-${env:X}' }], '${env:X}': true }, { env: { X: 'v' } }, signal);
    assert.deepEqual(r, { ok: true, value: { a: ['v', 1, null, { b: 'x-v' }], '${env:X}': true }, secrets: ['v', 'v'] });
  });

  it('scrubs resolved values from text', () => {
    assert.equal(scrubSecrets('token abc and abcdef', ['abc', 'abcdef']), 'token *** and ***');
  });
});
