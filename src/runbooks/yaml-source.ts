import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node, type Pair, type YAMLMap, type YAMLSeq } from 'yaml';
import { BLANK_LETTERS, BLANK_MARKS } from '../lib/index.js';
import type { YamlPath } from './problems.js';

/**
 * A YAML text parsed once into plain values plus a way back to line numbers, so
 * validation can run on ordinary objects and still say where a problem is.
 */
export interface YamlSource {
  value: unknown;
  /** Syntax errors: when there are any, `value` is not to be trusted. */
  errors: Array<{ message: string; line: number }>;
  /**
   * What parses but would not be read as written (a tag, a YAML 1.1 directive, a
   * leading-zero number, a duplicate key, a key that is not text, a hidden character),
   * and aliases that would repeat more than the file may (aliasExpansion), at its path:
   * when there are any, `value` is null.
   */
  notPlain: Array<{ path: YamlPath; message: string; line: number }>;
  lineOf(path: YamlPath, at: 'key' | 'value'): number | undefined;
  /**
   * The key at the end of `path` as written and as read: `1.10:` is written "1.10" and
   * read as the number 1.1, which the plain value's key ("1.1") no longer shows.
   */
  keyOf(path: YamlPath): { written: string; value: unknown; line: number } | undefined;
  /**
   * The scalar at `path` as written (its source text, without quotes or comment):
   * `1.10` is read as the number 1.1, which the plain value no longer shows.
   */
  writtenAt(path: YamlPath): string | undefined;
  /**
   * How the value at `path` was written when it is a map of one key and no value:
   * `{service}` (braces: a flow map, what an unquoted placeholder reads as) or
   * `CrashLoopBackOff:` (a key with a trailing colon and nothing after it). `key` is the
   * key as written.
   */
  emptyPairAt(path: YamlPath): EmptyPair | undefined;
}

/** A map of one key and no value, and how it was written: see YamlSource.emptyPairAt. */
export interface EmptyPair {
  written: 'braces' | 'colon';
  key: string;
}

/**
 * Which syntax errors may name an unquoted `{name}` on their line as the cause: only in a
 * file whose values hold placeholders (runbooks), and there, told as no placeholder in the
 * fields that take none (`triggers:`, `match:`), keyed by the line's leading key.
 */
export interface PlaceholderHint {
  literalKeys: ReadonlySet<string>;
}

/** A runbook file's fields that are never filled: a `{name}` there is text, never a placeholder. */
export const RUNBOOK_LITERAL_KEYS: ReadonlySet<string> = new Set(['triggers', 'match']);

// Anchors and aliases are legal YAML, but a "billion laughs" file must not take the
// loader down: expanding more aliases than this is an error.
const MAX_ALIAS_COUNT = 1000;

/**
 * The most values (lists, maps, keys, scalars) the aliases of one file may repeat, in
 * all. The library's alias count (above) counts an alias of a list as one whatever the
 * list's length, and everything after the parse (a runbook compiled, digested, frozen and
 * checked each) costs what the value holds as read: 1,000 runbooks aliasing one list of
 * 136,938 triggers ran lint out of memory, and 100 aliasing a list of 60,000 held a
 * reload for 27 s. What a file writes out is bounded by its size (1 MiB); this bounds what
 * its aliases add to it. The shipped runbook files use no alias.
 */
export const MAX_ALIASED_VALUES = 100_000;

/**
 * @param placeholders whether the file's values hold `{placeholders}` (a runbook file), so
 *   that a syntax error on a line with an unquoted one names it (see firstSyntaxError).
 */
