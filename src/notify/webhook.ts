import { oneLine, readable, readableWithin } from '../lib/index.js';
import { BODY_DISCARD_WAIT_MS, httpRequest } from '../checks/http-client.js';
import { receiverName } from './receiver.js';
import type { NotificationEvent, NotificationPlan, Notifier } from './types.js';

export interface Links {
  publicUrl: string | undefined;
}

export function linksFor(e: NotificationEvent, publicUrl: string | undefined): Record<string, string> {
  if (!publicUrl) return {};
  const base = publicUrl.replace(/\/+$/, '');
  const out: Record<string, string> = {};
  if (e.incident_id) out.incident = `${base}/api/v1/incidents/${encodeURIComponent(e.incident_id)}`;
  if (e.execution_id) out.execution = `${base}/api/v1/executions/${encodeURIComponent(e.execution_id)}`;
  if (e.approval_id) out.approval = `${base}/api/v1/approvals/${encodeURIComponent(e.approval_id)}`;
  return out;
}

/**
 * A refusal that trying again will not change (the receiver answered 4xx: gone, not
 * found, malformed): the queue records it at once instead of retrying.
 */
export class PermanentDeliveryError extends Error {
  readonly permanent = true;
}

/**
 * A receiver that is busy or rate-limits (429, 503) and says when to come back
 * (`Retry-After`): the queue waits that long before the next attempt (capped), instead
 * of its own short backoff, which would spend every attempt while it still refuses.
 */
export class RetryLaterError extends Error {
  constructor(
    /** What it answered (`answered 429`). */
    readonly answer: string,
    readonly retryAfterMs: number,
  ) {
    super(retryLaterDetail(answer, retryAfterMs, retryAfterMs));
  }
}

/**
 * The detail of an answer asking to retry after `askedMs`, of which `waitedMs` is waited
 * (the queue's cap): the wait rectify keeps, and what was asked when it waits less.
 */
export function retryLaterDetail(answer: string, waitedMs: number, askedMs: number): string {
  const s = (ms: number) => Math.ceil(ms / 1_000);
  const asked = askedMs >= RETRY_AFTER_READ_MAX_MS ? `a day or more` : `${s(askedMs)} s`;
  return s(waitedMs) < s(askedMs) ? `${answer} (retry after ${s(waitedMs)} s, the most waited: it asked for ${asked})` : `${answer} (retry after ${asked})`;
}

/**
 * What a redirect (3xx) is told as: a refusal, not followed and not retried, since the
 * URL configured is not where the receiver is. Only the origin it points to is named:
 * the rest of a Location (its path, its query) may carry a token.
 */
export function redirectDetail(status: number, location: string | undefined, url: string | URL): string {
  const answer = `answered ${status}`;
  if (!location?.trim()) return `${answer}: a redirect without a Location (not followed: check the receiver's URL)`;
  let origin = 'null';
  try {
    origin = new URL(location.trim(), url).origin;
  } catch {
    // Not a URL: named as elsewhere.
  }
  if (origin === 'null') return `${answer}: redirects elsewhere (not followed: check the receiver's URL)`;
  const within = origin === new URL(url).origin ? `another path on ${origin}` : origin;
  return `${answer}: redirects to ${within} (not followed: set the receiver's URL to where it redirects)`;
}

/** The longest `Retry-After` read as asked (a day): a longer one, or an absurd one, is read as this. */
export const RETRY_AFTER_READ_MAX_MS = 86_400_000;

/** A `Retry-After` value (delay-seconds, or an HTTP date) as milliseconds from `now`, at most RETRY_AFTER_READ_MAX_MS; undefined when it is neither. */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Math.min(Number(v) * 1_000, RETRY_AFTER_READ_MAX_MS);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.min(Math.max(0, at - now), RETRY_AFTER_READ_MAX_MS);
}

/**
 * One JSON POST, redirects not followed; throws `answered <status>` unless 2xx (permanent
 * for a 3xx, a redirect, naming the origin it points to, and for a 4xx other than 408 and
 * 429; a RetryLaterError for a 429 or 503 with `Retry-After`). A body is read for
 * BODY_DISCARD_WAIT_MS at most: one trickled in slowly does not hold the receiver's queue
 * for the attempt's whole timeout.
 */
