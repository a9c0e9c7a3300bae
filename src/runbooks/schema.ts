/**
 * What a runbook file may contain: every key, its aliases and its defaults.
 * The readers in compile.ts follow this list; an unknown key is a load error with
 * a "did you mean" hint, as in Prometheus' rulefmt.
 *
 * Why not a zod schema: loading is compilation (templates, kubectl strings, URLs,
 * matchers) whose problems must carry the YAML path and line and be collected all
 * at once; a schema would only describe the outer shape and duplicate it.
 */
export const FILE_KEYS = ['runbooks'] as const;

export const RUNBOOK_KEYS = [
  // The seed's Runbook dataclass.
  'id',
  'name',
  'description',
  'risk_level',
  'root_causes',
  'symptoms',
  'min_confidence',
  'pre_checks',
  'actions',
  'post_checks',
  'rollback',
  'max_executions_per_hour',
  'cooldown_minutes',
  'blast_radius_limit',
  'owner',
  'last_updated',
  'success_rate',
  // The seed's runbook library (descriptive).
  'verification',
  'guardrails',
  // rectify's own.
  'risk',
  'triggers',
  'match',
  'max_per_hour',
  'mode',
  'windows',
  'outside_windows',
  'approvals_required',
  'max_unavailable',
  'force_delete',
  'rollback_reason',
  'action',
  'params',
] as const;

/** Missing fields fail safe: an unlabelled runbook is HIGH risk and needs a human. */
export const DEFAULTS = {
  risk: 'HIGH',
  minConfidence: 0.8,
  maxPerHour: 3,
  cooldownMinutes: 10,
  blastRadiusLimit: 1,
  mode: 'auto',
  outsideWindows: 'block',
  approvalsRequired: 1,
  forceDelete: false,
} as const;

/** Safe names: they appear in URLs, metrics labels, file names and audit rows. */
export const RUNBOOK_ID_RE = /^[a-z0-9][a-z0-9-_.]{0,62}$/;

export const MODES = ['auto', 'dry_run'] as const;

/** `outside_windows:` what an alert outside the runbook's `windows:` is decided: blocked (OUTSIDE_WINDOW), or asks a person. */
export const OUTSIDE_WINDOWS = ['block', 'approval'] as const;
