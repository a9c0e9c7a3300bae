/**
 * `npm run demo`: the closed loop, live, with real parts.
 *
 * A flaky demo service → a real Prometheus scraping it and evaluating an alert
 * rule → a real Alertmanager routing the alert to rectify (a real `rectify serve`
 * process) → rectify restarts the service over HTTP → verifies with PromQL
 * against the same Prometheus → the resolved alert arrives. Everything listens
 * on loopback ports chosen at start and is removed at the end.
 *
 * Prints each leg as it happens and their measured durations at the end; exits
 * 0 when the loop closed, 1 when it did not within the deadline. Interrupted
 * (Ctrl-C, SIGTERM), it stops every part and removes its folders before it exits
 * (130, 143): a signal's default death would leave Prometheus, Alertmanager and
 * rectify running, orphaned, and their temp folders behind.
 */
import { spawn } from 'node:child_process';
import { access, constants, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALERTMANAGER_BIN, startAlertmanager } from '../test/helpers/alertmanager.js';
import { freePort, PROMETHEUS_BIN, startPrometheus, waitForQuery, type RunningDaemon } from '../test/helpers/prometheus.js';
import { startFlakyService, type FlakyService } from './flaky-service.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEADLINE_MS = 180_000;

async function missing(bin: string): Promise<boolean> {
  try {
    await access(bin, constants.X_OK);
    return false;
  } catch {
    return true;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function getJson(url: string): Promise<any> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3_000) });
  if (!res.ok) throw new Error(`GET ${url} → ${res.status}`);
  return res.json();
}

function runbook(flakyUrl: string): string {
  return `# The demo's one runbook: restart the flaky service when its error ratio is high.
runbooks:
  demo-restart:
    description: Restart the demo service when its error ratio stays above 5 %
    risk: LOW
    triggers: [DemoErrorRateHigh]
    min_confidence: 0.5
    max_per_hour: 3
    cooldown_minutes: 10
    action:
      http: {method: POST, url: "${flakyUrl}/restart", timeout_seconds: 5}
    rollback: none
    rollback_reason: a restart leaves nothing to undo; if the check fails, a person looks
    post_checks:
      - promql: {query: 'max(demo_error_ratio{service="{service}"})', expect: "< 0.05", for_seconds: 2, timeout_seconds: 60, interval_seconds: 1}
`;
}

const RULES = JSON.stringify({
  groups: [
    {
      name: 'demo',
      rules: [
        {
          alert: 'DemoErrorRateHigh',
          expr: 'max by (service) (demo_error_ratio) > 0.05',
          for: '2s',
          labels: { severity: 'critical' },
          annotations: { summary: 'demo error ratio {{ $value }}' },
        },
      ],
    },
  ],
});

/** What stops the parts and removes the temp folders, the last started first. */
const cleanups: Array<() => Promise<unknown>> = [];

let cleaning: Promise<void> | undefined;
/** Runs once, whether the demo ended or was interrupted (or both: an interrupt waits for the cleanup under way). */
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (let c = cleanups.shift(); c; c = cleanups.shift()) await c().catch(() => undefined);
  })();
  return cleaning;
}

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(signal, () => {
    process.stdout.write(`\n${signal}: stopping the demo's parts…\n`);
    void cleanUp().finally(() => process.exit(code));
  });
}

