import { plainPathKey, quotedEscaped } from '../lib/index.js';

/**
 * A JSON object that gives the same key twice: JSON.parse keeps the last, silently, so
 * `{"dry_run": true, "dry_run": false}` would run for real and a label given twice would
 * be read as whichever came last, a matcher seeing one value and a person reading the
 * body another. rectify refuses such a body (as its YAML reading refuses a key given
 * twice) rather than choose.
 *
 * `duplicateKey` reads text JSON.parse has already accepted, so it assumes well-formed
 * JSON and checks nothing else. It runs on every intake body, alert storms included, so
 * it is one pass with no recursion and little allocation: string contents are skipped
 * with indexOf; the keys of each open object are compared by their offsets in the text
 * (a key is sliced only in an object of more than SMALL_OBJECT keys, or when it holds an
 * escape, and decoded with JSON.parse only then), so `"a"` and `"\u0061"` are one key.
 * Deep nesting is a loop, never a stack overflow.
 */

/** Up to this many keys an object's keys are compared by their offsets; past it (or once a key holds an escape), through a Set. */
const SMALL_OBJECT = 16;

const QUOTE = 34;
const OPEN_OBJECT = 123;
const CLOSE_OBJECT = 125;
const OPEN_ARRAY = 91;
const CLOSE_ARRAY = 93;
const COMMA = 44;

/** Where a key given twice is: the keys and array indexes from the top of the document down to it (the key itself last). */
export type JsonPath = Array<string | number>;

/** The path of the first key some object of `text` gives twice, or undefined when there is none. `text` must be JSON that JSON.parse accepts. */
export function duplicateKey(text: string): JsonPath | undefined {
  const n = text.length;
  // Per open container, by depth: whether it is an object, its element index (arrays) or
  // key count (objects), its keys' [start, end) offsets, and its Set once it has one.
  const isObject: boolean[] = [];
  const count: number[] = [];
  const offsets: number[][] = [];
  const sets: Array<Set<string> | undefined> = [];
  let depth = -1;
  let expectKey = false;
  let backslash = text.indexOf('\\');
  if (backslash < 0) backslash = n;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i + 1;
      let end = text.indexOf('"', start);
      if (backslash < start) {
        backslash = text.indexOf('\\', start);
        if (backslash < 0) backslash = n;
      }
      let escaped = false;
      // Each backslash before the quote found starts an escape of two characters; the
      // quote it escapes, if it is one, does not end the string.
      while (backslash < end) {
        escaped = true;
        if (backslash + 1 === end) end = text.indexOf('"', end + 1);
        backslash = text.indexOf('\\', backslash + 2);
        if (backslash < 0) backslash = n;
      }
      i = end + 1;
      if (!expectKey) continue;
      expectKey = false;
      const keys = offsets[depth]!;
      const k = count[depth]!;
      count[depth] = k + 1;
      let set = sets[depth];
      if (set === undefined && !escaped && k < SMALL_OBJECT) {
        const len = end - start;
        for (let p = 0; p < keys.length; p += 2) {
          const from = keys[p]!;
          if (keys[p + 1]! - from !== len) continue;
          let j = 0;
          while (j < len && text.charCodeAt(from + j) === text.charCodeAt(start + j)) j++;
          if (j === len) return pathTo(text, depth, isObject, count, offsets, start, end);
        }
        keys.push(start, end);
        continue;
      }
      if (set === undefined) {
        // Keys compared by offsets so far hold no escape: their text is the key.
        set = new Set<string>();
        for (let p = 0; p < keys.length; p += 2) set.add(text.slice(keys[p]!, keys[p + 1]!));
        sets[depth] = set;
      }
      const key = keyAt(text, start, end);
      if (set.has(key)) return pathTo(text, depth, isObject, count, offsets, start, end);
      set.add(key);
      keys.push(start, end);
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth++;
      const object = c === OPEN_OBJECT;
      isObject[depth] = object;
      count[depth] = 0;
      const keys = offsets[depth];
      if (keys === undefined) offsets[depth] = [];
      else keys.length = 0;
      sets[depth] = undefined;
      expectKey = object;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
      expectKey = false;
    } else if (c === COMMA) {
      if (isObject[depth]) expectKey = true;
      else count[depth]!++;
    }
    i++;
  }
  return undefined;
}

/** A key's text between its quotes at [start, end), decoded when it holds an escape. */
function keyAt(text: string, start: number, end: number): string {
  const raw = text.slice(start, end);
  return raw.includes('\\') ? (JSON.parse(text.slice(start - 1, end + 1)) as string) : raw;
}

function pathTo(text: string, depth: number, isObject: boolean[], count: number[], offsets: number[][], start: number, end: number): JsonPath {
  const path: JsonPath = [];
  for (let d = 0; d < depth; d++) {
    if (isObject[d]) {
      const keys = offsets[d]!;
      path.push(keyAt(text, keys[keys.length - 2]!, keys[keys.length - 1]!));
    } else path.push(count[d]!);
  }
  path.push(keyAt(text, start, end));
  return path;
}

/**
 * A path as the API's errors name a field: `body.alerts.3.labels.namespace`. A key that
 * is not plain (a `.`, a bracket, a quote, a space, a line feed or another character a
 * screen does not show, or empty) is written quoted with escapes,
 * `body.alerts.0.labels["app.kubernetes.io/name"]`: raw, `a.b` read as two keys, and a key
 * holding line feeds printed lines of its own wherever the path is shown (`rectify replay`).
 */
export function formatJsonPath(prefix: string, path: ReadonlyArray<PropertyKey>): string {
  let out = prefix;
  for (const seg of path) {
    const key = String(seg);
    out += typeof seg === 'number' || plainPathKey(key) ? `.${key}` : `[${quotedEscaped(key)}]`;
  }
  return out;
}

/** The 400's detail for a key given twice: the path named, and what to do. */
export function duplicateKeyDetail(prefix: string, path: JsonPath): { path: string; message: string } {
  const key = path[path.length - 1]!;
  return { path: formatJsonPath(prefix, path), message: `the key ${JSON.stringify(String(key))} is given twice in one object: which value is meant cannot be told; send each key once` };
}
