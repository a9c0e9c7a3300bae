import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isOutcomeUnknown, isRectifyError, RectifyError, SLACK_USER_ID_RE } from '../../domain/index.js';
import { duplicateKey, duplicateKeyDetail } from '../../ingest/index.js';
import type { NotificationEvent } from '../../notify/types.js';
import type { SlackResponseOrder } from '../../notify/slack-respond.js';
import { escapeSlackText, readable, readableWithin, slackVoteMessage } from '../../notify/webhook.js';
import { errorBody, sendShuttingDown } from '../errors.js';
import { approvalSchema, errorSchema } from '../schemas.js';
import { approvalView } from '../views.js';
import { toJsonSchema, zodDetails } from '../zod-route.js';
import type { ApiDeps } from '../deps.js';
import type { ApprovalRow } from '../../store/ports.js';

/**
 * Approve and reject buttons in Slack. Slack posts `payload=<JSON>` form-encoded
 * and signs the raw body, so this route reads the body as text, checks the
 * signature over exactly those bytes, and only then parses it. The bearer-token
 * check does not apply here: the Slack signature is this route's credential.
 *
 * A button is tied to one approval and one verb: its value is `<approval_id>:approve`
 * or `<approval_id>:reject`, and the verb must agree with the button's action_id,
 * so a payload cannot turn a "Reject" click into an approval.
 *
 * Who clicked is the Slack user id, never the username: a username is the account
 * holder's to change, to anyone's name, so an actor built from it would let one account
 * vote as another person (and block that person's own vote). A user id given a rectify
 * name in `--slack-approvers` (U0ALICE=alice) acts as that name; any other acts as
 * `slack:<user id>`. The username is shown beside it to people and recorded in the
 * audit details, and decides nothing. With `--slack-approvers`, only those Slack user
 * ids may click: anyone else is told so (ok:false, FORBIDDEN) and nothing changes.
 *
 * Slack shows nothing of this route's answer (a button click's answer is an
 * acknowledgment only), so what the person is told also goes to the payload's
 * response_url: a click that decided the approval replaces the approval message
 * with its outcome (the buttons are gone for everyone), anything else is an
 * ephemeral line to the one who clicked. A click the store cannot record (locked past
 * SLACK_CLICK_LOCK_WAIT_MS, full, stopping: a 503) changes nothing, and its 503 stays (Slack shows an error of its own);
 * the one who clicked is told, ephemeral, that it was not carried out and nothing changed.
 * A click that cast a vote short of the last (a
 * runbook needing two approvers) replaces the message with the request as it stands: who
 * approved, that another person must approve, by when, and the buttons still there for
 * them. The replaced message is the channel's one message of the decision or the vote:
 * the Slack receiver is not sent it as a message of its own (shownInSlack), unless the
 * replacement fails; its audit row names Slack among those owed it, so one a crash cut
 * off is told at the next start.
 */

export const SLACK_ACTIONS = { approve: 'rectify_approve', reject: 'rectify_reject' } as const;

export const SLACK_INTERACTIONS_URL = '/api/v1/slack/interactions';

/**
 * The longest a click's decision waits for a database lock held elsewhere, whatever
 * --db-busy-timeout says: Slack gives up on an answer after 3 seconds and shows the click
 * failed, so a click carried out later would look refused. Past it the click is answered
 * 503 with nothing carried out, and the person is told so.
 */
export const SLACK_CLICK_LOCK_WAIT_MS = 2_500;

const payloadSchema = z.object({
  type: z.literal('block_actions'),
  response_url: z.string().max(2048).optional(),
  user: z.object({
    // Exactly as --slack-approvers takes it: one account, one spelling, so one voter.
    id: z.string().regex(SLACK_USER_ID_RE, 'expected a Slack user id (U or W, then uppercase letters and digits)'),
    username: z.string().optional(),
    name: z.string().optional(),
  }),
  actions: z
    .array(z.object({ action_id: z.enum([SLACK_ACTIONS.approve, SLACK_ACTIONS.reject]), value: z.string().regex(/^[A-Za-z0-9_-]{1,128}:(approve|reject)$/, 'expected <approval_id>:approve or <approval_id>:reject') }))
    .length(1, 'expected exactly one action'),
});

export const slackReplySchema = z.object({
  response_type: z.literal('ephemeral'),
  replace_original: z.boolean(),
  ok: z.boolean().describe('false when the click was refused (already decided, the requester approving, a second vote by the same person)'),
  code: z.string().optional(),
  text: z.string(),
  approval: approvalSchema.optional(),
});

