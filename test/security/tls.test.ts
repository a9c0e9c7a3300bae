import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { startTestService, type TestService } from '../helpers/service.js';
import { bearer, issueToken, writeTokensFile } from '../helpers/tokens.js';

/** A self-signed certificate for 127.0.0.1 whose validity ended a day ago (openssl's -days -1). */
function expired(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-keyout', key, '-out', csr], { stdio: 'ignore' });
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-signkey', key, '-days', '-1', '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

/** A self-signed certificate for 127.0.0.1 made by openssl, as an operator would for a test setup. */
function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

interface Answer {
  status: number;
  body: string;
  /** SHA-256 fingerprint of the certificate the server presented. */
  fingerprint: string;
}

/** A real HTTPS request trusting exactly `ca`; a fresh connection each time (no agent), so a reloaded certificate shows. */
function get(url: string, path: string, ca: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url + path, { ca: readFileSync(ca), agent: false, headers }, (res) => {
      const peer = (res.socket as TLSSocket).getPeerX509Certificate();
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint: peer?.fingerprint256 ?? '' }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTPS with --tls-cert and --tls-key', () => {
  let dir: string;
  let svc: TestService;
  let url: string;
  let first: { cert: string; key: string };
  const viewer = issueToken('grafana', ['viewer']);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rectify-tls-'));
    first = selfSigned(dir, 'first');
    svc = await startTestService({ args: ['--listen', '127.0.0.1:0', '--tls-cert', first.cert, '--tls-key', first.key, '--tokens', writeTokensFile(dir, [viewer])] });
    url = await svc.service.listen();
  });
  after(async () => {
    await svc.stop({ remove: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves HTTPS: a real TLS request verified against the certificate, with a bearer token', async () => {
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const health = await get(url, '/healthz', first.cert);
    assert.equal(health.status, 200);
    assert.equal(health.fingerprint, new X509Certificate(readFileSync(first.cert)).fingerprint256);
    assert.equal((await get(url, '/api/v1/runbooks', first.cert)).status, 401);
    const ok = await get(url, '/api/v1/runbooks', first.cert, bearer(viewer));
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body), { runbooks: [], paused: null, reload_refused: null, paused_not_loaded: [], warnings: [] });
  });

  it('plain HTTP on the same port gets no answer from the API', async () => {
    const plain = url.replace('https://', 'http://');
    const r = await fetch(`${plain}/healthz`).then(
      (res) => res.status,
      () => 'refused',
    );
    assert.notEqual(r, 200);
  });

  it('a client that does not trust the certificate refuses the connection', async () => {
    const other = selfSigned(dir, 'other');
    await assert.rejects(get(url, '/healthz', other.cert), /self[- ]signed|unable to verify|certificate/i);
  });

  it('reload (SIGHUP) swaps in a renewed certificate; a broken pair keeps the old one', async () => {
    const renewed = selfSigned(dir, 'renewed');
    // The files the settings name are replaced in place, as cert-manager does.
    execFileSync('cp', [renewed.cert, first.cert]);
    execFileSync('cp', [renewed.key, first.key]);
    assert.deepEqual((await svc.service.reload()).tls, { ok: true });
    const after1 = await get(url, '/healthz', renewed.cert);
    assert.equal(after1.fingerprint, new X509Certificate(readFileSync(renewed.cert)).fingerprint256);

    const stray = selfSigned(dir, 'stray');
    execFileSync('cp', [stray.key, first.key]);
    const report = (await svc.service.reload()).tls;
    assert.equal(report?.ok, false);
    assert.match((report as { problem: string }).problem, /the TLS certificate and key cannot be used together/);
    const still = await get(url, '/healthz', renewed.cert);
    assert.equal(still.fingerprint, after1.fingerprint, 'the previous certificate stays in force');

    // An expired pair that fits together (an old file put back) is refused too.
    const old = expired(dir, 'old');
    execFileSync('cp', [old.cert, first.cert]);
    execFileSync('cp', [old.key, first.key]);
    const stale = (await svc.service.reload()).tls;
    assert.equal(stale?.ok, false);
    assert.match((stale as { problem: string }).problem, /^the TLS certificate expired on \d{4}-\d\d-\d\dT[0-9:.]+Z: clients that check it refuse the connection$/);
    assert.equal((await get(url, '/healthz', renewed.cert)).fingerprint, after1.fingerprint, 'the previous certificate stays in force');
  });
});

