import { request } from 'undici';

/**
 * The one HTTP client of actions, checks and notifications: undici's `request`,
 * where fetch would cost about four times the CPU per call (a WHATWG Request and
 * Response, body streams teed and cancelled with an exception each). A storm's
 * first seconds start thousands of executions, each with an HTTP action or a
 * check polling Prometheus, on the loop that also takes the alerts.
 *
 * Redirects are never followed (a 3xx is the answer to *this* request: following
 * it would send the method and its credentials to a host nobody reviewed), and
 * every call has the caller's deadline.
 */
export interface HttpRequestInit {
  method: string;
  headers?: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

export interface HttpAnswer {
  status: number;
  /** A response header (the first value, for repeated ones). */
  header(name: string): string | undefined;
  /** The body as UTF-8 text; past `limitBytes` the read stops and `tooLarge` is thrown. */
  text(limitBytes: number, tooLarge: string): Promise<string>;
  /**
   * Lets the body go unread. A small one is read to its end, which leaves the
   * connection free for the next request; a larger one closes it. Never throws:
   * once the status is known, the body does not matter.
   */
  discard(): Promise<void>;
}

export type HttpRequest = (url: string | URL, init: HttpRequestInit) => Promise<HttpAnswer>;

/** Bodies up to this size are read to the end by `discard` rather than cutting the connection. */
const DISCARD_READ_LIMIT = 64 * 1024;

export const httpRequest: HttpRequest = async (url, init) => {
  const res = await request(url, {
    method: init.method as 'GET',
    ...(init.headers ? { headers: init.headers } : {}),
    ...(init.body !== undefined ? { body: init.body } : {}),
    signal: init.signal,
    maxRedirections: 0,
  });
  const body = res.body;
  return {
    status: res.statusCode,
    header(name) {
      const v = res.headers[name.toLowerCase()];
      return Array.isArray(v) ? v[0] : v;
    },
    async text(limitBytes, tooLarge) {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of body) {
        size += (chunk as Buffer).byteLength;
        if (size > limitBytes) {
          body.destroy();
          throw new Error(tooLarge);
        }
        chunks.push(chunk as Buffer);
      }
      return Buffer.concat(chunks).toString('utf8');
    },
    async discard() {
      try {
        await body.dump({ limit: DISCARD_READ_LIMIT });
      } catch {
        // Already closed or errored: nothing to release.
      }
    },
  };
};
