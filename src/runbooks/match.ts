import { basename } from 'node:path';
import type { LoadProblem } from '../domain/errors.js';
import type { Incident } from '../domain/incident.js';
import type { Runbook } from '../domain/runbook.js';
import { matchersHoldFor } from './matchers.js';
import { formatPath } from './problems.js';

/**
 * Which runbook an incident gets: the FIRST in load order whose triggers contain
 * the root cause, a symptom or the alertname, and whose `match:` matchers all hold
 * on the values its placeholders are filled with: context over labels (the seed's
 * `_find_runbook`, plus matchers; see `matchersHoldFor`).
 *
 * An alert storm goes through here, so this is an index, not a scan: each trigger
 * word maps to the ascending positions of the runbooks it triggers, and a lookup
 * merges the few lists of the incident's words, stopping at the first runbook
 * whose matchers hold. Cost grows with the incident's words and the runbooks that
 * share them, not with the number of runbooks loaded.
 */
export interface RunbookIndex {
  match(incident: Pick<Incident, 'root_cause' | 'symptoms' | 'alertname' | 'context' | 'labels' | 'service' | 'id'>): Runbook | undefined;
  byId(id: string): Runbook | undefined;
  readonly all: readonly Runbook[];
}

export function createRunbookIndex(runbooks: readonly Runbook[]): RunbookIndex {
  const all = Object.freeze([...runbooks]);
  const byWord = new Map<string, number[]>();
  const byId = new Map<string, Runbook>();
  all.forEach((rb, pos) => {
    if (!byId.has(rb.id)) byId.set(rb.id, rb);
    for (const word of rb.triggers) {
      const list = byWord.get(word);
      if (!list) byWord.set(word, [pos]);
      else if (list[list.length - 1] !== pos) list.push(pos);
    }
  });

  return {
    all,
    byId: (id) => byId.get(id),
    match(incident) {
      // The lists of the incident's words (triggerWords: root cause, symptoms, alertname),
      // each once; a storm's alert names one, walked without the merge or a list of lists.
      let first = byWord.get(incident.root_cause);
      let lists: number[][] | undefined;
      const take = (word: string | undefined): void => {
        const list = word === undefined ? undefined : byWord.get(word);
        if (!list || list === first || lists?.includes(list)) return;
        if (!first) first = list;
        else (lists ??= [first]).push(list);
      };
      for (const word of incident.symptoms) take(word);
      if (incident.alertname) take(incident.alertname);
      if (!first) return undefined;
      if (!lists) {
        for (const pos of first) if (matchersHoldFor(all[pos]!.matchers, incident)) return all[pos];
        return undefined;
      }
      // k-way merge of ascending position lists; k is the number of the incident's words.
      const cursor = lists.map(() => 0);
      for (;;) {
        let best = -1;
        let bestPos = Infinity;
        for (let i = 0; i < lists.length; i++) {
          const pos = lists[i]![cursor[i]!];
          if (pos !== undefined && pos < bestPos) {
            bestPos = pos;
            best = i;
          }
        }
        if (best < 0) return undefined;
        for (let i = 0; i < lists.length; i++) if (lists[i]![cursor[i]!] === bestPos) cursor[i]! += 1;
        const rb = all[bestPos]!;
        if (matchersHoldFor(rb.matchers, incident)) return rb;
      }
    },
  };
}

/** A runbook index a reload replaces whole: every holder sees the new runbooks from its next call. */
export interface ReloadableRunbookIndex extends RunbookIndex {
  /** Puts `next` in force; answers the index it replaced. */
  replace(next: RunbookIndex): RunbookIndex;
  /** How many times it was replaced: an alert matched under an older generation is matched again before it is decided. */
  readonly generation: number;
}

export function createReloadableIndex(initial: RunbookIndex): ReloadableRunbookIndex {
  let current = initial;
  let generation = 0;
  return {
    match: (incident) => current.match(incident),
    byId: (id) => current.byId(id),
    get all() {
      return current.all;
    },
    get generation() {
      return generation;
    },
    replace(next) {
      const previous = current;
      current = next;
      generation++;
      return previous;
    },
  };
}

/**
 * The runbooks `match` can never answer: each of whose trigger words an earlier runbook
 * with no `match:` also has, so that runbook (or one before it) takes every alert this one
 * could get, and its `match:` exclusions are never in force. Each is a
 * warning at its id, naming the runbooks that take its alerts first. `runbooks` in load order.
 */
export function neverChosen(runbooks: readonly Runbook[]): LoadProblem[] {
  // Each word's first runbook with no `match:`: it takes every alert the word triggers.
  const catchAll = new Map<string, { rb: Runbook; pos: number }>();
  const out: LoadProblem[] = [];
  runbooks.forEach((rb, pos) => {
    const takers = new Map<Runbook, string[]>();
    let shadowed = rb.triggers.length > 0;
    for (const word of rb.triggers) {
      const first = catchAll.get(word);
      if (!first || first.pos >= pos) {
        shadowed = false;
        break;
      }
      const words = takers.get(first.rb) ?? [];
      if (!words.includes(word)) takers.set(first.rb, [...words, word]);
    }
    if (shadowed) {
      const named = [...takers].map(([taker, words], i) => `${i === 0 ? `${taker.id} (${where(taker)}) takes` : `${taker.id} (${where(taker)})`} every ${words.join(' or ')} alert${i === 0 ? ' first' : ''}`);
      out.push({
        file: rb.file,
        path: formatPath(['runbooks', rb.id]),
        message: `never chosen: ${named.join(', ')} (${takers.size === 1 ? 'it has' : 'they have'} no match:): an alert runs the first runbook in load order (files by name, runbooks in file order) whose triggers and match: fit it; put this one before ${takers.size === 1 ? 'that one' : 'them'}, or remove it`,
        ...(rb.line !== undefined ? { line: rb.line } : {}),
      });
    }
    if (rb.matchers.length === 0) for (const word of rb.triggers) if (!catchAll.has(word)) catchAll.set(word, { rb, pos });
  });
  return out;
}

/** `a.yaml:3`: where a runbook is, by file name (and line, when known). */
function where(rb: Runbook): string {
  return `${basename(rb.file)}${rb.line !== undefined ? `:${rb.line}` : ''}`;
}
