/**
 * The HTTP ceiling: a bare Fastify route on the webhook path that parses the same
 * body (Fastify's JSON parser, the same body limit) and answers 202, with no
 * validation, no decisions, no disk, no logging. rectify is measured against it.
 *
 *   node --import tsx bench/bare-server.ts <port> <bodyLimitBytes>
 */
import Fastify from 'fastify';

const port = Number(process.argv[2]);
const bodyLimit = Number(process.argv[3] ?? 16 * 1024 * 1024);
const app = Fastify({ logger: false, bodyLimit });
app.post('/api/v1/webhooks/alertmanager', async (req, reply) => {
  const body = req.body as { alerts?: unknown[] };
  return reply.code(202).send({ accepted: Array.isArray(body.alerts) ? body.alerts.length : 0 });
});
await app.listen({ host: '127.0.0.1', port });
process.stdout.write('ready\n');
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
