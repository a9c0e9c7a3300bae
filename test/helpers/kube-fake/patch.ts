/**
 * The three patch formats the API server accepts, as far as rectify and
 * kubectl-style clients use them. Strategic merge is modelled by its most-used
 * rule (lists of objects with a `name` merge by name; null deletes); the
 * `$patch`/`$retainKeys` directives are not modelled and are answered 422, so a
 * test that starts relying on them fails loudly instead of passing wrongly.
 */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export class PatchError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function isObject(v: unknown): v is { [k: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/** RFC 7386. */
export function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: { [k: string]: Json } = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export function strategicMergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: { [k: string]: Json } = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) throw new PatchError(422, `strategic merge directive ${k} is not supported by the fake`);
    if (v === null) {
      delete out[k];
      continue;
    }
    const cur = out[k];
    if (Array.isArray(v) && Array.isArray(cur) && v.every((e) => isObject(e) && typeof e.name === 'string')) {
      const merged = clone(cur);
      for (const item of v) {
        const name = (item as { name: string }).name;
        const i = merged.findIndex((e) => isObject(e) && e.name === name);
        if (i >= 0) merged[i] = strategicMergePatch(merged[i], item);
        else merged.push(clone(item));
      }
      out[k] = merged;
    } else {
      out[k] = strategicMergePatch(cur, v);
    }
  }
  return out;
}

function parsePointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new PatchError(422, `json patch path ${JSON.stringify(path)} must start with "/"`);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** RFC 6902: add, remove, replace, test (move and copy are not needed here). */
export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw new PatchError(400, 'json patch must be an array of operations');
  let doc = clone(target);
  for (const raw of ops) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') throw new PatchError(400, 'json patch operation needs op and path');
    const parts = parsePointer(raw.path);
    if (raw.op === 'test') {
      if (JSON.stringify(get(doc, parts)) !== JSON.stringify(raw.value)) throw new PatchError(422, `json patch test failed at ${raw.path}`);
      continue;
    }
    if (raw.op !== 'add' && raw.op !== 'remove' && raw.op !== 'replace') throw new PatchError(422, `json patch op ${raw.op} is not supported by the fake`);
    if (parts.length === 0) {
      if (raw.op === 'remove') throw new PatchError(422, 'cannot remove the whole document');
      doc = clone(raw.value ?? null);
      continue;
    }
    const parent = get(doc, parts.slice(0, -1));
    const key = parts[parts.length - 1]!;
    if (Array.isArray(parent)) {
      const i = key === '-' ? parent.length : Number(key);
      if (!Number.isInteger(i) || i < 0 || i > parent.length) throw new PatchError(422, `json patch index ${key} out of range at ${raw.path}`);
      if (raw.op === 'add') parent.splice(i, 0, clone(raw.value ?? null));
      else if (i >= parent.length) throw new PatchError(422, `json patch: nothing at ${raw.path}`);
      else if (raw.op === 'remove') parent.splice(i, 1);
      else parent[i] = clone(raw.value ?? null);
    } else if (isObject(parent)) {
      if (raw.op !== 'add' && !(key in parent)) throw new PatchError(422, `json patch: nothing at ${raw.path} to ${raw.op}`);
      if (raw.op === 'remove') delete parent[key];
      else parent[key] = clone(raw.value ?? null);
    } else {
      throw new PatchError(422, `json patch: parent of ${raw.path} does not exist`);
    }
  }
  return doc;
}

function get(doc: Json, parts: string[]): Json | undefined {
  let cur: Json | undefined = doc;
  for (const p of parts) {
    if (Array.isArray(cur)) cur = cur[Number(p)];
    else if (isObject(cur)) cur = cur[p];
    else return undefined;
  }
  return cur;
}

/** JSON with sorted keys: for comparing templates and specs. */
export function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stableStringify(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
