import type { Logger } from 'pino';
import { errorMessage, sleep, withTimeout } from '../lib/index.js';
import { PermanentDeliveryError, postJson } from './webhook.js';

/**
 * Slack shows nothing of what an app answers to a button click (block_actions):
 * the answer is an acknowledgment only. What the person clicked is told through
 * the `response_url` of the click's payload instead, which Slack accepts for 30
 * minutes: an ephemeral line to the one who clicked, or the approval message
 * itself replaced with its outcome, so the channel sees who decided and the
 * buttons are gone, or, after a vote short of the last, with the request as it
 * stands (who approved, the buttons still there for the next approver). That
 * replaced message is the channel's one message of the decision or the vote:
 * the Slack receiver is not sent it again (NotificationEvent.shown_in_slack);
 * the response delivered is recorded as its delivery (`after.delivered`), and should
 * the response fail, it is told after all (`after.failed`). A response Slack refuses
 * (a 4xx other than 408 and 429: the URL expired or used up), or redirects (a 3xx, not
 * followed), is not tried again. The answers replacing one request's message are sent one
 * after another, in the order of the clicks' commits, and a vote's is dropped once the request
 * is settled (SlackResponseOrder): a vote's answer retried late must not bring the buttons back
 * over the outcome.
 *
 * The URL comes from a signed payload, yet only Slack's own origins are called:
 * a signing secret that leaked must not turn rectify into a request forwarder.
 */
export const SLACK_RESPONSE_ORIGINS: readonly string[] = Object.freeze(['https://hooks.slack.com', 'https://hooks.slack-gov.com']);

/** How long a stop waits for Slack responses under way before cutting them off. */
export const SLACK_RESPONSE_CLOSE_WAIT_MS = 5_000;

export interface SlackResponseMessage {
  text: string;
  response_type?: 'ephemeral' | 'in_channel';
  replace_original: boolean;
  blocks?: unknown[];
}

/**
 * The NOTIFIED detail recording a settlement, or a vote, shown in Slack by a click's
 * answer (the request's message replaced with it): its delivery to the Slack receiver.
 */
export const SHOWN_BY_CLICK_ANSWER = "shown in Slack: the click's answer replaced the request's message with it";

/**
 * The NOTIFIED detail recording a vote whose replacement was not sent: the request was
 * settled first, and Slack is told the settlement (a click's outcome replacing the message,
 * or a message of its own), an approval naming every approver.
 */
export const SUPERSEDED_BY_OUTCOME = "not shown in Slack: the request was settled before the vote's replacement was sent, and Slack is told the settlement instead";

/**
 * What follows a response: once delivered (drain waits for it), once every attempt failed, or
 * once it was not sent because a later state of the request made it out of date (`superseded`).
 */
export interface SlackResponseAfter {
  delivered?(attempts: number): Promise<void> | void;
  failed?(): void;
  superseded?(): Promise<void> | void;
}

/**
 * How the responses replacing one request's message are ordered. Those given the same `key`
 * (the approval id) are sent one after another, in the order respond was called (the order
 * of the commits they tell): a vote's answer retried after a failure cannot land after the
 * settlement's. `stillCurrent`, for an answer a later one may overtake (a vote's, showing the
 * request pending with its buttons), is asked before each of its attempts: false, the answer
 * is dropped (`after.superseded`), as the request's message shows something newer.
 */
export interface SlackResponseOrder {
  key: string;
  stillCurrent?: () => boolean;
}

export interface SlackResponder {
  /**
   * Fire and forget: never throws, never delays the click's acknowledgment. `carriedOut`:
   * whether the click told of was carried out (a refusal, or a click rectify could not take
   * now, was not), as the log says should telling it fail. `order`: see SlackResponseOrder.
   */
  respond(responseUrl: string, message: SlackResponseMessage, carriedOut: boolean, after?: SlackResponseAfter, order?: SlackResponseOrder): void;
  /** Whether respond would call this URL (a URL on Slack's own origins). */
  accepts(responseUrl: string): boolean;
  /** Resolves once every response under way was delivered or given up (tests, shutdown). */
  drain(): Promise<void>;
  /**
   * At a stop, before the store closes: no response is begun or tried again from now on, and
   * the attempts under way are waited for (their own timeout, and closeWaitMs, at most) with
   * what follows them, so that one delivered is recorded (`after.delivered`): else the next
   * start would find the settlement it showed never delivered to Slack and post it again, a
   * second message in the channel. One whose attempt fails, or is still under way after
   * closeWaitMs (then cut off: a stop must end within the platform's grace, 30 s in
   * Kubernetes, whatever --notify-timeout is), is not tried again (`after.failed`): its
   * settlement is owed to Slack still, and told as a message of its own at the next start.
   */
  close(): Promise<void>;
}

