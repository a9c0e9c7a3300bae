import type { SlackVerifier } from './slack-signature.js';
import type { Logger } from 'pino';
import type { LoadProblem } from '../domain/index.js';
import type { Engine, IntakeRefusal, RunbookCatalog } from '../engine/index.js';
import type { Clock } from '../lib/index.js';
import type { NotificationEvent, SlackResponseOrder } from '../notify/index.js';
import type { UnavailableCode } from '../observability/metrics.js';
import type { Store } from '../store/ports.js';
import type { TokenAuth } from './auth.js';

export interface MetricsEndpoint {
  contentType: string;
  render(): Promise<string>;
  /** A request to `route` (its template) was answered 503 with `code`. */
  httpUnavailable?(route: string, code: UnavailableCode): void;
}

/** What the HTTP layer is given by the composition root: narrow, explicit. */
export interface ApiDeps {
  engine: Engine;
  store: Store;
  catalog: RunbookCatalog;
  clock: Clock;
  log: Logger;
  metrics: MetricsEndpoint;
  /** Executor kinds configured in this process. */
  available: ReadonlySet<string>;
  bodyLimitBytes: number;
  /** `--exporter-jobs`: absent, the default (see ingest/alertmanager.ts). */
  exporterJobs?: readonly string[];
  /** An intake request refused as a whole (413, 415, 400): counted, logged, and for a lost delivery audited and told. */
  intakeRefused?(refusal: IntakeRefusal): void;
  /** An intake request its sender closed before its body arrived whole (route: its path): nothing refused, only counted. */
  intakeAbandoned?(route: string): void;
  /** Why only a restart lets rectify work again, and a restart is safe (a commit not confirmed): /healthz fails; null otherwise. */
  restartNeeded?(): string | null;
  /** True once intake must stop (SIGTERM): new work is answered 503. */
  draining(): boolean;
  /** `--circuit-recovery`: how long an open circuit waits before its trial run; absent, the trial time is not shown. */
  circuitRecoveryMs?: number;
  /** While the last runbook reload was refused: when, and its problems (the next start would stop on them). */
  reloadRefused?(): { at: number; problems: readonly string[] } | null;
  /**
   * The files settings name whose last reload was refused (the tokens file, the TLS pair, a
   * `${file:}` Slack signing secret): which, when, and its problems (files and settings
   * named, never a value); the previous value of each stays in force. Empty when none.
   */
  settingsReloadRefused?(): ReadonlyArray<{ part: 'tokens' | 'tls' | 'slack_signing_secret'; at: number; problems: readonly string[] }>;
  /** The load warnings of the runbooks in force: those startup, or the last reload that loaded, logged (`rectify lint` fails on them). */
  runbookWarnings?(): readonly LoadProblem[];
  /** API tokens; absent means no tokens are configured (the service then listens on loopback only). */
  auth?: TokenAuth;
  /** Checks Slack request signatures with the app's signing secret; present enables /api/v1/slack/interactions. */
  slackVerifier?: SlackVerifier;
  /** Slack user ids allowed to use the buttons, each with the rectify name the same person acts under, if given; absent lets anyone who sees the message. */
  slackApprovers?: ReadonlyMap<string, string | undefined>;
  /** The audit chain's HMAC key, for GET /api/v1/audit/verify. */
  auditKey?: Buffer;
  /** Keys the audit log was written with before `auditKey` (verification checks the older rows with them). */
  auditPreviousKeys?: readonly Buffer[];
  /**
   * Tells a Slack click's outcome through the click's response_url (Slack shows
   * nothing of the HTTP answer to a button click). Fire and forget.
   */
  /**
   * `carriedOut`: whether the click was carried out (not a refusal, nor a click rectify could
   * not take now). `shows`: the settlement or the vote the message shows in the channel
   * (shown_in_slack), which the Slack receiver is owed: the message delivered is recorded as
   * its delivery to Slack; not delivered, Slack is told it as a message of its own after all.
   * `order`: the answers replacing one request's message go one after another, and one
   * out of date by the time it is sent is dropped (notify/slack-respond.ts).
   */
  slackRespond?: (
    responseUrl: string,
    message: { text: string; response_type?: 'ephemeral'; replace_original: boolean; blocks?: unknown[] },
    carriedOut: boolean,
    shows?: NotificationEvent,
    order?: SlackResponseOrder,
  ) => void;
  /** `--public-url`: the link to rectify in a Slack message a click's answer replaces. */
  publicUrl?: string;
  /** Whether slackRespond calls this response_url (one on Slack's own origins). */
  slackResponseAccepted?: (responseUrl: string) => boolean;
}
