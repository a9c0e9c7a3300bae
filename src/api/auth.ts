// Called through the module object, not destructured: the constant-time comparison
// is then observable (and countable) by a test through node:test's mock.method.
import crypto from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { RectifyError, statedActorProblem } from '../domain/index.js';
import { wellFormed } from '../lib/index.js';
import { errorBody } from './errors.js';
import { createUnauthenticatedLog, type UnauthenticatedLogOptions, type UnauthenticatedReason } from './refusal-log.js';
import { ROLES, type Role, type TokenEntry } from './tokens.js';

/**
 * Who may do what. A caller is identified by a bearer token from the tokens file;
 * the token's name is who they are (the actor in the audit log) and its roles are
 * what they may do:
 *
 *   ingest    the intake routes only (webhooks and incidents)
 *   viewer    every read
 *   approver  approve and reject, manual runs of LOW and MEDIUM runbooks, closing their circuits and ending their cooldowns, and what a viewer may
 *   admin     pause and resume, manual runs of HIGH-risk runbooks, closing their circuits and ending their cooldowns, and what an approver may
 *
 * The policy is a table keyed by method and route pattern, so a new route that is
 * not in it falls to the safe default: reads need a viewer, anything else an admin.
 */

export interface Caller {
  readonly name: string;
  readonly roles: readonly Role[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller, or null when no tokens are configured (or on public routes). */
    caller: Caller | null;
  }
}

/** `public`: probes carry no token. `slack`: authenticated by Slack's request signature instead. */
export type Access = Role | 'public' | 'slack';

const POLICY: ReadonlyMap<string, Access> = new Map<string, Access>([
  ['GET /healthz', 'public'],
  ['GET /readyz', 'public'],
  ['POST /api/v1/webhooks/alertmanager', 'ingest'],
  ['POST /api/v1/webhooks/pagerduty', 'ingest'],
  ['POST /api/v1/incidents', 'ingest'],
  ['POST /api/v1/approvals/:id/approve', 'approver'],
  ['POST /api/v1/approvals/:id/reject', 'approver'],
  // HIGH-risk runbooks additionally need admin: checked in the route, which knows the runbook.
  ['POST /api/v1/runbooks/:id/run', 'approver'],
  // As a run: a HIGH-risk runbook's circuit additionally needs admin, checked in the route.
  ['POST /api/v1/runbooks/:id/circuit/close', 'approver'],
  ['POST /api/v1/runbooks/:id/cooldown/clear', 'approver'],
  ['POST /api/v1/pause', 'admin'],
  ['POST /api/v1/resume', 'admin'],
  ['POST /api/v1/slack/interactions', 'slack'],
]);

/** The access a route needs; routes not in the table: GET/HEAD → viewer, anything else → admin. */
export function accessFor(method: string, routeUrl: string | undefined): Access {
  const m = method === 'HEAD' ? 'GET' : method;
  const listed = routeUrl === undefined ? undefined : POLICY.get(`${m} ${routeUrl}`);
  if (listed) return listed;
  return m === 'GET' ? 'viewer' : 'admin';
}

/** Whether a set of roles grants a needed role: admin ⊇ approver ⊇ viewer; ingest stands alone. */
export function grants(roles: readonly Role[], needed: Role): boolean {
  switch (needed) {
    case 'ingest':
      return roles.includes('ingest');
    case 'viewer':
      return roles.includes('viewer') || roles.includes('approver') || roles.includes('admin');
    case 'approver':
      return roles.includes('approver') || roles.includes('admin');
    case 'admin':
      return roles.includes('admin');
  }
}

export interface TokenAuth {
  /** How many tokens are configured. */
  size(): number;
  names(): string[];
  /** The roles of the token of that name, or undefined when no token has it. */
  rolesOf(name: string): readonly Role[] | undefined;
  /**
   * The caller a presented token belongs to. The token is hashed and the hash looked
   * up; the final comparison is constant-time, and a miss compares against a dummy
   * so that a hit and a miss do the same work.
   */
  identify(token: string): Caller | undefined;
  /** Replaces every token at once (a SIGHUP reload). */
  replace(tokens: readonly TokenEntry[]): void;
}

interface Known {
  digest: Buffer;
  caller: Caller;
}

function index(tokens: readonly TokenEntry[]): Map<string, Known> {
  const m = new Map<string, Known>();
  for (const t of tokens) {
    m.set(t.sha256, { digest: Buffer.from(t.sha256, 'hex'), caller: Object.freeze({ name: t.name, roles: Object.freeze([...t.roles]) }) });
  }
  return m;
}