export async function postJson(url: string | URL, body: unknown, signal: AbortSignal, headers: Record<string, string> = {}): Promise<void> {
  const res = await httpRequest(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
  await res.discard(BODY_DISCARD_WAIT_MS);
  if (res.status >= 200 && res.status <= 299) return;
  const message = `answered ${res.status}`;
  if (res.status >= 300 && res.status <= 399) throw new PermanentDeliveryError(redirectDetail(res.status, res.header('location'), url));
  if (res.status === 429 || res.status === 503) {
    const after = retryAfterMs(res.header('retry-after'), Date.now());
    if (after !== undefined) throw new RetryLaterError(message, after);
  }
  if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw new PermanentDeliveryError(message);
  throw new Error(message);
}

/**
 * A generic JSON webhook: the event as data, with links when --public-url is set. Its
 * `notification_id` goes as the `Idempotency-Key` header too, the same on every retry.
 */
export function createWebhookNotifier(url: string, publicUrl: string | undefined, opts: ReceiverOptions): Notifier {
  return {
    name: receiverName('webhook', url, opts.receiverKey),
    send: ({ shown_in_slack: _shown, ...e }, signal) =>
      postJson(url, { ...webhookText(e), at: new Date(e.at).toISOString(), links: linksFor(e, publicUrl) }, signal, e.notification_id ? { 'idempotency-key': e.notification_id } : {}),
  };
}

/**
 * The webhook's event with its text for people (the reason, the plan's step summaries)
 * made readable (lib readable: one line, invisible and control characters as their
 * escapes), as a receiver that shows it to someone would want it. The fields that are
 * data (ids, the service, the runbook, the outcome) go as they are: a receiver matches
 * on them, and `shop\u200b` is another service than `shop`.
 */
export function webhookText<E extends NotificationEvent>(e: E): E {
  return {
    ...e,
    reason: readable(e.reason),
    ...(e.plan ? { plan: { actions: e.plan.actions.map(readable), rollback: e.plan.rollback?.map(readable) ?? null } } : {}),
  };
}

/**
 * Slack reads `&`, `<` and `>` as markup in mrkdwn and in a message's `text`:
 * `<!channel>` pings everyone, `<https://x|Approve>` is a link. Values that come
 * from alerts (a service, a root cause, a reason naming them) are escaped, so an
 * alert cannot ping a channel or dress a link up in rectify's message.
 */
export function escapeSlackText(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

export { oneLine, readable, readableWithin };

/**
 * A value from an alert inside mrkdwn: readable (one line, what a screen draws as
 * nothing written as its escape), in a code span, where Slack renders no bold,
 * italics, link or mention; its own backticks (which would close the span) become
 * apostrophes, and `& < >` are escaped as everywhere.
 */
export function slackCode(s: string): string {
  return `\`${escapeSlackText(readable(s).replaceAll('`', "'"))}\``;
}

/** Characters of mrkdwn one plan section may hold (Slack's limit for a section's text is 3,000). */
const PLAN_TEXT_LIMIT = 2_900;
/** Characters of one step's summary shown, before escaping. */
const PLAN_STEP_LIMIT = 300;

/**
 * The plan an approval request asks to run, for Slack: the actions Approve would run
 * and the rollback, each step on a numbered line of a code block, where Slack renders
 * no formatting, link or mention. A summary holds values from the alert: readable,
 * its backticks (which could close the block) as apostrophes, `& < >` escaped. Steps
 * past the section's size limit are counted, not shown.
 */
export function slackPlanText(plan: NotificationPlan): string {
  const parts: Array<{ title: string; steps: string[] }> = [{ title: '*Plan: what Approve runs*', steps: plan.actions }];
  if (plan.rollback) parts.push({ title: '*Rollback if it fails*', steps: plan.rollback });
  // Room for the titles, the fences and a "more" line per part.
  let budget = PLAN_TEXT_LIMIT - parts.length * 120;
  const out: string[] = [];
  for (const { title, steps } of parts) {
    const lines: string[] = [];
    for (const [i, s] of steps.entries()) {
      const line = `${i + 1}. ${escapeSlackText(readable(s.slice(0, PLAN_STEP_LIMIT)).replaceAll('`', "'"))}`;
      if (line.length + 1 > budget) {
        lines.push(`… ${steps.length - i} more step(s): see the approval in rectify`);
        break;
      }
      budget -= line.length + 1;
      lines.push(line);
    }
    out.push(`${title}\n\`\`\`\n${lines.join('\n') || '(no steps)'}\n\`\`\``);
  }
  if (!plan.rollback) out.push('*Rollback if it fails*: none');
  return out.join('\n');
}

const ICON: Record<string, string> = {
  SUCCESS: ':white_check_mark:',
  FAILED: ':x:',
  ROLLED_BACK: ':leftwards_arrow_with_hook:',
  ROLLBACK_FAILED: ':sos:',
  PRE_CHECK_FAILED: ':no_entry:',
  INTERRUPTED: ':warning:',
  CIRCUIT_TRIPPED: ':rotating_light:',
  APPROVAL_REQUIRED: ':raised_hand:',
  // A vote on a request that needs another approver: it still asks (its message keeps its buttons).
  APPROVAL_VOTE: ':ballot_box_with_ballot:',
  // An approval request settled: its own message, without buttons, says how.
  APPROVED: ':ballot_box_with_check:',
  REJECTED: ':no_entry_sign:',
  EXPIRED: ':hourglass:',
  CANCELLED: ':heavy_multiplication_x:',
  SERVICE_PAUSED: ':double_vertical_bar:',
  SERVICE_RESUMED: ':arrow_forward:',
  RUNBOOK_PAUSED: ':double_vertical_bar:',
  RUNBOOK_RESUMED: ':arrow_forward:',
  CIRCUIT_CLOSED: ':white_check_mark:',
  COOLDOWN_CLEARED: ':fast_forward:',
  ALERTS_TRUNCATED: ':warning:',
};

/**
 * Approve and Reject buttons for an approval request, tied to that request: each
 * button's value names the approval id and the verb, and the verb must agree with
 * the action_id when the click comes back (POST /api/v1/slack/interactions).
 */
export function approvalButtons(approvalId: string): unknown {
  return {
    type: 'actions',
    block_id: `rectify_approval_${approvalId}`.slice(0, 255),
    elements: [
      {
        type: 'button',
        action_id: 'rectify_approve',
        style: 'primary',
        text: { type: 'plain_text', text: 'Approve' },
        value: `${approvalId}:approve`,
        confirm: {
          title: { type: 'plain_text', text: 'Approve this run?' },
          text: { type: 'mrkdwn', text: 'The guardrails run again, then the plan shown runs.' },
          confirm: { type: 'plain_text', text: 'Approve' },
          deny: { type: 'plain_text', text: 'Cancel' },
        },
      },
      { type: 'button', action_id: 'rectify_reject', style: 'danger', text: { type: 'plain_text', text: 'Reject' }, value: `${approvalId}:reject` },
    ],
  };
}

/** What every notifier is given. */
export interface ReceiverOptions {
  /** The key its name's hash of its URL is made with (see receiver.ts): the database's, so the name outlives a restart. */
  receiverKey: string;
}

export interface SlackNotifierOptions extends ReceiverOptions {
  /** Add Approve/Reject buttons to approval requests (needs --slack-signing-secret to be of use). */
  buttons?: boolean;
  /** Slack user ids who may click them (--slack-approvers): approval requests mention them, so Slack notifies them. */
  approvers?: readonly string[];
}

/** How rectify's Slack messages look: the links, and the buttons and whom they mention. */
interface SlackLook {
  publicUrl: string | undefined;
  buttons?: boolean | undefined;
  approvers?: readonly string[] | undefined;
}

/**
 * A time (epoch ms) in Slack's date markup: "today at 14:03:07" in the reader's own time
 * zone, the ISO time where Slack cannot show that.
 */
export function slackTime(at: number): string {
  return `<!date^${Math.floor(at / 1_000)}^{date_short_pretty} at {time_secs}|${new Date(at).toISOString()}>`;
}

/**
 * One notification as a Slack message (Block Kit): a header, the values as fields, the
 * reason, a link and `at` (when it happened), the plan and the buttons of a request that
 * asks. `status`: a line above the reason (a request's votes so far); `asks`: whether it
 * carries the request's buttons and mentions the people who may click them.
 */
function slackBlocks(e: NotificationEvent, look: SlackLook, extra: { title?: string; status?: string; asks?: boolean; at?: number } = {}): { title: string; blocks: unknown[] } {
  const asks = extra.asks ?? e.event === 'APPROVAL_REQUIRED';
  const links = linksFor(e, look.publicUrl);
  const link = links.approval ?? links.execution ?? links.incident;
  const title = readable(extra.title ?? `${ICON[e.event] ?? ':information_source:'} rectify: ${e.event} ${e.runbook ?? ''}`.trim());
  // Values (an alert's service, a posted incident id) in code spans; our own labels in
  // bold; verbatim, so Slack adds no link or mention of its own to any of it.
  const value = (v: string | null | undefined) => slackCode((v ?? '—').slice(0, 500));
  const fields = [
    `*Incident*\n${value(e.incident_id)}`,
    `*Service*\n${value(e.service)}`,
    `*Runbook*\n${value(e.runbook)}`,
    `*Outcome*\n${value(e.outcome)}`,
    ...(e.owner ? [`*Approver*\n${value(e.owner)}`] : []),
    // Slack user ids (checked at load) as mentions: Slack notifies each of them.
    ...(look.buttons && look.approvers?.length && asks ? [`*Who may approve here*\n${look.approvers.map((id) => `<@${id}>`).join(' ')}`] : []),
  ].map((text) => ({ type: 'mrkdwn', text: text.slice(0, 2000), verbatim: true }));
  const blocks: unknown[] = [{ type: 'header', text: { type: 'plain_text', text: title.slice(0, 150) } }, { type: 'section', fields }];
  // Rectify's prose naming alert values and people (an approver's comment): plain text, where nothing is formatted.
  if (extra.status !== undefined) blocks.push({ type: 'section', text: { type: 'plain_text', text: readableWithin(extra.status, 2900) || '—' } });
  blocks.push({ type: 'section', text: { type: 'plain_text', text: readableWithin(e.reason, 2900) || '—' } });
  // The link, and when it happened (a message that comes late says so in its reason: see queue.ts delayedNote).
  const context = [
    ...(link ? [{ type: 'mrkdwn', text: `<${link}|Open in rectify>`, verbatim: true }] : []),
    ...(extra.at !== undefined ? [{ type: 'mrkdwn', text: `Happened ${slackTime(extra.at)}`, verbatim: true }] : []),
  ];
  if (context.length > 0) blocks.push({ type: 'context', elements: context });
  // What the Approve button would run, right above it.
  if (e.plan) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: slackPlanText(e.plan), verbatim: true } });
  if (look.buttons && asks && e.approval_id) blocks.push(approvalButtons(e.approval_id));
  return { title, blocks };
}

