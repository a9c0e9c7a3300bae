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

const URL_OR_REMOTE = 'a URL or a remote path ("scheme:/", "host:/")';
const SCP_LIKE = 'a remote path ("user@host:", as scp, rsync and git read it)';
const RSYNC_DAEMON = 'an rsync daemon address ("host::module")';

/**
 * A URL or a remote address in a command argument whose scheme, host or user comes,
 * even in part, from a value. Checking each value alone is not enough: the argument is
 * what the program reads, and `{src}/data` with `evil.example:` is `evil.example:/data` to
 * rsync, `{base}/etc/passwd` with `file:` is `file:/etc/passwd` to curl, and `{a}{b}`
 * can spell either. So the forms are looked for in the whole argument, and one is
 * refused when any character of its address part (scheme or host and the ":", the
 * "//host" after it, the "user@host:" of scp, the "host::" of an rsync daemon) was a
 * value's. The runbook's own text is the author's: `https://status.internal/{service}`
 * and `backup@db-1:/srv/{service}` keep their scheme and host.
 *
 * Forms: "scheme:/" and "host:/" (any host: names, IPv4 addresses, a bare number);
 * "user@host:" (an "@" and, later, a ":"); "host::" (rsync's daemon syntax, and git's
 * "transport::address"). Not covered: "host:relative-path" (git and scp read
 * `evil.example:repo` as remote, but `ns:jobs` and `db-1:5432` have the same shape),
 * and a host name followed by a path (`evil.example/x`, which curl and wget fetch
 * over http): a path like `eu.west/jobs` has that shape too.
 */
export function remoteAddressFromValue(arg: string, spans: readonly ValueSpan[]): RemoteAddress | undefined {
  const fromValue = (start: number, end: number): string | undefined => spans.find((v) => v.start < end && start < v.end)?.param;
  for (let i = arg.indexOf(':'); i >= 0; i = arg.indexOf(':', i + 1)) {
    const start = addressStart(arg, i);
    if (arg[i + 1] === ':') {
      const param = fromValue(start, i + 2);
      if (param !== undefined) return { param, form: RSYNC_DAEMON };
    } else if (arg[i + 1] === '/') {
      // "scheme://host/…": the host is the address too, up to the next "/".
      let end = i + 1;
      if (arg[i + 2] === '/') {
        const slash = arg.indexOf('/', i + 3);
        end = slash < 0 ? arg.length : slash;
      }
      const param = fromValue(start, end);
      if (param !== undefined) return { param, form: URL_OR_REMOTE };
    }
  }
  for (let at = arg.indexOf('@'); at >= 0; at = arg.indexOf('@', at + 1)) {
    const colon = arg.indexOf(':', at + 1);
    if (colon < 0) break;
    const param = fromValue(addressStart(arg, at), colon + 1);
    if (param !== undefined) return { param, form: SCP_LIKE };
  }
  return undefined;
}

/** The start of the run of address characters that ends just before `i`. */
function addressStart(arg: string, i: number): number {
  let j = i;
  while (j > 0 && ADDRESS_CHAR.test(arg[j - 1] ?? '')) j--;
  return j;
}
