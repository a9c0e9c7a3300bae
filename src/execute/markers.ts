/**
 * The marker a command step's processes carry in their environment (STEP_MARKER_VAR in
 * actions/command.ts): made of what the store records of the step, so that startup
 * recovery finds again the processes a run cut off by a crash left running.
 */

/** The marker of an execution's step: `<execution id>/<phase>/<index>`. */
export function stepMarker(executionId: string, phase: string, index: number): string {
  return `${executionId}/${phase}/${index}`;
}

/** The execution a step marker belongs to (what comes before its first `/`), or undefined. */
export function markerExecution(marker: string): string | undefined {
  const at = marker.indexOf('/');
  return at > 0 ? marker.slice(0, at) : undefined;
}