/** One-shot crypto.hash where Node has it (20.12+): half the cost of createHash on every request. */
const sha256: (text: string) => Buffer =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'buffer') as unknown as Buffer
    : (text) => crypto.createHash('sha256').update(text, 'utf8').digest();

export function createTokenAuth(tokens: readonly TokenEntry[]): TokenAuth {
  let byHash = index(tokens);
  const dummy = Buffer.alloc(32);
  return {
    size: () => byHash.size,
    names: () => [...byHash.values()].map((k) => k.caller.name),
    rolesOf: (name) => [...byHash.values()].find((k) => k.caller.name === name)?.caller.roles,
    identify(token) {
      const digest = sha256(token);
      const known = byHash.get(digest.toString('hex'));
      const equal = crypto.timingSafeEqual(digest, known?.digest ?? dummy);
      return equal && known ? known.caller : undefined;
    },
    replace(next) {
      // One assignment: a request sees either the old set or the new one, never a mix.
      byHash = index(next);
    },
  };
}

const INVALID_TOKEN = 'the API token is not valid';

/** Longer than any token anyone would issue: refused before hashing. */
const MAX_TOKEN_LENGTH = 4096;

function refuse(reply: FastifyReply, status: 401 | 403, code: 'UNAUTHORIZED' | 'FORBIDDEN', message: string): void {
  if (status === 401) reply.header('WWW-Authenticate', 'Bearer realm="rectify"');
  void reply.code(status).send(errorBody(code, message));
}

/** The bearer token an Authorization header carries, or why it carries none rectify reads. */
function presentedToken(header: string | undefined): { token: string } | { why: string; reason: UnauthenticatedReason } {
  if (header === undefined || header === '') return { why: 'an API token is required: send "Authorization: Bearer <token>"', reason: 'no_token' };
  const m = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header);
  if (!m || m[1]!.length > MAX_TOKEN_LENGTH) return { why: 'the Authorization header must be "Bearer <token>"', reason: 'malformed_header' };
  return { token: m[1]! };
}

/**
 * Whether a request to a public route (a probe) may see what it tells only to callers
 * it knows: with tokens configured, one carrying a valid token of any role; without
 * tokens, any request (rectify then answers only loopback callers, who may act anyway).
 * Never a refusal: a probe without a token gets its status all the same.
 */
export function knownCaller(req: FastifyRequest, auth: TokenAuth | undefined): boolean {
  if (!auth) return true;
  const presented = presentedToken(req.headers.authorization);
  return 'token' in presented && auth.identify(presented.token) !== undefined;
}

/**
 * The onRequest hook: cheap on purpose (one header read, one SHA-256, one map
 * lookup, one 32-byte constant-time compare), since it runs before every intake
 * request in an alert storm. The token is never logged: refusals name the route and,
 * for a 403, the token's name. A 401 is logged at most once a minute per reason and
 * sender address, the rest counted into one line (see createUnauthenticatedLog).
 */
export function installAuth(app: FastifyInstance, auth: TokenAuth, log: Logger, opts: UnauthenticatedLogOptions = {}): void {
  const unauthenticated = createUnauthenticatedLog(log, opts);
  app.addHook('onClose', (_app, done) => {
    unauthenticated.close();
    done();
  });
  app.addHook('onRequest', (req, reply, done) => {
    // routeOptions is a getter that builds a fresh object: read it once.
    const routeUrl = req.routeOptions.url;
    const access = accessFor(req.method, routeUrl);
    if (access === 'public' || access === 'slack') {
      // A probe is answered whatever it carries, but a wrong token sent to it is logged as
      // anywhere else (counted the same way): /readyz tells a valid token more, so wrong
      // ones tried there would otherwise be guesses nobody sees. No token is not logged.
      if (access === 'public' && req.headers.authorization !== undefined) {
        const shown = presentedToken(req.headers.authorization);
        if ('token' in shown && auth.identify(shown.token) === undefined) {
          unauthenticated.refused({ reason: 'invalid_token', why: INVALID_TOKEN, route: `${req.method} ${routeUrl ?? req.url.split('?')[0]}`, reqId: req.id, address: req.socket.remoteAddress ?? 'unknown' });
        }
      }
      done();
      return;
    }
    const presented = presentedToken(req.headers.authorization);
    const caller = 'token' in presented ? auth.identify(presented.token) : undefined;
    const why = 'token' in presented ? INVALID_TOKEN : presented.why;
    const reason: UnauthenticatedReason = 'token' in presented ? 'invalid_token' : presented.reason;
    const route = `${req.method} ${routeUrl ?? req.url.split('?')[0]}`;
    if (!caller) {
      unauthenticated.refused({ reason, why, route, reqId: req.id, address: req.socket.remoteAddress ?? 'unknown' });
      refuse(reply, 401, 'UNAUTHORIZED', why);
      return;
    }
    // Unknown routes: any valid token learns that they do not exist (404), nobody else does.
    if (routeUrl !== undefined && !grants(caller.roles, access)) {
      log.warn({ route, reqId: req.id, token_name: caller.name, needs: access }, 'request refused: role');
      refuse(reply, 403, 'FORBIDDEN', `token "${caller.name}" may not ${route}: it needs the ${access} role (it has ${caller.roles.join(', ')})`);
      return;
    }
    req.caller = caller;
    done();
  });
}

