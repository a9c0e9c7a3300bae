import type { ParamKind } from './runbook.js';

/**
 * Safe patterns for placeholder values by position. Alert labels are untrusted:
 * whoever can fire an alert can choose them. A value that does not fit is refused
 * before any step runs.
 */
const PATTERNS: Record<ParamKind, { re: RegExp; max: number; what: string }> = {
  // RFC 1123 subdomain: pod, deployment, node names.
  k8s_name: {
    re: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    max: 253,
    what: 'a Kubernetes name (lowercase letters, digits, "-" and ".")',
  },
  // RFC 1123 label: namespaces.
  k8s_label: { re: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, max: 63, what: 'a Kubernetes namespace (RFC 1123 label)' },
  integer: { re: /^(0|[1-9][0-9]{0,5})$/, max: 6, what: 'a whole number' },
  // One URL path segment: unreserved characters only, never "." or "..".
  url_segment: { re: /^(?!\.{1,2}$)[A-Za-z0-9._~-]+$/, max: 256, what: 'one URL path segment ([A-Za-z0-9._~-])' },
  url_query: { re: /^[A-Za-z0-9._~-]+$/, max: 256, what: 'a URL query value ([A-Za-z0-9._~-])' },
  // An argv element: no leading "-" (option injection), "@" (curl and compilers read
  // "@file") or "+" (an option to some tools); no "." or ".." path segment (a label
  // must not climb out of the directory the runbook names; a path starts after "=", ","
  // and ":" too, as in "dir=../x", "a,../etc" and "a:..", which a program reading
  // key=value arguments or a list takes as a path); no control characters.
  argv: {
    re: /^(?!(?:.*[/=,:])?\.{1,2}(?:[/,:]|$))[A-Za-z0-9_.:/=,][A-Za-z0-9_.:/=@+,-]*$/,
    max: 512,
    what: 'a plain argument ([A-Za-z0-9_.:/=@+,-], not starting with "-", "@" or "+", no "." or ".." path segment)',
    // Nor a URL or a remote path (runbooks/remote-address.ts), nor an empty path segment
    // ("//", "/" alone after the runbook's text: "/var/cache/app/{queue}" with "/" is the
    // whole directory, as an empty value would be) or a "." or ".." one made with the text around it: those are
    // decided on the whole argument a value lands in (runbooks/render.ts, fillArgument),
    // since values side by side, or a value beside the runbook's text, can make one that
    // no value holds alone.
  },
  // Inside a quoted PromQL label value: no quote, backslash or brace can close it.
  label_value: { re: /^[A-Za-z0-9_.:/@ -]+$/, max: 256, what: 'a label value ([A-Za-z0-9_.:/@ -])' },
  // An HTTP header value: printable ASCII and spaces, nothing else. Node and undici
  // refuse to send a control character or anything above U+00FF (the step would
  // fail with nothing sent); U+0080-U+00FF they send as one byte each, which a
  // server reading UTF-8 misreads (RFC 9110 keeps those bytes only as obsolete
  // text), and U+0080-U+009F are C1 controls. Tab is a control character too.
  header: { re: /^[\x20-\x7e]*$/, max: 4096, what: 'an HTTP header value (printable ASCII: letters, digits, spaces and punctuation)' },
  // Free text inside a JSON body: printable, no control characters (JSON carries any Unicode).
  // Control characters are C0, DEL and C1 (\p{Cc}: U+0085 ends a line to some readers),
  // the line and paragraph separators (U+2028, U+2029: a line break in a log or a chat
  // message) and the bidi embeddings, overrides and isolates (U+202A-U+202E,
  // U+2066-U+2069), which reorder the text a person reads around them ("ok\u202egnp.exe"
  // shows as "okexe.png"), with the other marks that change direction or hide text: the
  // Arabic letter mark and the left-to-right and right-to-left marks (U+061C, U+200E,
  // U+200F), the deprecated format controls (U+206A-U+206F), the word joiner and byte
  // order mark (U+2060, U+FEFF), the tag characters (U+E0001-U+E007F: invisible ASCII
  // look-alikes a reader never sees but a program reads), the interlinear annotation
  // marks (U+FFF9-U+FFFB) and lone surrogates (no character: a JSON encoder writes them
  // as replacement characters or refuses them). The zero-width joiner and non-joiner
  // (U+200D, U+200C) stay: emoji sequences and Indic and Persian scripts need them.
  text: {
    re: /^[^\p{Cc}\p{Zl}\p{Zp}\u202a-\u202e\u2066-\u2069\u061c\u200e\u200f\u2060\u206a-\u206f\ufeff\ufff9-\ufffb\u{e0001}-\u{e007f}\ud800-\udfff]*$/u,
    max: 4096,
    what: 'printable text without control characters or invisible marks that reorder or hide text',
  },
};

export type ParamCheck = { ok: true } | { ok: false; reason: string };

export function checkParam(kind: ParamKind, value: string): ParamCheck {
  const p = PATTERNS[kind];
  if (value.length === 0) return { ok: false, reason: `is empty, expected ${p.what}` };
  if (value.length > p.max) return { ok: false, reason: `is longer than ${p.max} characters, expected ${p.what}` };
  if (!p.re.test(value)) return { ok: false, reason: `expected ${p.what}` };
  return { ok: true };
}

/** Shows an untrusted value in a message without letting it forge lines or go on forever. */
export function quoteUntrusted(value: string, max = 80): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  // JSON escapes C0 controls, quotes and lone surrogates; the rest of what a reader
  // cannot see, or that reorders the line around it (C1 controls, bidi overrides,
  // zero-width and other format characters, line and paragraph separators), is
  // written as \u escapes too, so a reason or audit line shows the value as it is.
  return JSON.stringify(cut).replace(INVISIBLE, (ch) => {
    let out = '';
    for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return out;
  });
}
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/**
 * A fraction strictly between 0 and 1, written as a number (`0.1`) or a percentage
 * (`"10%"`, `"12.5%"`), in the style of `max_unavailable: "25%"`. Undefined when `v` is
 * neither, or lies outside (0, 1).
 */
export function parseFraction(v: unknown): number | undefined {
  let x: number | undefined;
  if (typeof v === 'number') x = v;
  else if (typeof v === 'string') {
    const m = /^(\d{1,2}(?:\.\d{1,4})?)%$/.exec(v.trim());
    if (m) x = Number(m[1]) / 100;
  }
  return x !== undefined && Number.isFinite(x) && x > 0 && x < 1 ? x : undefined;
}

/** A fraction as a percentage for a message: 0.1 → "10%". */
export function formatPercent(x: number): string {
  return `${Number((x * 100).toPrecision(6))}%`;
}
