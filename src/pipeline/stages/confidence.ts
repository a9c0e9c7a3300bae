import { quoteUntrusted } from '../../domain/index.js';
import type { Stage } from '../types.js';

/** Longest part of an unreadable confidence shown in a reason (it is the sender's text). */
const MAX_SHOWN = 64;

/**
 * LOW_CONFIDENCE → manual: the diagnosis is not certain enough to act on. A
 * confidence the source gave but that cannot be read ("abc") is never enough,
 * whatever min_confidence says (0 included): a person decides, told which field
 * held what.
 */
export const confidenceStage: Stage = {
  name: 'confidence',
  appliesTo: ['auto'],
  run(ctx) {
    const rb = ctx.runbook!;
    const incident = ctx.input.incident;
    const unreadable = incident.confidence_unreadable;
    if (unreadable) {
      const shown = `${unreadable.field} is ${quoteUntrusted(unreadable.value, MAX_SHOWN)}`;
      const other = unreadable.differs_from;
      const reason = other
        ? `Confidence unreadable: ${shown}, but ${other.field} is ${quoteUntrusted(other.value, MAX_SHOWN)}: two different confidences`
        : unreadable.not_read
          ? `Confidence unreadable: ${shown}, a key rectify does not read (only "confidence", a label or else an annotation)`
          : `Confidence unreadable: ${shown}, not a decimal number from 0 to 1`;
      return { kind: 'manual', event: 'LOW_CONFIDENCE', reason, runbook: rb };
    }
    const c = incident.confidence;
    if (c < rb.minConfidence) {
      return { kind: 'manual', event: 'LOW_CONFIDENCE', reason: `Confidence ${c} < ${rb.minConfidence}`, runbook: rb };
    }
    return undefined;
  },
};