/** Slack incoming webhook: Block Kit with the incident, the runbook, the outcome and a link. */
export function createSlackNotifier(url: string, publicUrl: string | undefined, opts: SlackNotifierOptions): Notifier {
  return {
    // The path of a Slack webhook URL is its credential: only the host is named, and a keyed hash of the whole.
    name: receiverName('slack', url, opts.receiverKey),
    // A settlement or a vote a click made is shown by the click's answer, which replaced the
    // request's message with it (api/routes/slack.ts): a message of its own would say it twice.
    tells: (e) => e.shown_in_slack !== true,
    send(e, signal) {
      const { title, blocks } = slackBlocks(e, { publicUrl, buttons: opts.buttons, approvers: opts.approvers }, { at: e.at });
      return postJson(url, { text: escapeSlackText(`${title}: ${readable(e.reason)}`).slice(0, 3000), blocks }, signal);
    },
  };
}

/** An approval request still pending after a vote, as its Slack message shows it. */
export interface SlackPendingRequest {
  approval_id: string;
  incident_id: string;
  runbook: string;
  service: string;
  /** Why it was asked for (the request's own reason). */
  reason: string;
  owner?: string;
  plan: NotificationPlan;
  /** The votes so far, oldest first, each by its approver as people know them. */
  votes: ReadonlyArray<{ who: string; comment: string | null }>;
  approvals_required: number;
  expires_at: number;
}

