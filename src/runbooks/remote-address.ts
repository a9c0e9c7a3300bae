/**
 * Where a value landed in a filled-in template: [start, end) and its placeholder.
 */
export interface ValueSpan {
  start: number;
  end: number;
  param: string;
}

export interface RemoteAddress {
  /** The placeholder whose value made it. */
  param: string;
  /** What it is, for the refusal. */
  form: string;
}

/** Characters of a scheme, a host name or address, or a user name before "@". */
const ADDRESS_CHAR = /[A-Za-z0-9+._@-]/;
/** Characters of a host name or an IPv4 address, as scp reads "user@host:". */
const HOST_CHAR = /[A-Za-z0-9.-]/;
/** A slash after "scheme:" (URL parsers read a backslash as "/" in http and https URLs). */
const SLASH = /[/\\]/;
/** Where the host of a URL ends ("user@" before it is part of it). */
const AUTHORITY_END = /[/\\?#]/;

/**
 * Schemes whose URLs programs read with any number of slashes after the ":", or none:
 * curl's (`http:/host/x` and `http:///host/x` are `http://host/x` to it) and those of
 * the WHATWG URL parser (`https:host/x` is `https://host/x` to Node and browsers).
 */
const URL_SCHEMES: ReadonlySet<string> = new Set([
  'dict', 'file', 'ftp', 'ftps', 'gopher', 'gophers', 'http', 'https', 'imap', 'imaps', 'ldap', 'ldaps', 'mqtt',
  'pop3', 'pop3s', 'rtmp', 'rtmpe', 'rtmps', 'rtmpt', 'rtmpte', 'rtmpts', 'rtsp', 'scp', 'sftp', 'smb', 'smbs',
  'smtp', 'smtps', 'telnet', 'tftp', 'ws', 'wss',
]);

/**
 * An image digest after "@" (`nginx@sha256:<64 hex digits>`): an OCI digest algorithm and
 * exactly as many lowercase hex digits as it has, then no other letter or digit.
 */
const DIGEST = /^(?:sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})(?![A-Za-z0-9])/;

const URL_OR_REMOTE = 'a URL or a remote path ("scheme:/", "host:/")';
const SCP_LIKE = 'a remote path ("user@host:", as scp, rsync and git read it)';
const RSYNC_DAEMON = 'an rsync daemon address ("host::module")';

/**
 * A URL or a remote address in a command argument whose scheme, host or user comes,
 * even in part, from a value. Checking each value alone is not enough: the argument is
 * what the program reads, and `{src}/data` with `evil.example:` is `evil.example:/data` to
 * rsync, `{base}/etc/passwd` with `file:` is `file:/etc/passwd` to curl, and `{a}{b}`
 * can spell either. So the forms are looked for in the whole argument, and one is
 * refused when any character of its address part was a value's. The runbook's own
 * text is the author's: `https://status.internal/{service}` and
 * `backup@db-1:/srv/{service}` keep their scheme and host.
 *
 * Forms, and their address part:
 * - "scheme:/" and "host:/" (any host: names, IPv4 addresses, a bare number): the run of
 *   address characters before the ":", and the ":". After a URL scheme (URL_SCHEMES)
 *   followed by any number of slashes or none, or any scheme followed by two slashes or
 *   more, the slashes and the host too: up to the next "/", "?" or "#", a "user@" in it
 *   included (`https:/{x}`, `https:///{x}` and `https:{x}` name a host as
 *   `https://{x}` does). A "host:/path" keeps its path: `db-1:{path}` with `/srv/x`.
 * - "user@host:": an "@" followed by a host name or address (letters, digits, "." and
 *   "-") or "[…]", then ":"; the user before the "@" through that ":". Not an image
 *   digest (`app@sha256:<hex>`, DIGEST), nor an "@" followed by anything else before a
 *   ":" (`oncall@example.com,at=12:00`).
 * - "host::" (rsync's daemon syntax, and git's "transport::address"): the host and "::".
 *
 * A host in brackets (`[fe80::1]:/x`) counts as address characters. Not covered:
 * "host:relative-path" (git and scp read `evil.example:repo` as remote, but `ns:jobs`
 * and `db-1:5432` have the same shape), and a host name followed by a path
 * (`evil.example/x`, which curl and wget fetch over http): a path like `eu.west/jobs`
 * has that shape too.
 */
export function remoteAddressFromValue(arg: string, spans: readonly ValueSpan[]): RemoteAddress | undefined {
  const fromValue = (start: number, end: number): string | undefined => spans.find((v) => v.start < end && start < v.end)?.param;
  for (let i = arg.indexOf(':'); i >= 0; i = arg.indexOf(':', i + 1)) {
    const start = addressStart(arg, i);
    if (arg[i + 1] === ':') {
      const param = fromValue(start, i + 2);
      if (param !== undefined) return { param, form: RSYNC_DAEMON };
      continue;
    }
    let slashes = i + 1;
    while (slashes < arg.length && SLASH.test(arg[slashes] ?? '')) slashes++;
    const isUrl = URL_SCHEMES.has(arg.slice(start, i).toLowerCase()) || slashes - (i + 1) >= 2;
    if (!isUrl && slashes === i + 1) continue;
    let end = i + 1;
    if (isUrl) {
      // The host (and a "user@" before it) runs to the next "/", "?" or "#".
      end = slashes;
      while (end < arg.length && !AUTHORITY_END.test(arg[end] ?? '')) end++;
    }
    const param = fromValue(start, end);
    if (param !== undefined) return { param, form: URL_OR_REMOTE };
  }
  for (let at = arg.indexOf('@'); at >= 0; at = arg.indexOf('@', at + 1)) {
    const colon = scpHostEnd(arg, at + 1);
    if (colon === undefined) continue;
    const param = fromValue(addressStart(arg, at), colon + 1);
    if (param !== undefined) return { param, form: SCP_LIKE };
  }
  return undefined;
}

/**
 * The ":" that ends "host:" when a host starts at `i` (just after an "@"): a host name
 * or address, or one in brackets; not an image digest.
 */
function scpHostEnd(arg: string, i: number): number | undefined {
  if (DIGEST.test(arg.slice(i))) return undefined;
  let j = i;
  if (arg[j] === '[') {
    const close = arg.indexOf(']', j);
    if (close < 0) return undefined;
    j = close + 1;
  } else {
    while (j < arg.length && HOST_CHAR.test(arg[j] ?? '')) j++;
  }
  return j > i && arg[j] === ':' ? j : undefined;
}

/** The start of the run of address characters (a "[…]" among them) that ends just before `i`. */
function addressStart(arg: string, i: number): number {
  let j = i;
  for (;;) {
    if (arg[j - 1] === ']') {
      const open = arg.lastIndexOf('[', j - 1);
      if (open < 0) return j;
      j = open;
    } else if (j > 0 && ADDRESS_CHAR.test(arg[j - 1] ?? '')) {
      j--;
    } else {
      return j;
    }
  }
}
