/**
 * The runbook module: load and validate runbook files (every problem with its
 * file, YAML path and line), compile them, match incidents to them, and render a
 * runbook's actions and checks with an incident's values, safely.
 */
export {
  loadRunbooks,
  loadRunbookFile,
  duplicateRunbookId,
  parseRunbooksText,
  isRunbookFileName,
  runbookFileCountProblem,
  noRunbookWarning,
  DEFAULT_MAX_RUNBOOK_FILES,
  type LoadResult,
  type LoadOptions,
} from './load.js';
export { createRunbookIndex, createReloadableIndex, neverChosen, type RunbookIndex, type ReloadableRunbookIndex } from './match.js';
export { renderPlan, renderChecks, type PlanRender, type ChecksRender, type Refusal } from './render.js';
export { NAMED_CHECKS, NAMED_CHECK_NAMES, namedCheck, namedCheckValueKeys, type NamedCheckDef, type NamedCheckParam } from './named.js';
export { compileTemplate, scanTemplate, placeholders, PLACEHOLDER_NAME_RE } from './template.js';
export { parseMatcher, matcherHolds, matchersHold, matchersHoldFor, formatMatcher } from './matchers.js';
export { parseKubectl, tokenize, KUBECTL_SUPPORTED } from './kubectl.js';
export { parseExpectation, CHECK_TYPES, KUBE_CONDITIONS } from './checks.js';
export { ACTION_TYPES } from './actions.js';
export { RUNBOOK_KEYS, DEFAULTS as RUNBOOK_DEFAULTS, RUNBOOK_ID_RE } from './schema.js';
export { formatPath } from './problems.js';
export { checkReferences } from './references.js';
export { STANDARD_ALERT_LABELS, standardAlertLabels } from './alerts.js';
// The YAML plumbing other file formats (runbook tests) share: path-named problems with lines.
export { parseYamlSource, type YamlSource } from './yaml-source.js';
export { createReporter, describe as describeValue, sortByLine, type Reporter, type YamlPath } from './problems.js';
export { checkKeys, expectMap, has, isMapValue, readBool, readList, readNonEmptyString, readOneOf, readPositiveInt, readString, readStringList, scalarAsText, type YamlMap } from './fields.js';