export function parseYamlSource(text: string, placeholders?: PlaceholderHint): YamlSource {
  const counter = new LineCounter();
  // prettyErrors off: we want one-line messages and compute the line ourselves.
  // resolveKnownTags off: !!binary, !!timestamp, !!set, !!omap are YAML 1.1 types that
  // became a byte array, a Date or a Map no validator expects (an !!omap of runbooks
  // loaded none, silently); unresolved, notPlainYaml refuses them by name.
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true, resolveKnownTags: false });
  const line = (offset: number): number => counter.linePos(offset).line;
  // A duplicate key alone is told by notPlainYaml, with its path and the first one's line.
  const errors = firstSyntaxError(
    text,
    distinct(syntaxErrors(doc).map((e) => ({ message: yamlErrorMessage(e.code, e.message), line: line(e.pos[0]), at: e.pos[0] }))),
    placeholders,
  );
  const notPlain = errors.length === 0 ? [...hiddenCharacters(text, line), ...notPlainYaml(doc, text, line)] : [];
  // Before the value is built: past the budget, nothing is built from the file.
  if (errors.length === 0 && notPlain.length === 0) notPlain.push(...aliasExpansion(doc, line));
  let value: unknown = null;
  if (errors.length === 0 && notPlain.length === 0) {
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      errors.push({ message: err instanceof Error ? err.message : String(err), line: 1 });
    }
  }
  const pairs = new WeakMap<YAMLMap, Map<string, Pair>>();
  // Keys by the text the plain value names them with (a null key is "" there), built once per map.
  const readKeys = new WeakMap<YAMLMap, Map<string, Node>>();
  const keyOf = (path: YamlPath): { written: string; value: unknown; line: number } | undefined => {
    const parent = nodeAt(doc, path.slice(0, -1), pairs);
    if (!isMap(parent) || path.length === 0) return undefined;
    let byKey = readKeys.get(parent as YAMLMap);
    if (!byKey) {
      byKey = new Map();
      for (const p of (parent as YAMLMap).items) {
        if (!isScalar(p.key)) continue;
        const read = p.key.value === null || p.key.value === undefined ? '' : String(p.key.value);
        if (!byKey.has(read)) byKey.set(read, p.key);
      }
      readKeys.set(parent as YAMLMap, byKey);
    }
    const key = byKey.get(String(path[path.length - 1]));
    if (!isScalar(key) || !key.range) return undefined;
    return { written: text.slice(key.range[0], key.range[1]).trim(), value: key.value, line: line(key.range[0]) };
  };
  const writtenAt = (path: YamlPath): string | undefined => {
    const node = nodeAt(doc, path, pairs);
    return isScalar(node) && typeof node.source === 'string' ? node.source : undefined;
  };
  const emptyPairAt = (path: YamlPath): EmptyPair | undefined => {
    const node = nodeAt(doc, path, pairs);
    if (!isMap(node) || node.items.length !== 1 || !node.range) return undefined;
    const pair = node.items[0]!;
    if (!isScalar(pair.key) || !pair.key.range) return undefined;
    const key = text.slice(pair.key.range[0], pair.key.range[1]).trim();
    // `{service}`: no colon, so no value at all; `{service: }` is a map written as one.
    if (text[node.range[0]] === '{') return pair.value === null ? { written: 'braces', key } : undefined;
    // `CrashLoopBackOff:` and nothing after the colon (`X: ~` and `X: null` are written nulls).
    const empty = isScalar(pair.value) && pair.value.value === null && pair.value.source === '';
    return empty && /^[ \t]*:/.test(text.slice(pair.key.range[1])) ? { written: 'colon', key } : undefined;
  };
  return { value, errors, notPlain, lineOf: (path, at) => locate(doc, path, at, line, pairs), keyOf, writtenAt, emptyPairAt };
}

/**
 * Each error once: a list nested 100,000 deep overflows the parser's stack at every
 * level it unwinds through, which printed the same line thousands of times.
 */
