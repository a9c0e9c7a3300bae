import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Runbooks the storm alerts match. Every alert matches a runbook (the most
 * expensive decision path: match, confidence, executors, placeholders rendered,
 * pause, windows, circuit, rate limit, cooldown, blast radius, risk), and the
 * action is real: an HTTP call to a local target. `max_per_hour: 5` per runbook
 * and service, so a storm gives exactly 5 executions per pair and the rest are
 * RATE_LIMITED, as in production. Concurrency and blast-radius limits are raised
 * so the counts are exact and checkable. The action's timeout is long (120 s): the
 * 1,000-runbook storm starts 5,000 executions, at most 64 in flight to the target,
 * and on a slow afternoon the last of them wait more than 10 s for their turn while
 * the storm holds the event loop; they would fail as timed out, which is right for
 * a runbook but not what these storms measure.
 */
export const STORM_ALERTNAME = 'KubePodCrashLooping';
export const MAX_PER_HOUR = 5;

function runbook(id: string, trigger: string, targetUrl: string): string {
  return `  ${id}:
    description: Restart the workload of a crash-looping pod
    risk: LOW
    triggers: [${trigger}]
    match: ['severity=~"critical|warning"', 'namespace="production"']
    min_confidence: 0.8
    max_per_hour: ${MAX_PER_HOUR}
    cooldown_minutes: 0
    blast_radius_limit: 100000
    action:
      http: {method: POST, url: "${targetUrl}/restart/{service}", expect_status: [200, 299], timeout_seconds: 120}
`;
}

/** One runbook for the storm alert name. */
export function writeStormRunbooks(dir: string, targetUrl: string): { alertnames: string[] } {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'storm.yaml'), `runbooks:\n${runbook('restart-crashlooping', STORM_ALERTNAME, targetUrl)}`);
  return { alertnames: [STORM_ALERTNAME] };
}

/** `count` runbooks with distinct triggers, spread over ten files; the alerts use every trigger in turn. */
export function writeManyRunbooks(dir: string, targetUrl: string, count: number): { alertnames: string[] } {
  mkdirSync(dir, { recursive: true });
  const alertnames: string[] = [];
  const files: string[][] = Array.from({ length: 10 }, () => []);
  for (let i = 0; i < count; i++) {
    const name = `BenchAlert${String(i).padStart(4, '0')}`;
    alertnames.push(name);
    files[i % 10]!.push(runbook(`fix-${String(i).padStart(4, '0')}`, name, targetUrl));
  }
  files.forEach((rbs, k) => writeFileSync(join(dir, `many-${k}.yaml`), `runbooks:\n${rbs.join('')}`));
  return { alertnames };
}