/** For routes whose needed role depends on what they act on (a HIGH-risk runbook's manual run). */
export function requireRole(req: FastifyRequest, role: Role, what: string): void {
  if (!req.caller) return;
  if (!grants(req.caller.roles, role)) {
    throw new RectifyError('FORBIDDEN', `token "${req.caller.name}" may not ${what}: it needs the ${role} role (it has ${req.caller.roles.join(', ')})`);
  }
}

/**
 * Who is acting. With tokens configured it is the token's name, whatever the body's
 * `by` says: a body field cannot be trusted to name someone else (an approver could
 * otherwise approve as another person and defeat separation of duties). Without
 * tokens the API is loopback-only and `by` is the caller's word, so it is required,
 * and refused when it names no one or names rectify (`rectify`, `api`). Checked here,
 * not in the body's schema: with a token `by` is ignored, and the CLI always sends one
 * (the OS user), so on a host whose user is `rectify` every command would fail.
 */
export function actorOf(req: FastifyRequest, stated: string | undefined, fallback?: string): string {
  if (req.caller) return req.caller.name;
  // As stored: the requester of a run and its approver are compared by name.
  const by = stated === undefined ? fallback : wellFormed(stated);
  if (by === undefined) throw byRefused('required when no API tokens are configured (who is acting, for the audit log)');
  const problem = statedActorProblem(by);
  if (problem !== undefined) throw byRefused(problem);
  return by;
}

/** A 400 naming body.by, worded as the body's schema words its refusals. */
function byRefused(message: string): RectifyError {
  return new RectifyError('VALIDATION_FAILED', `invalid body: body.by: ${message}`, { details: [{ path: 'body.by', message }] });
}

export { ROLES, type Role };

/** A Host header naming the loopback interface: localhost, 127.0.0.1 (or 127.x) or [::1], with or without a port. */
const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d{1,5})?$/i;

/**
 * Without API tokens rectify listens on loopback only, and whoever reaches it may
 * act. A web page in a browser on the same machine can reach it too:
 * - through DNS rebinding (a name of the page's that resolves to 127.0.0.1): its
 *   requests carry that name in Host;
 * - directly, addressed to 127.0.0.1: a POST without a body, or with a form's
 *   content type, needs no CORS preflight, so the browser sends it (the page cannot
 *   read the answer, but a resume or a pause has happened). Such a request carries
 *   the page's `Origin`, and `Sec-Fetch-Site: cross-site` where the browser sends it.
 * So tokenless, only requests addressed to a loopback name are answered, and none
 * that a page of another origin sent (a 403 otherwise). curl, the CLI, Alertmanager
 * send no Origin. With tokens, the token decides (a page cannot make the browser
 * send one).
 */
export function installLoopbackHostCheck(app: FastifyInstance, log: Logger, scheme: 'http' | 'https' = 'http'): void {
  app.addHook('onRequest', (req, reply, done) => {
    const host = req.headers.host ?? '';
    if (!LOOPBACK_HOST.test(host)) {
      log.warn({ reqId: req.id, host: host.slice(0, 100) }, 'request refused: not addressed to a loopback host');
      refuse(reply, 403, 'FORBIDDEN', 'without API tokens rectify answers only requests addressed to localhost, 127.0.0.1 or [::1] (the Host header); configure --tokens to serve others');
      return;
    }
    const origin = req.headers.origin;
    const site = req.headers['sec-fetch-site'];
    if ((origin !== undefined && !sameOrigin(origin, scheme, host)) || site === 'cross-site' || site === 'same-site') {
      log.warn({ reqId: req.id, origin: String(origin ?? '').slice(0, 100), site }, 'request refused: sent by a web page of another origin');
      refuse(reply, 403, 'FORBIDDEN', 'without API tokens rectify refuses requests a web page of another origin sends (the Origin or Sec-Fetch-Site header): use curl or the rectify CLI, or configure --tokens');
      return;
    }
    done();
  });
}

/** Whether an Origin header names this server itself: its own scheme and the Host header. */
function sameOrigin(origin: string, scheme: 'http' | 'https', host: string): boolean {
  return origin.toLowerCase() === `${scheme}://${host.toLowerCase()}`;
}