export function distinct<T extends { message: string; line: number | undefined }>(errors: T[]): T[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const k = `${e.line}\u0000${e.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * The first syntax error of a file, the one its author can act on: once the parser is
 * lost, every token after it is an error too (one `}` too many in a flow list gave 147
 * lines, none the cause). How many more there were is said, not listed. With
 * `placeholders` (a file whose values hold them), when its line holds an unquoted
 * {placeholder}, the likely cause is named: `{…}` in YAML is a flow map. A file without
 * placeholders (rectify.yaml, a runbook test file) is given no such hint: there `{url}`
 * was never one.
 */
export function firstSyntaxError(
  text: string,
  errors: Array<{ message: string; line: number; at: number }>,
  placeholders?: PlaceholderHint,
): Array<{ message: string; line: number }> {
  if (errors.length === 0) return [];
  const first = errors.reduce((a, b) => (b.at < a.at ? b : a));
  const more = errors.length > 2 ? ` (${errors.length - 1} more syntax errors after it, not listed: they likely follow from this one)` : errors.length > 1 ? ' (1 more syntax error after it, not listed: it likely follows from this one)' : '';
  return [{ message: `${first.message}${placeholders ? placeholderHint(text, first.line, placeholders) : ''}${more}`, line: first.line }];
}

/** `; {pod} unquoted is a YAML flow map…` when the line holds one where a value or a flow item begins; else ''. */
function placeholderHint(text: string, lineNo: number, placeholders: PlaceholderHint): string {
  const written = (text.split(/\r\n|\n|\r/)[lineNo - 1] ?? '').replace(/"(?:[^"\\]|\\.)*"?|'(?:[^']|'')*'?|(?:^|\s)#.*$/g, '');
  // Where a value or a flow item begins (not inside a plain scalar: `delete pod {pod}` is text).
  const placeholder = /(?:^|[[,{]|[:-]\s)\s*(\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\})/.exec(written)?.[1]?.replace(/\s/g, '');
  if (!placeholder) return '';
  const key = /^\s*(?:-\s+)?([A-Za-z_][A-Za-z0-9_-]*)\s*:/.exec(written)?.[1];
  if (key !== undefined && placeholders.literalKeys.has(key)) return `; ${placeholder} unquoted is a YAML flow map, and no placeholder is filled in ${key}: write the value out`;
  return `; ${placeholder} unquoted is a YAML flow map, not a placeholder: quote the text holding it, as in "${placeholder}"`;
}

/** The YAML library's message, in the file's terms where it speaks of its own API. */
export function yamlErrorMessage(code: string, message: string): string {
  if (code === 'MULTIPLE_DOCS') return 'a second YAML document begins here (after "---"): a file holds one document; merge it into the first or move it to a file of its own';
  const first = message.split('\n')[0] ?? message;
  if (/call stack/i.test(first)) return 'nested too deeply (lists or maps inside each other thousands of levels down)';
  return first;
}

/**
 * The parser's errors, but none when the only ones are duplicate keys: the tree is whole
 * then, and notPlainYaml names each duplicate by its path ("Map keys must be unique"
 * named neither the key nor where it was first given).
 */
export function syntaxErrors(doc: Document): Document['errors'] {
  return doc.errors.every((e) => e.code === 'DUPLICATE_KEY') ? [] : doc.errors;
}

// Control characters YAML does not allow unescaped (the parser lets them through), and
// characters that are invisible, reorder what is shown or pass for a space: a raw NUL in
// an argument failed only when the step ran, an ESC rewrote the terminal lint printed to,
// and a right-to-left override or a zero-width space makes a reviewed line read otherwise
// than it runs ("Trojan Source"); `namespace!="kube-system\u180e"` guards nothing. The
// invisible ones are those a terminal draws as nothing (lib/text.ts): the format
// characters (Unicode category Cf: zero-width space and joiners, the bidirectional marks,
// overrides and isolates, U+061C, U+180E, the soft hyphen, U+FEFF, the tag characters…)
// and the blanks that are letters or marks (U+034F, the Hangul fillers U+115F, U+1160,
// U+3164, U+FFA0, U+17B4, U+17B5, U+180B–U+180F); the spaces other than U+0020 (U+00A0
// no-break space, U+2000–U+200A, U+202F, U+205F, U+3000, U+1680) and the line and
// paragraph separators U+2028, U+2029 (not line breaks in YAML 1.2) look like what they
// are not. A carriage return not followed by a line feed (a CRLF ending is one line break)
// is drawn as a line break by editors and viewers but is no line break in YAML:
// `triggers: [X]  # reviewed\r    mode: dry_run` showed `mode: dry_run` on a line of its own
// while the parser read it as part of the comment. Written as escapes in a double-quoted string ("\u202e") they are explicit, and
// allowed. A byte order mark may open the file.
const HIDDEN_RE = new RegExp(
  `[\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f\\p{Cf}\\u00a0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000\\u2028\\u2029${BLANK_LETTERS}]|${BLANK_MARKS}|\\r(?!\\n)`,
  'gu',
);
const SPACE_RE = /[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/;

/** Each line holding such a character, once, with the first one's code point and column. */
export function hiddenCharacters(text: string, line: (offset: number) => number): Array<{ path: YamlPath; message: string; line: number }> {
  const out: Array<{ path: YamlPath; message: string; line: number }> = [];
  let lastLine = 0;
  for (const m of text.matchAll(HIDDEN_RE)) {
    if (m.index === 0 && m[0] === '\ufeff') continue;
    const at = line(m.index);
    if (at === lastLine) continue;
    lastLine = at;
    const code = `U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    const column = m.index - text.lastIndexOf('\n', m.index - 1);
    const kind = m[0] === '\r'
      ? 'a carriage return not followed by a line feed (shown as a line break, read as none)'
      : /\p{Cc}/u.test(m[0])
        ? 'a control character'
      : SPACE_RE.test(m[0])
        ? 'a space that is not the plain space (U+0020)'
        : m[0] === '\u2028' || m[0] === '\u2029'
          ? 'a line or paragraph separator (not a line break in YAML)'
          : 'an invisible character';
    // A NUL has no escape to offer: no program can be given an argument holding one, and
    // the escape is refused in a command argument too.
    const cp = m[0].codePointAt(0)!;
    const escape = cp > 0xffff ? `\\U${cp.toString(16).padStart(8, '0')}` : `\\u${code.slice(2).toLowerCase()}`;
    const fix = m[0] === '\u0000' ? 'remove it' : `remove it, or write it as the escape "${escape}" in a double-quoted string if it is meant`;
    out.push({ path: [], message: `line ${at}, column ${column}: ${kind}, ${code}: what is shown is not what is read; ${fix}`, line: at });
  }
  return out;
}

/** Tags that only say what the value already is: `!!str 3` is the string "3". */
const PLAIN_TAGS = new Set(['!', ...['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`)]);
/**
 * Whether a plain tag names what its value already is: `!!null LOW` was read as the text
 * "LOW", `!!map [X]` as a list, `!!seq "kubectl …"` as text, `!!int "x"` as text (the
 * parser only warned, TAG_RESOLVE_FAILED, and went on). `!` (non-specific) is text.
 */
