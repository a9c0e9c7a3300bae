import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import type { YamlPath } from './problems.js';

/**
 * A YAML text parsed once into plain values plus a way back to line numbers, so
 * validation can run on ordinary objects and still say where a problem is.
 */
export interface YamlSource {
  value: unknown;
  /** Syntax errors: when there are any, `value` is not to be trusted. */
  errors: Array<{ message: string; line: number }>;
  lineOf(path: YamlPath, at: 'key' | 'value'): number | undefined;
}

// Anchors and aliases are legal YAML, but a "billion laughs" file must not take the
// loader down: expanding more aliases than this is an error.
const MAX_ALIAS_COUNT = 1000;

export function parseYamlSource(text: string): YamlSource {
  const counter = new LineCounter();
  // prettyErrors off: we want one-line messages and compute the line ourselves.
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  const line = (offset: number): number => counter.linePos(offset).line;
  const errors = doc.errors.map((e) => ({ message: e.message.split('\n')[0] ?? e.message, line: line(e.pos[0]) }));
  let value: unknown = null;
  if (errors.length === 0) {
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      errors.push({ message: err instanceof Error ? err.message : String(err), line: 1 });
    }
  }
  const pairs = new WeakMap<YAMLMap, Map<string, Pair>>();
  return { value, errors, lineOf: (path, at) => locate(doc, path, at, line, pairs) };
}

/**
 * The map's pairs by key, built once per map: looking a key up by scanning made every
 * problem and warning cost the size of its map, quadratic in a file of many runbooks.
 */
function pairOf(map: YAMLMap, key: string, pairs: WeakMap<YAMLMap, Map<string, Pair>>): Pair | undefined {
  let byKey = pairs.get(map);
  if (!byKey) {
    byKey = new Map();
    for (const p of map.items) if (isScalar(p.key) && !byKey.has(String(p.key.value))) byKey.set(String(p.key.value), p);
    pairs.set(map, byKey);
  }
  return byKey.get(key);
}

function locate(doc: Document, path: YamlPath, at: 'key' | 'value', line: (offset: number) => number, pairs: WeakMap<YAMLMap, Map<string, Pair>>): number | undefined {
  let node: unknown = doc.contents;
  let lastLine: number | undefined = rangeLine(node, line);
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = pairOf(node as YAMLMap, String(seg), pairs);
      if (!pair) return lastLine;
      if (i === path.length - 1 && at === 'key') return rangeLine(pair.key, line) ?? lastLine;
      node = pair.value;
      lastLine = rangeLine(pair.value, line) ?? rangeLine(pair.key, line) ?? lastLine;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      lastLine = rangeLine(node, line) ?? lastLine;
    } else {
      return lastLine;
    }
  }
  return lastLine;
}

function rangeLine(node: unknown, line: (offset: number) => number): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? line(range[0]) : undefined;
}