const USERNAME_RE = /^[A-Za-z0-9._-]{1,80}$/;

/** The approval message, replaced once a click decided it: the outcome for the channel, no buttons left. */
function decidedMessage(text: string, a: { id: string; incident_id: string; runbook: string; service: string }) {
  return {
    replace_original: true,
    text,
    blocks: [
      // Plain text: the reason and the service come from alerts, and nothing in it is formatted; readable, so no character of theirs hides.
      { type: 'section', text: { type: 'plain_text', text: readableWithin(text, 2900) } },
      { type: 'context', elements: [{ type: 'plain_text', text: readableWithin(`approval ${a.id} · incident ${a.incident_id} · runbook ${a.runbook} · service ${a.service}`, 2900) }] },
    ],
  };
}

const FORM = 'application/x-www-form-urlencoded';

export function registerSlackRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const verifier = deps.slackVerifier;

  void app.register(async (scope) => {
    // The raw text, whatever the declared type: the signature is over the bytes as sent.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

    scope.route({
      method: 'POST',
      url: SLACK_INTERACTIONS_URL,
      bodyLimit: 1024 * 1024,
      schema: {
        summary: 'Slack interactivity: the Approve and Reject buttons of approval messages',
        description:
          'Slack\'s request URL for interactivity. Authenticated by the Slack request signature (v0, HMAC-SHA256 with the signing secret, --slack-signing-secret), not by an API token: a timestamp more than 5 minutes away, a wrong signature or a replayed request is refused, and so is one signed before rectify started (401: the signatures received are remembered in memory only, and the process before a restart may have received it). With --slack-approvers, a click by any other Slack user is answered ok:false, code FORBIDDEN, and changes nothing. Slack shows nothing of this answer, so the outcome also goes to the payload\'s response_url (Slack\'s own hosts only): a click that decided the approval replaces the approval message with its outcome, without buttons: the channel\'s one message of it (the notification receivers other than Slack are told, APPROVED or REJECTED, as for a decision through the API; Slack is told it as a message of its own only when that replacement could not be delivered); a first vote of two replaces the approval message with the request as it stands (who approved and their comment, that another person must approve, the deadline, the Approve and Reject buttons still there), and the other receivers are told the vote (APPROVAL_VOTE), Slack as a message of its own only when that replacement could not be delivered; anything else is an ephemeral line to the person who clicked. A click the database cannot record now (locked for 2.5 s, or --db-busy-timeout when shorter, as Slack gives up on an answer after 3 s; full; rectify stopping) changes nothing and is answered 503 (STORE_UNAVAILABLE, SHUTTING_DOWN), and the person who clicked is told through the response_url that it was not carried out and nothing changed; a click whose commit the database could not confirm (503 STORE_UNAVAILABLE, details outcome unknown) may have been recorded, and the person is told so and to look after rectify restarts. Answers 404 when no signing secret is configured.',
        tags: ['approvals'],
        consumes: [FORM],
        security: [],
        body: { type: 'object', properties: { payload: { type: 'string', description: 'the interaction payload as JSON (type block_actions)' } }, required: ['payload'] },
        response: { 200: toJsonSchema(slackReplySchema, 'output'), 400: toJsonSchema(errorSchema, 'output'), 401: toJsonSchema(errorSchema, 'output'), 404: toJsonSchema(errorSchema, 'output'), 409: toJsonSchema(errorSchema, 'output'), 415: toJsonSchema(errorSchema, 'output'), 503: toJsonSchema(errorSchema, 'output') },
      },
      handler: async (req, reply) => {
        if (!verifier) throw new RectifyError('NOT_FOUND', 'Slack interactivity is not configured: set --slack-signing-secret (RECTIFY_SLACK_SIGNING_SECRET, slack_signing_secret)');
        const raw = typeof req.body === 'string' ? req.body : '';
        const header = (name: string): string | undefined => {
          const v = req.headers[name];
          return typeof v === 'string' ? v : undefined;
        };
        const check = verifier.verify({ timestamp: header('x-slack-request-timestamp'), signature: header('x-slack-signature') }, raw, deps.clock.now());
        if (!check.ok) {
          req.log.warn({ reqId: req.id, reason: check.message }, 'Slack request refused');
          if (check.status === 401) reply.header('WWW-Authenticate', 'Slack-Signature');
          return reply.code(check.status).send(errorBody(check.status === 401 ? 'UNAUTHORIZED' : 'CONFLICT', check.message));
        }
        if (!(header('content-type') ?? '').toLowerCase().startsWith(FORM)) {
          throw new RectifyError('UNSUPPORTED_MEDIA_TYPE', `content type ${JSON.stringify(header('content-type') ?? '')} is not accepted here: Slack sends ${FORM}`);
        }
        const text = new URLSearchParams(raw).get('payload');
        let json: unknown;
        try {
          json = text === null ? undefined : JSON.parse(text);
        } catch {
          json = undefined;
        }
        if (json === undefined) throw new RectifyError('VALIDATION_FAILED', 'invalid body: body.payload: expected the interaction payload as JSON', { details: [{ path: 'body.payload', message: 'expected JSON' }] });
        // A key given twice ("user" or "value") would be read as its last: refused, as every JSON body is.
        const twice = duplicateKey(text!);
        if (twice !== undefined) {
          const detail = duplicateKeyDetail('body.payload', twice);
          throw new RectifyError('BAD_REQUEST', `invalid body: ${detail.path}: ${detail.message}`, { details: [detail] });
        }
        const parsed = payloadSchema.safeParse(json);
        if (!parsed.success) {
          const details = zodDetails('body.payload', parsed.error);
          throw new RectifyError('VALIDATION_FAILED', `invalid body: ${details[0]?.path}: ${details[0]?.message}`, { details });
        }
        const { user, actions, response_url: responseUrl } = parsed.data;
        // What the person sees in Slack: only what goes to the response_url is shown there.
        // `shown`: the settlement or vote this answer shows in the channel, if it does (see shownInSlack).
        // `carriedOut`: whether the click was carried out (for the log, should telling it fail).
        const tell = (message: { text: string; replace_original: boolean; response_type?: 'ephemeral'; blocks?: unknown[] }, carriedOut: boolean, shown?: NotificationEvent, order?: SlackResponseOrder): void => {
          if (responseUrl !== undefined && deps.slackRespond) deps.slackRespond(responseUrl, { ...message, text: escapeSlackText(readable(message.text)) }, carriedOut, shown, order);
        };
        // A click that decides the request replaces its message with the outcome, and one that
        // casts a vote short of the last with the request as it stands: the channel's one
        // message of it, so the Slack receiver is not sent it as a message of its own
        // (shownInSlack), but is owed it all the same: the answer delivered is recorded as its
        // delivery; should the answer fail, or rectify stop first, Slack is told it after all.
        const shownInSlack = responseUrl !== undefined && deps.slackRespond !== undefined && (deps.slackResponseAccepted?.(responseUrl) ?? false);
        const shows = (told: NotificationEvent | undefined) => (told && shownInSlack ? told : undefined);
        const refuse = (code: string, text: string) => {
          tell({ response_type: 'ephemeral', replace_original: false, text }, false);
          return reply.send({ response_type: 'ephemeral', replace_original: false, ok: false, code, text });
        };
        /** The request still pending after this click's vote, as its replaced message shows it: its voters as people know them. */
        const pendingMessage = (a: ApprovalRow, identity: string, who: string) => {
          const view = approvalView(a);
          const owner = deps.catalog.byId(a.runbook)?.owner;
          return slackVoteMessage(
            {
              approval_id: a.id,
              incident_id: a.incident_id,
              runbook: a.runbook,
              service: a.service,
              reason: a.reason,
              ...(owner ? { owner } : {}),
              plan: { actions: view.actions, rollback: view.rollback },
              votes: a.votes.map((v) => ({ who: v.identity === identity ? who : v.by, comment: v.comment })),
              approvals_required: a.approvals_required,
              expires_at: a.expires_at,
            },
            { publicUrl: deps.publicUrl, approvers: deps.slackApprovers ? [...deps.slackApprovers.keys()] : undefined },
          );
        };
        const action = actions[0]!;
        const sep = action.value.lastIndexOf(':');
        const approvalId = action.value.slice(0, sep);
        const verb = action.value.slice(sep + 1) as 'approve' | 'reject';
        if (SLACK_ACTIONS[verb] !== action.action_id) {
          throw new RectifyError('VALIDATION_FAILED', `invalid body: body.payload.actions.0.value: says ${verb} but the button is ${action.action_id}`, {
            details: [{ path: 'body.payload.actions.0.value', message: `says ${verb} but the button is ${action.action_id}` }],
          });
        }
        const given = user.username ?? user.name;
        const username = given !== undefined && USERNAME_RE.test(given) ? given : undefined;
        const slack = { id: user.id, ...(username !== undefined ? { username } : {}) };
        // Mapped in --slack-approvers (U0ALICE=alice), the clicking user is that rectify name's
        // person: their API calls and their clicks count as one person's, under that name.
        const person = deps.slackApprovers?.get(user.id);
        const actor = person ?? `slack:${user.id}`;
        const identity = person ?? `slack-id:${user.id}`;
        // For people reading it in Slack: the id alone names nobody they know.
        const who = person === undefined && username !== undefined ? `${actor} (${username})` : actor;
        if (deps.slackApprovers && !deps.slackApprovers.has(user.id)) {
          req.log.warn({ reqId: req.id, slack_user: user.id, slack_username: username, approval_id: approvalId, verb }, 'Slack click refused: the user is not in --slack-approvers');
          return refuse('FORBIDDEN', `${who} may not ${verb} from Slack: only the Slack users in --slack-approvers may. Ask one of them, or use the API with an approver token.`);
        }
        /** What the person who clicked is told of a click that changed nothing because rectify could not take it now. */
        const notCarriedOut = (why: string) =>
          tell({ response_type: 'ephemeral', replace_original: false, text: `${who}'s ${verb} was not carried out: ${why}. Nothing changed: click ${verb === 'approve' ? 'Approve' : 'Reject'} again shortly, or use the API.` }, false);
        // Stopping (SIGTERM): the draining hook let this route answer a click (app.ts), so that,
        // its signature checked, the person is told; the answer is the 503 of any POST now.
        if (deps.draining()) {
          req.log.warn({ reqId: req.id, slack_user: user.id, approval_id: approvalId, verb }, 'Slack click not carried out: rectify is stopping');
          notCarriedOut('rectify is stopping');
          return sendShuttingDown(reply);
        }
        try {
          if (verb === 'reject') {
            const { approval, told } = await deps.engine.reject(approvalId, actor, undefined, { slack, shownInSlack, lockWaitMs: SLACK_CLICK_LOCK_WAIT_MS });
            const text = `Rejected by ${who}: nothing will run.`;
            tell(decidedMessage(text, approval), true, shows(told), { key: approval.id });
            return reply.send({ response_type: 'ephemeral', replace_original: false, ok: true, text, approval: approvalView(approval) });
          }
          const { approval, result, told, notCounted } = await deps.engine.approve(approvalId, actor, undefined, { identity, slack, shownInSlack, lockWaitMs: SLACK_CLICK_LOCK_WAIT_MS });
          const said = result
            ? `Approved by ${approval.decided_by}: ${result.action}${result.execution_id ? ` (execution ${result.execution_id})` : ''}, ${result.reason}.`
            : `${who} approved (${approval.votes.length} of ${approval.approvals_required})${notCounted !== undefined ? `; ${notCounted}` : ''}; another person must approve too.`;
          // Still pending: its message shows the vote, and keeps its buttons for the next approver.
          // The answers replacing this request's message go in the order of their commits, and
          // a vote's is sent only while the request stands as it shows it: pending, with these
          // votes (a vote's answer retried after the settlement's would bring the buttons back).
          const votes = approval.votes.length;
          const stillCurrent = (): boolean => {
            const now = deps.store.read((tx) => tx.getApproval(approval.id));
            return now?.status === 'pending' && now.votes.length === votes;
          };
          if (result) tell(decidedMessage(said, approval), true, shows(told), { key: approval.id });
          else tell(pendingMessage(approval, identity, who), true, shows(told), { key: approval.id, stillCurrent });
          return reply.send({ response_type: 'ephemeral', replace_original: false, ok: true, text: said, approval: approvalView(approval) });
        } catch (err) {
          // Slack shows a non-200 answer as a broken app; a refusal is told to the person instead.
          if (isRectifyError(err) && err.status < 500 && err.status !== 400) return refuse(err.code, err.message);
          // The store could not take the decision (locked, full, stopping): nothing was
          // recorded. The answer stays a 503, which Slack shows as its own error only, saying
          // nothing of what happened: the person who clicked is told it.
          if (isRectifyError(err) && isOutcomeUnknown(err.details)) {
            // The database could not confirm the commit: the click may have been recorded.
            tell(
              {
                response_type: 'ephemeral',
                replace_original: false,
                text: `${who}'s ${verb} may have been recorded: the database could not confirm it, and rectify accepts nothing more until it restarts. Look after rectify restarts (rectify approvals show ${approvalId}) before clicking ${verb === 'approve' ? 'Approve' : 'Reject'} again.`,
              },
              false,
            );
          } else if (isRectifyError(err) && err.status >= 500) notCarriedOut(err.message);
          throw err;
        }
      },
    });
  });
}