function tagFits(tag: string, node: Node): boolean {
  const value = isScalar(node) ? node.value : undefined;
  switch (tag.replace(/^tag:yaml\.org,2002:/, '')) {
    case 'map':
      return isMap(node);
    case 'seq':
      return isSeq(node);
    case 'null':
      return isScalar(node) && value === null;
    case 'bool':
      return isScalar(node) && typeof value === 'boolean';
    case 'int':
      return isScalar(node) && typeof value === 'number' && Number.isInteger(value);
    case 'float':
      return isScalar(node) && typeof value === 'number';
    case 'str':
      return isScalar(node) && typeof value === 'string';
    default:
      return true;
  }
}

/** What a node was read as, for a tag that does not fit it. */
function kindOf(node: Node): string {
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  if (!isScalar(node)) return 'an alias';
  const v = node.value;
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return `true/false`;
  if (typeof v === 'number') return `the number ${v}`;
  return `the text ${JSON.stringify(String(v).length > 60 ? `${String(v).slice(0, 60)}…` : String(v))}`;
}

/** `0755`: decimal 755 in YAML 1.2 (how rectify reads it), octal 493 in YAML 1.1. */
const LEADING_ZERO_RE = /^[-+]?0[0-9]+$/;

/**
 * What parses but would not mean what its writer meant: a `%YAML 1.1` directive (which
 * turns `yes`, `off` into booleans, `010` into 8 and `1:30` into 90), a tag other than
 * the plain ones (`!foo`, `!!js/function`, `!!binary`: the value was read as if it had
 * none, or as a type no field takes), and an integer with a leading zero.
 */
