/**
 * Errors carry a stable code; one table maps codes to HTTP statuses. Every
 * refusal tells the caller what to do next.
 */

import { nameOnOneLine } from '../lib/text.js';

export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  VALIDATION_FAILED: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  REQUEST_TIMEOUT: 408,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  HEADERS_TOO_LARGE: 431,
  OVERLOADED: 503,
  STORE_UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
  INTERNAL: 500,
} as const;
export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorDetail {
  path: string;
  message: string;
}

export class RectifyError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetail[];
  constructor(code: ErrorCode, message: string, opts: { details?: ErrorDetail[]; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'RectifyError';
    this.code = code;
    this.details = opts.details ?? [];
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/**
 * The detail of a 503 STORE_UNAVAILABLE whose commit the database could not confirm:
 * what was asked may have been recorded, and whether is known only after rectify
 * restarts. Not "nothing changed", and not to be retried blindly.
 */
export const OUTCOME_UNKNOWN: ErrorDetail = { path: 'outcome', message: 'unknown' };

/** Whether an error (or an API error body's details) says the outcome is not known (OUTCOME_UNKNOWN). */
export function isOutcomeUnknown(details: readonly ErrorDetail[] | undefined): boolean {
  return details?.some((d) => d.path === OUTCOME_UNKNOWN.path && d.message === OUTCOME_UNKNOWN.message) ?? false;
}

export function isRectifyError(err: unknown): err is RectifyError {
  return err instanceof Error && (err as { name?: string }).name === 'RectifyError' && 'code' in err;
}

/** A problem found while loading config or runbooks: file, YAML path, what is wrong. */
export interface LoadProblem {
  file: string;
  path: string;
  message: string;
  line?: number;
}

/**
 * `file:line: path: message`, as compilers print (an editor opens the file at the line); the
 * line and path when known. A file or path holding a control or invisible character (a line
 * break in a runbook's file name) is printed quoted, with escapes: raw, the text after a line
 * break read as a problem line of its own.
 */
export function formatProblem(p: LoadProblem): string {
  const file = nameOnOneLine(p.file);
  const at = p.line === undefined ? file : `${file}:${p.line}`;
  return p.path ? `${at}: ${nameOnOneLine(p.path)}: ${p.message}` : `${at}: ${p.message}`;
}

export class LoadError extends Error {
  readonly problems: LoadProblem[];
  constructor(problems: LoadProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'LoadError';
    this.problems = problems;
  }
}
