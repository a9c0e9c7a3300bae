import type { Incident } from '../../domain/index.js';
import type { DecisionTrigger } from '../types.js';

/**
 * What holds a blocked alert until it is decided again (decidedAgainOnRedelivery,
 * engine/apply.ts): nothing (`each`: the blast radius and the engine-wide bound, decided
 * again at every re-delivery, blocked again while they hold), the rate limit (`limit`) or
 * the cooldown (`cooldown`), a re-delivery then `duplicate` until they let it through.
 */
export type DecidedAgainWhen = 'each' | 'limit' | 'cooldown';

const UNTIL: Record<DecidedAgainWhen, string> = { each: '', limit: ' after this limit frees', cooldown: ' after the cooldown is over' };

/** How an Alertmanager alert is decided again: Alertmanager sends a firing alert again every repeat_interval. */
const ALERTMANAGER: Record<DecidedAgainWhen, string> = {
  each: "; decided again at the alert's next delivery",
  limit: `; decided again at the alert's first delivery${UNTIL.limit}`,
  cooldown: `; decided again at the alert's first delivery${UNTIL.cooldown}`,
};

/** How an incident posted through the API with an id is decided again: nothing sends it again but its sender. */
const POSTED_WITH_ID: Record<DecidedAgainWhen, string> = {
  each: '; decided again if it is posted again with the same id',
  limit: `; decided again if it is posted again with the same id${UNTIL.limit}`,
  cooldown: `; decided again if it is posted again with the same id${UNTIL.cooldown}`,
};

const CLAUSES: readonly string[] = [...Object.values(ALERTMANAGER), ...Object.values(POSTED_WITH_ID)];

/**
 * What a block by a limit that clears by itself (the blast radius, the engine-wide bound
 * on runs under way, the rate limit, the cooldown) adds to its reason, so a person does
 * not read it as final: for an alert decided on intake (`auto`) whose firing re-delivery
 * is decided again. That is an Alertmanager alert (sent again every repeat_interval) and
 * an incident posted through the API with an id (its dedup key is the id's, not the
 * incident's own: see genericToIncident), posted again with it. Nothing for one posted
 * without an id (posted again, it is another incident), for a PagerDuty event (PagerDuty
 * sends an event again only when its delivery failed, and nothing was decided then), nor
 * for an approved plan or a manual run (a person asks again). The reason's start is kept
 * as it was: what matches on it still does.
 */
export function decidedAgainClause(incident: Incident, trigger: DecisionTrigger, when: DecidedAgainWhen): string {
  if (trigger !== 'auto' || incident.status !== 'firing') return '';
  if (incident.source === 'alertmanager') return ALERTMANAGER[when];
  if (incident.source === 'api' && incident.dedup_key !== incident.alert_key) return POSTED_WITH_ID[when];
  return '';
}

/** A reason without the clause `decidedAgainClause` added to it: what it said before it was added. */
export function withoutDecidedAgainClause(reason: string): string {
  const clause = CLAUSES.find((c) => reason.endsWith(c));
  return clause === undefined ? reason : reason.slice(0, -clause.length);
}
