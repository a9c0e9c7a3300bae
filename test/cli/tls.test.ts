import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { cli } from './capture.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A self-signed certificate for IP 127.0.0.1 only, as an operator would make one. */
function selfSigned(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'rectify.crt');
  const key = join(dir, 'rectify.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=rectify', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

/** The CLI as a process: NODE_EXTRA_CA_CERTS is read when Node starts. */
function rectify(argv: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/main.ts', ...argv], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

describe('the CLI against a service with TLS: what is wrong, and what to do', () => {
  let dir: string;
  let pair: { cert: string; key: string };
  let svc: TestService;
  let url: string;
  let plain: HttpTarget;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rectify-cli-tls-'));
    pair = selfSigned(dir);
    svc = await startTestService({ args: ['--listen', '127.0.0.1:0', '--tls-cert', pair.cert, '--tls-key', pair.key] });
    url = await svc.service.listen();
    plain = await startHttpTarget();
  });
  after(async () => {
    await svc.stop({ remove: true });
    await plain.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a certificate the CLI does not trust: exit 3, naming NODE_EXTRA_CA_CERTS (it said "is it running?")', async () => {
    const r = await cli(['runbooks', '--json'], { env: { RECTIFY_SERVER: url } });
    const message = `cannot reach rectify at ${url}: its TLS certificate is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate); if it is the service's, give its CA certificate to the CLI with NODE_EXTRA_CA_CERTS=/path/to/ca.pem`;
    assert.deepEqual([r.code, r.err, r.json()], [3, [`rectify: ${message}`], { error: { code: 'UNREACHABLE', message, details: [] } }]);
  });

  it('http:// to the TLS port, and https:// to a port without TLS, each name the other scheme', async () => {
    const http = url.replace('https://', 'http://');
    const r = await cli(['runbooks'], { env: { RECTIFY_SERVER: http } });
    assert.deepEqual([r.code, r.err], [3, [`rectify: cannot reach rectify at ${http}: the connection was closed without an answer (UND_ERR_SOCKET); if the service listens with TLS (--tls-cert), its address starts https://`]]);
    const https = plain.url.replace('http://', 'https://');
    const s = await cli(['runbooks'], { env: { RECTIFY_SERVER: https } });
    assert.deepEqual([s.code, s.err], [3, [`rectify: cannot reach rectify at ${https}: no TLS there (ERR_SSL_WRONG_VERSION_NUMBER); if the service listens without --tls-cert, its address starts http://`]]);
  });

  it('a POST over http:// to the TLS port: nothing was read, so exit 3 with the scheme, not "may have acted" (exit 6)', async () => {
    const http = url.replace('https://', 'http://');
    const r = await cli(['pause', '--by', 'c', '--reason', 'x', '--json'], { env: { RECTIFY_SERVER: http } });
    const message = `cannot reach rectify at ${http}: the connection was closed without an answer (UND_ERR_SOCKET), and that port speaks TLS, so the request was not read (nothing was done); the service listens with TLS (--tls-cert): its address starts https://`;
    assert.deepEqual([r.code, r.err, r.json()], [3, [`rectify: ${message}`], { error: { code: 'UNREACHABLE', message, details: [] } }]);
  });

  it('with NODE_EXTRA_CA_CERTS it works; a host name the certificate is not for says so', { timeout: 60_000 }, async () => {
    const ok = await rectify(['runbooks', '--json'], { RECTIFY_SERVER: url, NODE_EXTRA_CA_CERTS: pair.cert });
    assert.deepEqual([ok.code, JSON.parse(ok.stdout), ok.stderr], [0, { runbooks: [], paused: null, reload_refused: null, paused_not_loaded: [], warnings: [] }, '']);
    const byName = url.replace('127.0.0.1', 'localhost');
    const wrong = await rectify(['runbooks'], { RECTIFY_SERVER: byName, NODE_EXTRA_CA_CERTS: pair.cert });
    assert.equal(wrong.code, 3);
    assert.equal(
      wrong.stderr,
      `rectify: cannot reach rectify at ${byName}: its TLS certificate is not for this host name (ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP does not match certificate's altnames); give --server the name the certificate was issued for\n`,
    );
  });
});