async function main(): Promise<number> {
  const absent = [
    ...((await missing(PROMETHEUS_BIN)) ? ['prometheus'] : []),
    ...((await missing(ALERTMANAGER_BIN)) ? ['prometheus-alertmanager'] : []),
  ];
  if (absent.length > 0) {
    process.stderr.write(
      `npm run demo needs the Debian packages ${absent.join(' and ')} (${PROMETHEUS_BIN}, ${ALERTMANAGER_BIN}).\n` +
        `Install them with:\n  sudo apt-get install -y --no-install-recommends prometheus prometheus-alertmanager\n` +
        `(then \`sudo systemctl disable --now prometheus prometheus-alertmanager\` if you do not want the packaged daemons running).\n`,
    );
    return 1;
  }

  const dir = await mkdtemp(join(tmpdir(), 'rectify-demo-'));
  const removeDir = () => rm(dir, { recursive: true, force: true });
  cleanups.push(removeDir);
  let t0 = Date.now();
  const at = () => `+${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s`;
  const say = (line: string) => process.stdout.write(`${line}\n`);

  try {
    say(`Starting the parts (all on loopback, in ${dir})…`);
    const flaky: FlakyService = await startFlakyService({ restartMs: 1_000 });
    cleanups.unshift(() => flaky.close());
    say(`  flaky demo service     ${flaky.url}`);

    const rectifyPort = await freePort();
    const rectifyUrl = `http://127.0.0.1:${rectifyPort}`;
    const am: RunningDaemon = await startAlertmanager({ webhookUrl: `${rectifyUrl}/api/v1/webhooks/alertmanager`, groupBy: ['...'] });
    cleanups.unshift(() => am.stop());
    say(`  Alertmanager           ${am.url}  → ${rectifyUrl}/api/v1/webhooks/alertmanager`);

    const prom: RunningDaemon = await startPrometheus({ scrapeTargets: [flaky.hostPort], alertmanagerUrl: am.url, rules: RULES });
    cleanups.unshift(() => prom.stop());
    say(`  Prometheus             ${prom.url}  (scrapes every 1 s, rule DemoErrorRateHigh: error ratio > 0.05 for 2 s)`);

    await writeFile(join(dir, 'demo.yaml'), runbook(flaky.url));
    const logFile = join(dir, 'rectify.log');
    const child = spawn(
      process.execPath,
      // A short shutdown grace: stopped mid-run, rectify records the run INTERRUPTED at once
      // instead of draining for 30 s while the demo waits for it.
      ['--import', 'tsx', join(ROOT, 'src/main.ts'), 'serve', '--listen', `127.0.0.1:${rectifyPort}`, '--db', `sqlite:${join(dir, 'rectify.db')}`, '--runbooks', dir, '--prometheus-url', prom.url, '--shutdown-grace', '2s'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const logChunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => logChunks.push(b));
    child.stderr.on('data', (b: Buffer) => logChunks.push(b));
    cleanups.unshift(async () => {
      await writeFile(logFile, Buffer.concat(logChunks));
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    });
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`rectify exited with ${child.exitCode}:\n${Buffer.concat(logChunks).toString()}`);
      try {
        if ((await fetch(`${rectifyUrl}/readyz`)).ok) break;
      } catch {
        /* not listening yet */
      }
      if (i > 150) throw new Error('rectify did not become ready within 30 s');
      await sleep(200);
    }
    say(`  rectify                ${rectifyUrl}  (runbook demo-restart: POST ${flaky.url}/restart, verify with PromQL)`);

    say('Waiting for Prometheus to scrape the healthy service…');
    await waitForQuery(prom.url, 'demo_error_ratio', (v) => v.length === 1 && v[0] === 0, 30_000);

    // The loop starts here.
    await fetch(`${flaky.url}/break`, { method: 'POST' });
    const broke = Date.now();
    t0 = broke;
    say('');
    say(`${at()}  broke the demo service: error ratio 0.40`);
    const marks: Record<string, number> = { broke };
    const seen = new Set<number>();

    const deadline = Date.now() + DEADLINE_MS;
    while (Date.now() < deadline && (marks.resolved === undefined || marks.verified === undefined)) {
      if (marks.fired === undefined) {
        const alerts = (await getJson(`${prom.url}/api/v1/alerts`)).data.alerts as Array<{ labels: Record<string, string>; state: string }>;
        const a = alerts.find((x) => x.labels.alertname === 'DemoErrorRateHigh');
        if (a?.state === 'pending' && marks.pending === undefined) {
          marks.pending = Date.now();
          say(`${at()}  Prometheus: DemoErrorRateHigh pending (the rule's "for: 2s")`);
        }
        if (a?.state === 'firing') {
          marks.fired = Date.now();
          say(`${at()}  Prometheus: DemoErrorRateHigh firing → sent to Alertmanager`);
        }
      }
      const events = ((await getJson(`${rectifyUrl}/api/v1/audit?limit=100`)).events as Array<Record<string, any>>).reverse();
      for (const e of events) {
        if (seen.has(e.seq)) continue;
        seen.add(e.seq);
        const d = e.details ?? {};
        switch (e.event) {
          case 'EXECUTING':
            marks.decided = Date.now();
            say(`${at()}  rectify: decision AUTO → runbook ${e.runbook} for service ${d.service ?? 'demo'} (execution ${e.execution_id})`);
            break;
          case 'STEP_FINISHED':
            if (d.phase === 'action') {
              marks.acted = Date.now();
              say(`${at()}  rectify: action ${d.ok ? 'done' : 'FAILED'}: ${d.summary} (${d.detail})`);
            }
            break;
          case 'SUCCESS':
            marks.verified = Date.now();
            say(`${at()}  rectify: verified — PromQL post-check passed, execution succeeded`);
            break;
          case 'FAILED':
          case 'ROLLED_BACK':
          case 'INTERRUPTED':
            say(`${at()}  rectify: ${e.event}: ${d.reason ?? ''}`);
            marks.failed = Date.now();
            break;
          case 'RESOLVED':
            marks.resolved = Date.now();
            say(`${at()}  Alertmanager: DemoErrorRateHigh resolved → recorded by rectify`);
            break;
          default:
            if (!['NOTIFIED', 'STEP_STARTED'].includes(e.event)) say(`${at()}  rectify: ${e.event}${e.runbook ? ` (${e.runbook})` : ''}`);
        }
      }
      if (marks.failed !== undefined) break;
      await sleep(200);
    }

    say('');
    if (marks.resolved === undefined || marks.verified === undefined) {
      const why =
        marks.failed !== undefined
          ? "The remediation did not succeed (see rectify's lines above)."
          : `The loop did not close within ${DEADLINE_MS / 1000} s.`;
      say(`${why} rectify's log: ${logFile} (kept)`);
      cleanups.splice(cleanups.indexOf(removeDir), 1); // keep the temp dir for the log
      return 1;
    }
    const leg = (from: string, to: string) =>
      marks[from] !== undefined && marks[to] !== undefined ? `${((marks[to]! - marks[from]!) / 1000).toFixed(1)} s` : '—';
    say('The loop, measured:');
    say(`  detection     broken → alert firing        ${leg('broke', 'fired')}   (scrape + rule "for: 2s")`);
    say(`  delivery      firing → rectify's decision  ${leg('fired', 'decided')}   (Alertmanager group_wait 1 s)`);
    say(`  action        decision → restart done      ${leg('decided', 'acted')}`);
    say(`  verification  restart → PromQL check held  ${leg('acted', 'verified')}   (restart takes 1 s, check holds for 2 s)`);
    say(`  resolution    restart → resolved alert     ${leg('acted', 'resolved')}   (Prometheus sees the ratio drop, Alertmanager sends resolved)`);
    say(`  total         broken → verified, resolved  ${leg('broke', marks.verified! > marks.resolved! ? 'verified' : 'resolved')}`);
    const restarts = flaky.restarts();
    say(`Restarts asked of the demo service: ${restarts} (${restarts === 1 ? 'exactly one remediation' : 'expected exactly one'}).`);
    return restarts === 1 ? 0 : 1;
  } finally {
    await cleanUp();
  }
}

process.exitCode = await main().catch(async (err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
});


