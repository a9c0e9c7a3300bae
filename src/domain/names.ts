/**
 * A person's name as rectify records it (the audit actor, the requester and the
 * approvers): an API token's name, and the rectify name a Slack approver is given in
 * `--slack-approvers`, which must be able to equal it. Plain: never a Slack identity.
 */
export const PERSON_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
