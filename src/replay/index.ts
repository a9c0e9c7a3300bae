/**
 * Replay: a recorded Alertmanager stream through the service's own decision path
 * on a simulated clock, to see what a runbook set would have done. Nothing executes.
 */
export { parseStream, type StreamEntry, type StreamOptions, type StreamProblem } from './stream.js';
export { acceptOrRefuse, replayStream, reasonKey, type ReplayReport, type ReplaySettings, type RunbookReport } from './simulate.js';
export { simulatedActions, simulatedChecks, simulatedEnricher, type AssumedOutcome } from './simulated.js';
