import { slackSignature } from '../../src/api/slack-signature.js';
import { postRunbook, runbooksFile } from '../helpers/runbooks.js';
import type { TestService } from '../helpers/service.js';

/** The signing secret the Slack tests start rectify with (--slack-signing-secret). */
export const SLACK_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';

/**
 * The runbooks of the approval tests, all HIGH: rollback-deployment (one approver, a POST
 * to `<base>/undo/{deployment}`) and a replica drop (`dropId`, drop-replica unless given: two
 * approvers, a POST to `<base>/drop/{deployment}`), then `more` entries (from postRunbook).
 * With `ticket`, each incident carries its own ticket into the plan as the action's body: a
 * request of its own (alerts asking for the very same plan would join the first request;
 * see approval-storm.test.ts).
 */
export function approvalRunbooks(base: string, opts: { ticket?: boolean; dropId?: string; more?: string[] } = {}): string {
  const body = opts.ticket ? { body: '{ticket: "{ticket}"}' } : {};
  return runbooksFile(
    postRunbook('rollback-deployment', { trigger: 'error_rate_spike_after_deploy', url: `${base}/undo/{deployment}`, ...body }),
    postRunbook(opts.dropId ?? 'drop-replica', { trigger: 'replica_lag', approvalsRequired: 2, url: `${base}/drop/{deployment}`, ...body }),
    ...(opts.more ?? []),
  );
}

/** Where a click's outcome is told when a test gives no response_url: under Slack's own origin, which no test calls. */
export const SLACK_RESPOND = '/actions/T000/1/xyz';

/** A click on an approval message's button. */
export interface SlackClick {
  /** Who clicked; U0ALICE (alice) unless given. */
  user?: { id: string; username?: string };
  /** The button's action_id; the one `value`'s verb names unless given. */
  action_id?: string;
  /** `<approval id>:approve` or `<approval id>:reject`. */
  value: string;
  /** Where the outcome is told; Slack's own by default (which no test calls). */
  responseUrl?: string;
}

/** The form body Slack posts for a click (`payload=<the block_actions JSON>`). */
export function slackPayload(c: SlackClick): string {
  const payload = {
    type: 'block_actions',
    team: { id: 'T000', domain: 'example' },
    user: c.user ?? { id: 'U0ALICE', username: 'alice' },
    api_app_id: 'A000',
    trigger_id: '123.456.abc',
    channel: { id: 'C000', name: 'ops' },
    response_url: c.responseUrl ?? `https://hooks.slack.com${SLACK_RESPOND}`,
    actions: [{ type: 'button', block_id: 'b', action_id: c.action_id ?? (c.value.endsWith(':approve') ? 'rectify_approve' : 'rectify_reject'), value: c.value, action_ts: '1700000000.1' }],
  };
  return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

/** A click as Slack sends it, signed with SLACK_SECRET at the service's clock, through the app in process. */
export async function slackClick(svc: TestService, c: SlackClick): Promise<{ status: number; body: any }> {
  const ts = String(Math.floor(svc.clock.now() / 1000));
  const body = slackPayload(c);
  const r = await svc.app.inject({
    method: 'POST',
    url: '/api/v1/slack/interactions',
    payload: body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': slackSignature(SLACK_SECRET, ts, body) },
  });
  return { status: r.statusCode, body: JSON.parse(r.body) as any };
}
