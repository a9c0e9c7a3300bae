import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AUDIT_EVENTS } from '../../domain/index.js';
import { AuditLogDamaged, auditExportLine, damagedReason, verifyAuditChain, type AuditVerification } from '../../store/audit-verify.js';
import type { AuditRecordQuery } from '../../store/ports.js';
import { auditDetailsSchema, auditDetailsUnreadableSchema, errorSchema, strictQuery, timeParam } from '../schemas.js';
import { addRoute } from '../zod-route.js';
import type { ApiDeps } from '../deps.js';
import { parseRfc3339 } from '../../lib/index.js';

export const auditVerificationSchema = z.object({
  ok: z.boolean(),
  rows: z.number().int(),
  unchained: z.number().int(),
  keyed: z.number().int().describe('rows hashed with the audit key (HMAC-SHA256, `hmac:` hashes)'),
  keyed_from: z.number().int().nullable().describe('seq of the first keyed row: rows before it were written before --audit-key was set'),
  needs_key: z.boolean().describe('true when keyed rows could not be checked for want of their key (no --audit-key, or rows before a rotation under a key not in --audit-previous-keys): not verified, rather than broken'),
  rotated_at: z.array(z.number().int()).describe('seqs of the AUDIT_KEY_ROTATED rows where the log moved to another audit key (--audit-previous-keys), oldest first'),
  first_bad_seq: z.number().int().nullable(),
  reason: z.string().nullable(),
  head: z.object({ seq: z.number().int(), hash: z.string() }).nullable(),
});

export const auditExportRowSchema = z.object({
  seq: z.number().int(),
  at: z.string(),
  at_ms: z.number().int(),
  event: z.enum(AUDIT_EVENTS),
  incident_id: z.string().nullable(),
  runbook: z.string().nullable(),
  execution_id: z.string().nullable(),
  actor: z.string(),
  details: auditDetailsSchema,
  details_unreadable: auditDetailsUnreadableSchema,
  prev_hash: z.string().nullable(),
  hash: z.string().nullable(),
});

export const auditExportQuerySchema = strictQuery({
  since: timeParam(),
  after_seq: z
    .string()
    .regex(/^[0-9]{1,15}$/, 'expected the seq of the last row already exported (a non-negative integer)')
    .optional(),
});

/** Rows read per query while streaming: the connection is never held by an open cursor between writes. */
const EXPORT_PAGE = 1_000;

/** Tamper evidence: verify the hash chain, export the log with its hashes for a SIEM. */
export function registerAuditRoutes(app: FastifyInstance, registry: Map<string, z.ZodType>, deps: ApiDeps): void {
  const { store } = deps;
  // One walk of the whole log at a time: a request that arrives while one runs is
  // answered with its result (its `head` says up to which row), so a burst of calls
  // costs one walk, not one each.
  let walking: Promise<AuditVerification> | null = null;

  addRoute(
    app,
    registry,
    'GET',
    '/api/v1/audit/verify',
    {
      summary: 'Walk the audit hash chain and name the first row that does not fit',
      description:
        'Recomputes every row\'s hash and checks each link to the row before. A call made while a walk runs gets that walk\'s result (`head` names the last row it covered). `ok: false` names the first bad row in `first_bad_seq` and says why in `reason` (a changed row, a broken link, a missing row, a database file damaged past the last row read). Keep `head.hash` somewhere else: a chain rewritten from the start would no longer end in it. With --audit-key, rows are HMAC-SHA256 under that key (`hmac:` hashes) and are checked with it: a row changed by someone without the key does not verify, nor does a plain row after a keyed one. Rows under the keys of --audit-previous-keys verify up to the AUDIT_KEY_ROTATED row where the log moved to the next key, and not after it. Rows before a rotation under a key not given are not verified (`needs_key`, `first_bad_seq` the first of them, `reason` naming them), never reported intact.',
      tags: ['audit'],
      response: { 200: auditVerificationSchema },
    },
    () => (walking ??= verifyAuditChain(store, deps.auditKey ? { key: deps.auditKey, previousKeys: deps.auditPreviousKeys ?? [] } : {}).finally(() => (walking = null))),
  );

  addRoute<unknown, z.infer<typeof auditExportQuerySchema>>(
    app,
    registry,
    'GET',
    '/api/v1/audit/export',
    {
      summary: 'Stream the audit log as JSON lines, oldest first, with its hashes (for a SIEM)',
      description:
        'One row per line (`application/x-ndjson`), each with `prev_hash` and `hash`. A database file damaged past some row ends the stream, after the rows before it, with one line `{"error": {"code": "AUDIT_LOG_DAMAGED", "message": …}}` naming the last row sent (the status, 200, was sent with the first rows). Resume an export with `after_seq` set to the last `seq` received; `since` keeps rows written at or after a time. A query parameter other than these is refused (400, naming it).',
      tags: ['audit'],
      querystring: auditExportQuerySchema,
      response: { 200: auditExportRowSchema, 400: errorSchema },
      media: { 200: { type: 'application/x-ndjson', description: 'The audit rows, one JSON object per line (JSON lines), oldest first: the schema is that of one line' } },
    },
    async (req, reply) => {
      const since = req.query.since ? parseRfc3339(req.query.since) : undefined;
      // Without after_seq, from the lowest seq: a row inserted at 0 or below (which verify reports) is exported too.
      let after = req.query.after_seq ? Number(req.query.after_seq) : -Infinity;
      async function* lines(): AsyncGenerator<string> {
        for (;;) {
          const q: AuditRecordQuery = { afterSeq: after, limit: EXPORT_PAGE, ...(since !== undefined ? { since } : {}) };
          let page: ReturnType<typeof store.auditRecords>;
          try {
            page = store.auditRecords(q);
          } catch (err) {
            // The 200 and the rows before are sent: the damage ends the stream with an
            // error line (a row has no `error` key), as the CLI's export ends with one.
            if (!(err instanceof AuditLogDamaged)) throw err;
            const last = Number.isFinite(after) ? after : 0;
            const message = `${damagedReason(last, err)}; the lines sent are the rows up to row ${last}`;
            req.log.error({ err, reqId: req.id }, 'audit export cut short: the database file is damaged');
            yield `${JSON.stringify({ error: { code: 'AUDIT_LOG_DAMAGED', message, details: [] } })}\n`;
            return;
          }
          if (page.length === 0) return;
          let chunk = '';
          for (const r of page) chunk += `${JSON.stringify(auditExportLine(r))}\n`;
          after = page[page.length - 1]!.seq;
          yield chunk;
          if (page.length < EXPORT_PAGE) return;
        }
      }
      return reply.type('application/x-ndjson').send(Readable.from(lines()));
    },
  );
}