export interface SlackResponderOptions {
  log: Logger;
  origins?: readonly string[];
  attempts?: number;
  attemptTimeoutMs?: number;
  backoffMs?: number;
  /** How long close waits for the attempts under way before it cuts them off (default 5 s). */
  closeWaitMs?: number;
}

export function createSlackResponder(opts: SlackResponderOptions): SlackResponder {
  const origins = new Set(opts.origins ?? SLACK_RESPONSE_ORIGINS);
  const attempts = opts.attempts ?? 2;
  const attemptTimeoutMs = opts.attemptTimeoutMs ?? 5_000;
  const backoffMs = opts.backoffMs ?? 500;
  const closeWaitMs = opts.closeWaitMs ?? SLACK_RESPONSE_CLOSE_WAIT_MS;
  const pending = new Set<Promise<void>>();
  /** Per SlackResponseOrder key, the last response given it: the next one waits for it. */
  const lines = new Map<string, Promise<void>>();
  /** Aborted at a stop: no retry is waited for or begun after it. */
  const stop = new AbortController();
  /** Aborted closeWaitMs into a stop: the attempts still under way are cut off. */
  const cut = new AbortController();

  /** Whether the response may still be sent (see SlackResponseOrder): a check that throws counts as no. */
  function current(order: SlackResponseOrder | undefined): boolean | 'unknown' {
    if (!order?.stillCurrent) return true;
    try {
      return order.stillCurrent();
    } catch (err) {
      opts.log.warn({ err }, "could not tell whether a Slack click's answer is out of date: not sent");
      return 'unknown';
    }
  }

  async function deliver(url: URL, message: SlackResponseMessage, carriedOut: boolean, after?: SlackResponseAfter, order?: SlackResponseOrder): Promise<void> {
    let detail = '';
    for (let i = 1; i <= attempts && !(i > 1 && stop.signal.aborted); i++) {
      const still = current(order);
      if (still === false) {
        opts.log.info({ origin: url.origin, attempt: i }, "a Slack click's answer is out of date (the request moved on): not sent");
        await after?.superseded?.();
        return;
      }
      if (still === 'unknown') {
        detail = 'could not tell whether it is out of date';
        break;
      }
      try {
        await postJson(url, message, withTimeout(cut.signal, attemptTimeoutMs));
      } catch (err) {
        detail = cut.signal.aborted ? `cut off at shutdown after ${closeWaitMs} ms` : errorMessage(err);
        // A 4xx (the response_url expired, used up, the message refused) answers the same at
        // every try: the fallback follows at once.
        if (err instanceof PermanentDeliveryError) break;
        if (i < attempts) await sleep(backoffMs * 2 ** (i - 1), stop.signal).catch(() => undefined);
        continue;
      }
      await after?.delivered?.(i);
      return;
    }
    // The path of a response_url is a credential for 30 minutes: only the origin is logged.
    opts.log.warn(
      { origin: url.origin, carried_out: carriedOut, detail, ...(after?.failed ? { fallback: 'told as a message of its own' } : {}) },
      `telling a Slack click's outcome failed (the click was ${carriedOut ? '' : 'not '}carried out)`,
    );
    after?.failed?.();
  }

  function parse(responseUrl: string): URL | undefined {
    try {
      return new URL(responseUrl);
    } catch {
      return undefined;
    }
  }

  return {
    respond(responseUrl, message, carriedOut, after, order) {
      if (stop.signal.aborted) {
        opts.log.warn({ carried_out: carriedOut }, 'a Slack click answered as rectify stops: not told in Slack');
        after?.failed?.();
        return;
      }
      const url = parse(responseUrl);
      if (!url) {
        opts.log.warn('a Slack click carried a response_url that is not a URL: not called');
        return;
      }
      if (!origins.has(url.origin)) {
        opts.log.warn({ origin: url.origin }, "a Slack click carried a response_url outside Slack's own origins: not called");
        return;
      }
      const before = order ? lines.get(order.key) : undefined;
      const p = (async () => {
        if (before) await before;
        await deliver(url, message, carriedOut, after, order);
      })().catch((err: unknown) => opts.log.error({ err }, 'Slack response failed'));
      pending.add(p);
      if (order) lines.set(order.key, p);
      void p.finally(() => {
        pending.delete(p);
        if (order && lines.get(order.key) === p) lines.delete(order.key);
      });
    },
    accepts(responseUrl) {
      const url = parse(responseUrl);
      return url !== undefined && origins.has(url.origin);
    },
    async drain() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    async close() {
      stop.abort();
      const cutOff = setTimeout(() => cut.abort(), closeWaitMs);
      try {
        while (pending.size > 0) await Promise.all([...pending]);
      } finally {
        clearTimeout(cutOff);
      }
    },
  };
}
