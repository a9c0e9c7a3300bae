import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The local HTTP target the storm runbooks' actions call: counts calls per path, answers 200. */
export interface ActionTarget {
  url: string;
  calls(): number;
  callsByPath(): Map<string, number>;
  close(): Promise<void>;
}

export async function startActionTarget(): Promise<ActionTarget> {
  const byPath = new Map<string, number>();
  let total = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      total++;
      const path = (req.url ?? '').split('?')[0]!;
      byPath.set(path, (byPath.get(path) ?? 0) + 1);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls: () => total,
    callsByPath: () => new Map(byPath),
    close: () => new Promise((r) => server.close(() => r())),
  };
}