export function notPlainYaml(doc: Document, text: string, line: (offset: number) => number): YamlSource['notPlain'] {
  const out: YamlSource['notPlain'] = [];
  if (doc.directives?.yaml.explicit && doc.directives.yaml.version !== '1.2') {
    // The rest of the file was read by YAML 1.1's rules: say only what to remove.
    return [{ path: [], message: `%YAML ${doc.directives.yaml.version}: rectify reads YAML 1.2 (in YAML 1.1, yes, no, on and off are booleans, 010 is 8 and 1:30 is 90); remove the directive`, line: 1 }];
  }
  visit(doc, {
    Node(_key, node, ancestors) {
      const at = line(node.range?.[0] ?? 0);
      if (isMap(node)) {
        const first = new Map<string, number>();
        for (const pair of node.items) {
          if (!isScalar(pair.key)) {
            // `? [a, b]` or `{a: 1}: x`: no field or id is a list or map, and turning one
            // into text ("[ a, b ]") printed a warning on the service's stderr.
            const keyLine = line((pair.key as Node | null)?.range?.[0] ?? node.range?.[0] ?? 0);
            out.push({ path: pathOf(ancestors, node), message: `a key here is ${isSeq(pair.key) ? 'a list' : isMap(pair.key) ? 'a map' : isAlias(pair.key) ? 'an alias (*name)' : 'empty'}: write each key out as text`, line: keyLine });
            continue;
          }
          // Compared as the plain value names keys: `~:` and `"":` are both "" there.
          const key = pair.key.value === null || pair.key.value === undefined ? '' : String(pair.key.value);
          const keyLine = line(pair.key.range?.[0] ?? 0);
          const firstLine = first.get(key);
          if (firstLine === undefined) first.set(key, keyLine);
          else out.push({ path: [...pathOf(ancestors, node), key], message: `key ${JSON.stringify(key)} is given twice in one map (first at line ${firstLine}); give it once: neither value is taken`, line: keyLine });
        }
      }
      const shown = node.tag?.replace(/^tag:yaml\.org,2002:/, '!!');
      if (node.tag !== undefined && !PLAIN_TAGS.has(node.tag)) {
        out.push({ path: pathOf(ancestors, node), message: `YAML tag ${shown} is not supported: rectify reads plain values (text, numbers, true/false, null, lists and maps); remove the tag`, line: at });
      } else if (node.tag !== undefined && !tagFits(node.tag, node)) {
        out.push({ path: pathOf(ancestors, node), message: `YAML tag ${shown} does not say what the value is (${kindOf(node)}): a tag may only name what a value already is; remove the tag`, line: at });
      } else if (isScalar(node) && typeof node.value === 'number' && (node.type === 'PLAIN' || node.tag !== undefined) && node.range) {
        // `!!int "0755"` is read as 755 too: held to the same rule as 0755 unquoted.
        const written = node.type === 'PLAIN' ? text.slice(node.range[0], node.range[1]).trim() : typeof node.source === 'string' ? node.source : '';
        if (LEADING_ZERO_RE.test(written)) {
          out.push({ path: pathOf(ancestors, node), message: `${written} has a leading zero: YAML 1.2 reads it as ${node.value}, YAML 1.1 as an octal number; write ${node.value}, or ${node.type === 'PLAIN' ? 'quote it' : 'remove the tag'} for text`, line: at });
        }
      }
    },
  });
  // A tag the parser could not apply is refused whatever the checks above made of it
  // (each is named there; this only keeps a file the parser warned about from loading).
  const unresolved = out.length === 0 ? doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED') : undefined;
  if (unresolved) {
    const at = line(unresolved.pos[0]);
    out.push({ path: [], message: `line ${at}: ${yamlErrorMessage(unresolved.code, unresolved.message)}: a tag may only name what a value already is; remove the tag`, line: at });
  }
  // In file order, as every other problem (stable: one line's problems keep their order).
  return out.map((p, i) => ({ p, i })).sort((a, b) => a.p.line - b.p.line || a.i - b.i).map((x) => x.p);
}

/**
 * The file refused when its aliases repeat more than MAX_ALIASED_VALUES values in all (an
 * alias counts every value in what it names, the aliases in that expanded too), named at
 * the alias that passes the budget; or when an alias lies inside the value it names (a
 * value without end). Counted on the parsed document, each node once: the size of what
 * an anchor names is known by the time an alias of it is met (it is written before), so
 * the walk costs the file as written, however much the aliases would expand to.
 */