describe('TLS settings at startup', () => {
  it('a key that does not belong to the certificate, or a missing file, stops startup naming the setting', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-tls-'));
    const a = selfSigned(dir, 'a');
    const b = selfSigned(dir, 'b');
    await assert.rejects(startTestService({ args: ['--tls-cert', a.cert, '--tls-key', b.key] }), (err: Error) => {
      assert.match(err.message, /^--tls-key: the TLS certificate and key cannot be used together: .+/);
      return true;
    });
    await assert.rejects(startTestService({ args: ['--tls-cert', join(dir, 'none.crt'), '--tls-key', a.key] }), (err: Error) => {
      assert.equal(err.message, `--tls-cert: cannot read ${JSON.stringify(join(dir, 'none.crt'))}: ENOENT (file not found)`);
      return true;
    });
    rmSync(dir, { recursive: true, force: true });
  });

  it('a FIFO, a folder or an oversized file named by a TLS setting or a ${file:} secret is refused, never waited on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-tls-'));
    const a = selfSigned(dir, 'a');
    const fifo = join(dir, 'cert.fifo');
    execFileSync('mkfifo', [fifo]);
    // readFileSync on a FIFO with no writer blocks the event loop for good: startup (and every SIGHUP) would hang.
    await assert.rejects(startTestService({ args: ['--tls-cert', fifo, '--tls-key', a.key] }), (err: Error) => {
      assert.equal(err.message, `--tls-cert: cannot read ${JSON.stringify(fifo)}: is not a regular file (a FIFO, a socket or a device)`);
      return true;
    });
    await assert.rejects(startTestService({ args: ['--tls-cert', a.cert, '--tls-key', dir] }), (err: Error) => {
      assert.equal(err.message, `--tls-key: cannot read ${JSON.stringify(dir)}: is a directory`);
      return true;
    });
    await assert.rejects(startTestService({ args: ['--audit-key', `\${file:${fifo}}`] }), (err: Error) => {
      assert.equal(err.message, `--audit-key: cannot read ${JSON.stringify(fifo)}: is not a regular file (a FIFO, a socket or a device)`);
      return true;
    });
    const big = join(dir, 'big.key');
    writeFileSync(big, 'k'.repeat(64 * 1024 + 1));
    await assert.rejects(startTestService({ args: ['--audit-key', `\${file:${big}}`] }), (err: Error) => {
      assert.equal(err.message, `--audit-key: cannot read ${JSON.stringify(big)}: is larger than the 64 KiB a secret file may be (65537 bytes)`);
      return true;
    });
    rmSync(dir, { recursive: true, force: true });
  });

  it('a file that is not what its setting says is named by that setting, not blamed on the other', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-tls-'));
    try {
      const a = selfSigned(dir, 'a');
      const junk = join(dir, 'junk.pem');
      writeFileSync(junk, 'not a certificate\n');
      await assert.rejects(startTestService({ args: ['--tls-cert', junk, '--tls-key', a.key] }), (err: Error) => {
        assert.equal(err.message, `--tls-cert: ${JSON.stringify(junk)} holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)`);
        return true;
      });
      // The two swapped: one line each.
      await assert.rejects(startTestService({ args: ['--tls-cert', a.key, '--tls-key', a.cert] }), (err: Error) => {
        const lines = err.message.split('\n');
        assert.equal(lines.length, 2, err.message);
        assert.equal(lines[0], `--tls-cert: ${JSON.stringify(a.key)} holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)`);
        const keyLine = `--tls-key: ${JSON.stringify(a.cert)} holds no usable private key: expected PEM (-----BEGIN PRIVATE KEY-----): `;
        assert.ok(lines[1]!.startsWith(keyLine), lines[1]);
        return true;
      });
      // A key kept under a passphrase: said so, with the way out.
      const encrypted = join(dir, 'encrypted.key');
      execFileSync('openssl', ['pkey', '-in', a.key, '-aes256', '-passout', 'pass:secret', '-out', encrypted], { stdio: 'ignore' });
      await assert.rejects(startTestService({ args: ['--tls-cert', a.cert, '--tls-key', encrypted] }), (err: Error) => {
        assert.equal(err.message, `--tls-key: ${JSON.stringify(encrypted)} holds no usable private key: it is encrypted: give the key without a passphrase (openssl pkey -in key.pem -out plain.pem)`);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an expired certificate is served (there is no other) with a warning saying when it expired', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rectify-tls-'));
    const old = expired(dir, 'old');
    const svc = await startTestService({ args: ['--tls-cert', old.cert, '--tls-key', old.key], captureLogs: true });
    try {
      const warned = svc.log.records().filter((r) => String(r.msg).startsWith('the TLS certificate expired on '));
      assert.deepEqual(warned.map((r) => [r.level, r.cert]), [['warn', old.cert]]);
    } finally {
      await svc.stop({ remove: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
