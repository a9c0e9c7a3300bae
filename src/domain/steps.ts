import type { CompareOp, Expectation, KubeKind, KubeVerb, OnNoData } from './runbook.js';

/**
 * Actions and checks with every placeholder filled: what executors receive.
 * Rendering (runbooks/render.ts) is the only place untrusted values enter them,
 * and it checks each value against the safe pattern for its position first.
 */
export interface RenderedKubernetesAction {
  type: 'kubernetes';
  verb: KubeVerb;
  kind: KubeKind;
  name: string;
  namespace: string | null;
  args: Record<string, string>;
  timeoutMs: number;
}
export interface RenderedHttpAction {
  type: 'http';
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  expectStatus: [number, number];
  timeoutMs: number;
}
export interface RenderedCommandAction {
  type: 'command';
  argv: string[];
  timeoutMs: number;
}
export type RenderedAction = RenderedKubernetesAction | RenderedHttpAction | RenderedCommandAction;

export interface RenderedNamedCheck {
  type: 'named';
  name: string;
  params: Record<string, unknown>;
  /** The incident's values (context, then labels) the named check may read. */
  values: Record<string, string>;
  timeoutMs: number;
  intervalMs: number;
  /** See NamedCheckSpec.onNoData. */
  onNoData?: OnNoData;
}
export interface RenderedPromqlCheck {
  type: 'promql';
  query: string;
  expect: Expectation;
  forMs: number;
  timeoutMs: number;
  intervalMs: number;
  onEmpty: 'fail' | 'pass';
  /** See PromqlCheckSpec.onNoData. */
  onNoData?: OnNoData;
}
export interface RenderedHttpCheck {
  type: 'http';
  method: string;
  url: string;
  headers: Record<string, string>;
  expectStatus: [number, number];
  timeoutMs: number;
  intervalMs: number;
}
export interface RenderedKubernetesCheck {
  type: 'kubernetes';
  condition: string;
  kind: KubeKind;
  name: string;
  namespace: string | null;
  params: Record<string, unknown>;
  timeoutMs: number;
  intervalMs: number;
  /** See KubernetesCheckSpec.onNoData. */
  onNoData?: OnNoData;
}
export type RenderedCheck = RenderedNamedCheck | RenderedPromqlCheck | RenderedHttpCheck | RenderedKubernetesCheck;

export function compare(op: CompareOp, actual: number, expected: number): boolean {
  switch (op) {
    case '<':
      return actual < expected;
    case '<=':
      return actual <= expected;
    case '>':
      return actual > expected;
    case '>=':
      return actual >= expected;
    case '==':
      return actual === expected;
    case '!=':
      return actual !== expected;
  }
}
