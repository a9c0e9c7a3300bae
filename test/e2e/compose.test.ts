import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { readTokensFile } from '../../src/api/tokens.js';
import { runCli } from '../../src/cli/index.js';

/**
 * docker-compose.yml cannot be brought up here (no image registry), so its parts
 * are checked with the tools that own them: Prometheus' promtool and
 * Alertmanager's amtool validate their configs, rectify lints the demo runbook,
 * and the token Alertmanager sends is one the tokens file accepts for intake.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const COMPOSE = join(ROOT, 'deploy/compose');
const run = promisify(execFile);

describe('docker-compose.yml and deploy/compose', () => {
  const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { volumes?: string[]; command?: string[]; stop_grace_period?: string }>;
  };

  it('runs rectify, the demo service, Prometheus and Alertmanager, mounting files that exist', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['alertmanager', 'flaky', 'prometheus', 'rectify']);
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const v of svc.volumes ?? []) {
        const src = v.split(':')[0]!;
        if (src.startsWith('./')) assert.ok(existsSync(join(ROOT, src)), `${name} mounts ${src}, which does not exist`);
      }
    }
    // Listening beyond loopback needs tokens: the compose file gives them.
    const args = compose.services.rectify?.command ?? [];
    assert.ok(args.includes('--listen=0.0.0.0:9095'));
    assert.ok(args.includes('--tokens=/etc/rectify/tokens.yaml'));
  });

  it('gives rectify longer to stop than its --shutdown-grace (30 s by default), so a stop drains instead of killing', () => {
    const args = compose.services.rectify?.command ?? [];
    assert.equal(args.some((a) => a.startsWith('--shutdown-grace')), false, 'the default grace');
    const grace = /^(\d+)s$/.exec(compose.services.rectify?.stop_grace_period ?? '');
    assert.ok(grace && Number(grace[1]) > 30, `stop_grace_period ${compose.services.rectify?.stop_grace_period}`);
  });

  it('promtool accepts the Prometheus config and rules; amtool the Alertmanager config', async () => {
    const rules = await run('promtool', ['check', 'rules', join(COMPOSE, 'rules.yml')]);
    assert.match(rules.stdout, /SUCCESS: 1 rules found/);
    const am = await run('amtool', ['check-config', join(COMPOSE, 'alertmanager.yml')]);
    assert.match(am.stdout, /SUCCESS/);
    // The config names the rules at their in-container path; check it with the local one.
    const prom = readFileSync(join(COMPOSE, 'prometheus.yml'), 'utf8').replace('/etc/prometheus/rules.yml', join(COMPOSE, 'rules.yml'));
    const dir = await mkdtemp(join(tmpdir(), 'rectify-compose-'));
    try {
      await writeFile(join(dir, 'prometheus.yml'), prom);
      const out = await run('promtool', ['check', 'config', join(dir, 'prometheus.yml')]);
      assert.match(out.stdout, /is valid prometheus config file syntax/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the bearer token Alertmanager sends is an ingest token of the tokens file', () => {
    const am = parse(readFileSync(join(COMPOSE, 'alertmanager.yml'), 'utf8')) as {
      receivers: Array<{ webhook_configs: Array<{ url: string; http_config: { authorization: { credentials: string } } }> }>;
    };
    const hook = am.receivers[0]!.webhook_configs[0]!;
    assert.equal(hook.url, 'http://rectify:9095/api/v1/webhooks/alertmanager');
    const sha = createHash('sha256').update(hook.http_config.authorization.credentials).digest('hex');
    const tokens = parse(readFileSync(join(COMPOSE, 'tokens.yaml'), 'utf8')) as { tokens: Array<{ name: string; roles: string[]; sha256: string }> };
    const entry = tokens.tokens.find((t) => t.sha256 === sha);
    assert.ok(entry, 'no token in tokens.yaml matches the one Alertmanager sends');
    assert.deepEqual(entry.roles, ['ingest']);
  });

  it('Prometheus scrapes rectify with a viewer token of the tokens file, no more', () => {
    const prom = parse(readFileSync(join(COMPOSE, 'prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }>; authorization?: { credentials: string } }>;
    };
    const job = prom.scrape_configs.find((j) => j.job_name === 'rectify');
    assert.deepEqual(job?.static_configs[0]?.targets, ['rectify:9095']);
    const sha = createHash('sha256').update(job?.authorization?.credentials ?? '').digest('hex');
    const tokens = parse(readFileSync(join(COMPOSE, 'tokens.yaml'), 'utf8')) as { tokens: Array<{ name: string; roles: string[]; sha256: string }> };
    const entry = tokens.tokens.find((t) => t.sha256 === sha);
    assert.ok(entry, 'no token in tokens.yaml matches the one Prometheus sends');
    assert.deepEqual(entry.roles, ['viewer']);
    const read = readTokensFile(join(COMPOSE, 'tokens.yaml'));
    assert.ok(read.ok, 'rectify reads the tokens file');
    assert.deepEqual(read.tokens.map((t) => [t.name, t.roles]), [['alertmanager', ['ingest']], ['prometheus', ['viewer']], ['demo-admin', ['admin']]]);
  });

  it('rectify lint accepts the demo runbook', async () => {
    const out: string[] = [];
    const code = await runCli(['lint', join(COMPOSE, 'runbooks')], { out: (l) => out.push(l), err: (l) => out.push(l), env: {}, cwd: ROOT });
    assert.equal(code, 0, out.join('\n'));
  });
});
