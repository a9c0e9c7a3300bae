import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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
      error: `secret \${file:${dir}/missing} does not exist`,
    });
    assert.deepEqual(await resolveSecrets(`\${file:${dir}/empty}`, { env: {} }, signal), { ok: false, error: `secret \${file:${dir}/empty} is empty` });
  });

  it('rejects malformed references instead of sending them literally', async () => {
    assert.deepEqual(await resolveSecrets('${env:API-TOKEN}', { env: {} }, signal), {
      ok: false,
      error: 'secret ${env:API-TOKEN}: not a valid variable name',
    });
    assert.deepEqual(await resolveSecrets('${file:relative/path}', { env: {} }, signal), {
      ok: false,
      error: 'secret ${file:relative/path}: the path must be absolute',
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