/**
 * The message a Slack click that cast a vote short of the last replaces the request's
 * with (through its response_url): the request as it stands now. Who approved, with
 * their comments; how many more approvers it needs, and that none of them may be one who
 * approved already; the deadline; and the Approve and Reject buttons, still there for
 * the next approver. `text` is the fallback (notifications, screen readers), unescaped:
 * the caller escapes it as it does every response's.
 */
export function slackVoteMessage(r: SlackPendingRequest, look: { publicUrl: string | undefined; approvers?: readonly string[] | undefined }): { replace_original: true; text: string; blocks: unknown[] } {
  const count = `${r.votes.length} of ${r.approvals_required} approvals`;
  const names = r.votes.map((v) => (v.comment ? `${v.who} ("${v.comment}")` : v.who));
  const approvedBy = names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]!}`;
  const left = r.approvals_required - r.votes.length;
  const already = r.votes.map((v) => v.who);
  const others = already.length <= 1 ? (already[0] ?? '') : `${already.slice(0, -1).join(', ')} or ${already[already.length - 1]!}`;
  const needed = left === 1 ? 'One more approver is needed' : `${left} more approvers are needed`;
  const status =
    `Approved by ${approvedBy}: ${count}. ${needed} before it runs, someone other than ${others}: the same person cannot approve it twice. ` +
    `Approve or reject it by ${new Date(r.expires_at).toISOString()}, when the request expires.`;
  const request: NotificationEvent = {
    event: 'APPROVAL_REQUIRED',
    incident_id: r.incident_id,
    runbook: r.runbook,
    service: r.service,
    execution_id: null,
    approval_id: r.approval_id,
    outcome: 'pending',
    reason: r.reason,
    at: 0,
    ...(r.owner ? { owner: r.owner } : {}),
    plan: r.plan,
  };
  const { title, blocks } = slackBlocks(request, { publicUrl: look.publicUrl, buttons: true, approvers: look.approvers }, { title: `${ICON.APPROVAL_VOTE} rectify: APPROVAL_REQUIRED ${r.runbook}: ${count}`, status, asks: true });
  return { replace_original: true, text: `${title}: ${readable(status)}`.slice(0, 3000), blocks };
}