export function aliasExpansion(doc: Document, line: (offset: number) => number, budget: number = MAX_ALIASED_VALUES): YamlSource['notPlain'] {
  /** Each anchor's node, as of where the walk is: an alias names the last one before it. */
  const anchors = new Map<string, Node>();
  /** How many values each anchored node holds, its aliases expanded, once walked. */
  const sizes = new Map<Node, number>();
  /** The anchored collections being walked: an alias of one is inside what it names. */
  const open = new Set<Node>();
  let repeated = 0;
  // A map's children are its keys and values in turn: child i is item i >> 1's key or value.
  const stack: Array<{ node: YAMLMap | YAMLSeq; map: boolean; next: number; end: number; size: number }> = [];
  const path: Array<string | number> = [];
  const refused = (alias: Node, message: string): YamlSource['notPlain'] => [{ path: [...path], message, line: line(alias.range?.[0] ?? 0) }];
  let node: unknown = doc.contents;
  for (;;) {
    let size: number | undefined;
    if (node === null || node === undefined) size = 0;
    else if (isAlias(node)) {
      const target = anchors.get(node.source);
      // An alias before its anchor is the parse's error ("Unresolved alias"), told when the value is built.
      if (target === undefined) size = 1;
      else if (open.has(target)) {
        return refused(node, `*${node.source} is inside the value &${node.source} names: it would repeat without end; an alias may only repeat a value written before it, outside it`);
      } else {
        size = sizes.get(target) ?? 1;
        repeated += size;
        if (repeated > budget) {
          return refused(
            node,
            `*${node.source} repeats ${size.toLocaleString('en-US')} values (lists, maps, keys, scalars), taking what the file's aliases repeat past ${budget.toLocaleString('en-US')}, the most one file's may: the file would be read as far larger than it is written; write the shared values out where they are used, or split the file`,
          );
        }
      }
    } else {
      const n = node as Node;
      if (n.anchor) anchors.set(n.anchor, n);
      if (isMap(n) || isSeq(n)) {
        if (n.anchor) open.add(n);
        stack.push({ node: n, map: isMap(n), next: 0, end: isMap(n) ? n.items.length * 2 : n.items.length, size: 1 });
      } else {
        size = 1;
        if (n.anchor) sizes.set(n, 1);
      }
    }
    if (size !== undefined) {
      if (stack.length === 0) return [];
      stack[stack.length - 1]!.size += size;
      path.pop();
    }
    // The next child to walk, closing each collection walked to its end.
    for (;;) {
      const top = stack[stack.length - 1];
      if (top === undefined) return [];
      if (top.next < top.end) {
        const i = top.next++;
        if (top.map) {
          const pair = (top.node as YAMLMap).items[i >> 1]!;
          path.push(isScalar(pair.key) ? String(pair.key.value) : String(pair.key));
          node = i & 1 ? pair.value : pair.key;
        } else {
          path.push(i);
          node = (top.node as YAMLSeq).items[i];
        }
        break;
      }
      stack.pop();
      if (top.node.anchor) {
        open.delete(top.node);
        sizes.set(top.node, top.size);
      }
      if (stack.length === 0) return [];
      stack[stack.length - 1]!.size += top.size;
      path.pop();
    }
  }
}

/** The YAML path of a node from the ancestors `visit` gives: map keys and list indexes. */
function pathOf(ancestors: readonly unknown[], node: unknown): YamlPath {
  const path: (string | number)[] = [];
  const chain = [...ancestors, node];
  for (let i = 0; i < chain.length - 1; i++) {
    const a = chain[i];
    if (isPair(a)) path.push(isScalar(a.key) ? String(a.key.value) : String(a.key));
    else if (isSeq(a)) path.push(a.items.indexOf(chain[i + 1] as never));
  }
  return path;
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

/** The node at `path` (map keys and list indexes, through aliases), or undefined. */
function nodeAt(doc: Document, path: YamlPath, pairs: WeakMap<YAMLMap, Map<string, Pair>>): unknown {
  let node: unknown = doc.contents;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) node = pairOf(node as YAMLMap, String(seg), pairs)?.value;
    else if (isSeq(node) && typeof seg === 'number') node = node.items[seg];
    else return undefined;
  }
  return isAlias(node) ? node.resolve(doc) : node;
}

function rangeLine(node: unknown, line: (offset: number) => number): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? line(range[0]) : undefined;
}
