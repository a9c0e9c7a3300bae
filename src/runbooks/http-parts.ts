import type { Placeholder, Template } from '../domain/runbook.js';
import type { Reporter, YamlPath } from './problems.js';
import { expectMap, readString, scalarAsText } from './fields.js';
import { compileTemplate, refuseNearMisses, scanTemplate } from './template.js';
import { compileUrl } from './url.js';

/** Pieces shared by http actions and http checks. */

const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// What the HTTP client refuses to put in a header value: control characters (but tab)
// and anything above U+00FF. Written in the runbook, it would fail every run unsent.
const UNSENDABLE_HEADER_CHAR_RE = /[^\t\x20-\x7e\x80-\xff]/u;
const HOST = 'the host the request reaches';
const CLIENT = 'the client address the request is taken to have come from';
/**
 * Headers an alert must not fill, with what each chooses: the virtual host a request
 * reaches (the target itself, or a proxy in front of it, routes by them), how a proxy
 * or framework in front of the target rewrites the request (its path, the scheme or port
 * it is taken to have come by, its method), or the client it is taken to come from (an
 * allow-list's address). Filled from an alert, they would let the alert pick where the
 * call goes or what it does, as a placeholder in the URL would. Beside these names, every
 * header of the families proxies speak by is refused (CHOOSING_PREFIXES).
 */
const CHOOSING_HEADERS = new Map([
  ...['host', 'x-forwarded-host', 'x-forwarded-server', 'x-original-host', 'x-host', 'forwarded'].map((h) => [h, HOST] as const),
  ['x-original-url', 'the path the request reaches'],
  ['x-rewrite-url', 'the path the request reaches'],
  ['x-forwarded-prefix', 'the path the request reaches'],
  ['x-forwarded-proto', 'the scheme the request is taken to have come by'],
  ['x-forwarded-port', 'the port the request is taken to have come by'],
  ['x-http-method-override', 'the method the request is handled as'],
  ['x-http-method', 'the method the request is handled as'],
  ['x-method-override', 'the method the request is handled as'],
  ...['x-real-ip', 'x-client-ip', 'true-client-ip', 'cf-connecting-ip', 'x-cluster-client-ip', 'x-forwarded-for'].map((h) => [h, CLIENT] as const),
]);
/**
 * Families of headers by which a proxy in front of the target describes or rewrites the
 * request: X-Forwarded-Uri, -Scheme, -Path… (Traefik, nginx, Spring), X-Original-URI,
 * -Method… (nginx's auth_request, IIS), X-Envoy-Original-Path and Envoy's other routing,
 * retry and timeout headers. New members appear with each proxy, so the family is refused.
 */
const CHOOSING_PREFIXES: ReadonlyArray<readonly [string, string]> = [
  ['x-forwarded-', 'how a proxy in front of the target takes the request to have come (its host, path, scheme, port or client)'],
  ['x-original-', 'the request as a proxy in front of the target took it to be (its host, path or method)'],
  ['x-envoy-', 'how the Envoy proxy in front of the target routes, retries or rewrites the request'],
];

/** What the header chooses, when an alert must not fill it. */
function chosenBy(name: string): string | undefined {
  const h = name.toLowerCase();
  return CHOOSING_HEADERS.get(h) ?? CHOOSING_PREFIXES.find(([prefix]) => h.startsWith(prefix))?.[1];
}

export function readUrl(r: Reporter, v: unknown, path: YamlPath): Template | undefined {
  const source = readString(r, v, path, true);
  if (source === undefined || refuseNearMisses(r, source, path)) return undefined;
  const compiled = compileUrl(source);
  if (!compiled.ok) {
    r.report(path, compiled.message);
    return undefined;
  }
  return compiled.template;
}

export function readMethod(r: Reporter, v: unknown, allowed: readonly string[], path: YamlPath): string | undefined {
  if (typeof v === 'string' && allowed.includes(v.toUpperCase())) return v.toUpperCase();
  r.report(path, `expected an HTTP method (${allowed.join(', ')}), got ${r.got(path, v)}`);
  return undefined;
}

/** Header values are templates whose values must be printable ASCII (no header injection, nothing the client cannot send). */
export function readHeaders(r: Reporter, v: unknown, path: YamlPath): Record<string, Template> | undefined {
  if (v === undefined || v === null) return {};
  const map = expectMap(r, v, path, 'a map of header name to value');
  if (!map) return undefined;
  const out: Record<string, Template> = {};
  let ok = true;
  for (const [name, value] of Object.entries(map)) {
    // Written into the headers' plain object, "__proto__" would set its prototype: never sent.
    if (name === '__proto__') {
      r.report([...path, name], 'the header name "__proto__" cannot be sent: JavaScript objects read it as their prototype, so the step would run without it and nothing would say so; use another name', 'key');
      ok = false;
      continue;
    }
    if (!HEADER_NAME_RE.test(name)) {
      r.report([...path, name], `invalid header name ${JSON.stringify(name)}`, 'key');
      ok = false;
      continue;
    }
    const text = typeof value === 'number' || typeof value === 'boolean' ? scalarAsText(r, value, [...path, name], 'a header value') : readString(r, value, [...path, name], true);
    if (text === undefined) {
      ok = false;
      continue;
    }
    const template = compileTemplate(text, 'header');
    const bad = template.parts.find((p): p is string => typeof p === 'string' && UNSENDABLE_HEADER_CHAR_RE.test(p));
    if (bad !== undefined) {
      const c = UNSENDABLE_HEADER_CHAR_RE.exec(bad)![0];
      const code = `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
      r.report([...path, name], `header value has ${code}, which no HTTP header can carry (control characters and characters above U+00FF): write it in ASCII`);
      ok = false;
      continue;
    }
    const placeholder = template.parts.find((p): p is Placeholder => typeof p !== 'string');
    const chooses = chosenBy(name);
    if (placeholder !== undefined && chooses !== undefined) {
      const must =
        chooses === HOST
          ? 'where outbound calls go (write the host out)'
          : chooses === CLIENT
            ? 'who outbound calls are taken to come from (write the value out)'
            : 'where outbound calls go or what they do (write the value out)';
      r.report([...path, name], `placeholder {${placeholder.param}} is in the ${name} header, which chooses ${chooses}; an alert must not choose ${must}`);
      ok = false;
      continue;
    }
    out[name] = template;
  }
  return ok ? out : undefined;
}

/** A JSON body is kept as written; its string leaves are `text` templates, rendered recursively. */
export function bodyParams(body: unknown): string[] {
  if (typeof body === 'string') {
    return scanTemplate(body)
      .filter((p) => typeof p !== 'string')
      .map((p) => (p as { param: string }).param);
  }
  if (Array.isArray(body)) return body.flatMap(bodyParams);
  if (typeof body === 'object' && body !== null) return Object.values(body).flatMap(bodyParams);
  return [];
}
