/** A LOW runbook whose action is one HTTP POST (see httpRunbook). */
export interface HttpRunbook {
  /** The alert name it is triggered by. */
  trigger: string;
  /** Where the action POSTs to (placeholders such as `{service}` allowed). */
  url: string;
  /** 100 unless given. */
  maxPerHour?: number;
  /** 0 unless given. */
  cooldownMinutes?: number;
  /** The statuses the action expects, as `expect_status` (absent: the default, 2xx). */
  expectStatus?: [number, number];
  /** The action's `timeout_seconds` (absent: the default). */
  timeoutSeconds?: number;
  /** Lines written after the action, indented as the runbook's own keys (a rollback, say). */
  more?: string;
}

/**
 * One entry of a runbooks file, under `runbooks:`: `id`, LOW risk, min_confidence 0.5,
 * its action a POST to `url`. The most common runbook of the tests, written once.
 */
export function httpRunbook(id: string, r: HttpRunbook): string {
  const expect = r.expectStatus ? `, expect_status: [${r.expectStatus.join(', ')}]` : '';
  const timeout = r.timeoutSeconds !== undefined ? `, timeout_seconds: ${r.timeoutSeconds}` : '';
  return `  ${id}:
    risk: LOW
    triggers: [${r.trigger}]
    min_confidence: 0.5
    max_per_hour: ${r.maxPerHour ?? 100}
    cooldown_minutes: ${r.cooldownMinutes ?? 0}
    action:
      http: {method: POST, url: "${r.url}"${expect}${timeout}}
${r.more ?? ''}`;
}

/** A runbooks file of these entries (each from httpRunbook, or written out as it is). */
export const runbooksFile = (...entries: string[]): string => `runbooks:\n${entries.join('')}`;

/** A runbook whose action is one HTTP POST, HIGH risk unless given (see postRunbook). */
export interface PostRunbook {
  /** The alert name it is triggered by. */
  trigger: string;
  /** Where the action POSTs to (placeholders such as `{deployment}` allowed). */
  url: string;
  /** HIGH unless given. */
  risk?: 'LOW' | 'MEDIUM' | 'HIGH';
  /** `approvals_required` (absent: the default, one approver). */
  approvalsRequired?: number;
  /** The `match:` matchers, as written in YAML (absent: none). */
  match?: string[];
  /** 10 unless given. */
  maxPerHour?: number;
  /** The action's body, as a YAML flow map (`{ticket: "{ticket}"}`; absent: none). */
  body?: string;
}

/**
 * One entry of a runbooks file, under `runbooks:`: `id`, HIGH risk (a person approves
 * it) unless given, no cooldown, its action a POST to `url`. The approval tests' runbook,
 * written once.
 */
export function postRunbook(id: string, r: PostRunbook): string {
  const approvals = r.approvalsRequired !== undefined ? `    approvals_required: ${r.approvalsRequired}\n` : '';
  const match = r.match ? `    match: [${r.match.map((m) => `'${m}'`).join(', ')}]\n` : '';
  const body = r.body !== undefined ? `, body: ${r.body}` : '';
  return `  ${id}:
    risk: ${r.risk ?? 'HIGH'}
${approvals}    triggers: [${r.trigger}]
${match}    max_per_hour: ${r.maxPerHour ?? 10}
    cooldown_minutes: 0
    action:
      http: {method: POST, url: "${r.url}"${body}}
`;
}
