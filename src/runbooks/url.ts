import type { ParamKind, Template, TemplatePart } from '../domain/runbook.js';
import { scanTemplate } from './template.js';

/**
 * URL templates. Where an outbound call goes is decided by the runbook author,
 * never by an alert: a placeholder in the scheme, host or port is a load error.
 * Placeholders in the path are single path segments; in the query, query values.
 */
export type UrlCompile = { ok: true; template: Template; origin: string } | { ok: false; message: string };

const ORIGIN_RE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/[^/?#]*/;

export function compileUrl(source: string): UrlCompile {
  const scanned = scanTemplate(source);
  // A probe URL with every placeholder replaced by a harmless segment lets the
  // WHATWG parser tell us where the origin ends.
  let probe = '';
  const offsets: number[] = [];
  for (const p of scanned) {
    if (typeof p === 'string') probe += p;
    else {
      offsets.push(probe.length);
      probe += 'x';
    }
  }
  const m = ORIGIN_RE.exec(probe);
  if (!m) return { ok: false, message: `expected an absolute http:// or https:// URL, got ${JSON.stringify(source)}` };
  const originEnd = m[0].length;
  const names = scanned.filter((p) => typeof p !== 'string').map((p) => (p as { param: string }).param);
  for (let i = 0; i < offsets.length; i++) {
    if (offsets[i]! < originEnd) {
      return {
        ok: false,
        message: `placeholder {${names[i]!}} is in the URL's scheme, host or port; an alert must not choose where outbound calls go (put placeholders in the path or query)`,
      };
    }
  }
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return { ok: false, message: `URL scheme "${scheme}" is not supported (use http or https)` };
  let url: URL;
  try {
    url = new URL(probe);
  } catch {
    return { ok: false, message: `invalid URL ${JSON.stringify(source)}` };
  }
  if (url.username || url.password) {
    return { ok: false, message: 'credentials in the URL would be written to the audit log; send them in a header with ${env:NAME}' };
  }
  const queryAt = firstOf(probe, ['?', '#'], originEnd);
  // WHATWG parsing would silently resolve "/a/../b"; say so instead of calling somewhere else.
  if (probe.slice(originEnd, queryAt === Infinity ? undefined : queryAt).split('/').some((seg) => /^(?:\.|%2e){1,2}$/i.test(seg))) {
    return { ok: false, message: `URL ${JSON.stringify(source)} has a "." or ".." path segment` };
  }
  const parts: TemplatePart[] = [];
  let k = 0;
  for (const p of scanned) {
    if (typeof p === 'string') parts.push(p);
    else {
      const kind: ParamKind = offsets[k]! > queryAt ? 'url_query' : 'url_segment';
      parts.push({ param: p.param, kind });
      k += 1;
    }
  }
  return { ok: true, template: { source, parts, origin: url.origin }, origin: url.origin };
}

function firstOf(text: string, chars: string[], from: number): number {
  let best = Infinity;
  for (const c of chars) {
    const i = text.indexOf(c, from);
    if (i >= 0 && i < best) best = i;
  }
  return best;
}

/** The origin of a compiled URL template (its literal prefix), for the render-time check. */
export function originOf(t: Template): string | undefined {
  const r = compileUrl(t.source);
  return r.ok ? r.origin : undefined;
}
