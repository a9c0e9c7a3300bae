import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Runbook } from '../../domain/index.js';
import {
  approvalDecisionBodySchema,
  approvalSchema,
  circuitCloseBodySchema,
  circuitClosedSchema,
  cooldownClearBodySchema,
  cooldownClearedSchema,
  decisionResultSchema,
  errorSchema,
  idParamsSchema,
  manualRunBodySchema,
  pauseBodySchema,
  pauseStateSchema,
  runbookListSchema,
  runbookPauseStateSchema,
  runbookStateSchema,
  waitQuerySchema,
} from '../schemas.js';
import type { RunbookPause } from '../../store/ports.js';
import { actorOf, requireRole } from '../auth.js';
import { approvalView } from '../views.js';
import { addRoute } from '../zod-route.js';
import { runbookNotLoaded } from '../../engine/index.js';
import { cooldownWaitEnd, targetRunbookKey } from '../../pipeline/index.js';
import type { ApiDeps } from '../deps.js';

type IdParams = z.infer<typeof idParamsSchema>;
type WaitQuery = z.infer<typeof waitQuerySchema>;

/** Distinct, in code-unit order (as the store lists services). */
const sorted = (names: readonly string[]): string[] => [...new Set(names)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** Runbooks with live state, manual runs, approvals, and the global kill switch. */
export function registerControlRoutes(app: FastifyInstance, registry: Map<string, z.ZodType>, deps: ApiDeps): void {
  const { store, engine, catalog } = deps;

  function runbookState(rb: Runbook) {
    // As the guardrails judge them: a clock stepped forward shortens no cooldown here either.
    const now = engine.guardNow();
    const circuit = store.read((tx) => tx.circuit(rb.id));
    const stats = store.runbookStats(rb.id, now);
    // In force as the cooldown stage judges it, by the same functions: the wait since the
    // last start (its end by the guard time, shown ending when it will on the wall clock:
    // later than start + cooldown while the clock is ahead of the time passed; one ended
    // by hand, COOLDOWN_CLEARED, is over), and a run still under way on the service, which
    // holds it past its time and past a clearing until it ends (`while_running`; its
    // `until` then the later of the wait's end and now: it ends no sooner). A runbook with
    // no cooldown (0) has none in force, even from a run stamped after now (the clock set
    // back since), as the stage and a clearing judge it.
    // The same for each Kubernetes object the runbook's runs act on (counted under its
    // object key, whichever service each run was for): the wait since the last start on
    // it, and a run still under way on it (objectHeldByRun's answer, read once for the
    // runbook: objectsUnderWay), which holds off the next run there for every service.
    // One read, so both lists are of one moment.
    const { cooldowns, objectCooldowns } =
      rb.cooldownMs <= 0
        ? { cooldowns: [], objectCooldowns: [] }
        : store.read((tx) => {
            const wallNow = deps.clock.now();
            const held = (key: string, subject: string, last: number | null, running: boolean): number | null => {
              const end = cooldownWaitEnd(tx, key, subject, last, rb.cooldownMs, now);
              if (end === null && !running) return null;
              return end === null ? wallNow : Math.max(engine.guardEnd(end), running ? wallNow : 0);
            };
            const last = new Map(tx.lastExecutionPerService(rb.id).map((r) => [r.service, r.at]));
            const runs = tx.runsUnderWay(rb.id);
            // The claims heldByRun judges by, read once for the runbook (runsUnderWay) rather
            // than once per service listed: the cooldown is above 0 here, so a run under way
            // on the service is what holds it.
            const cooldowns = sorted([...last.keys(), ...runs.keys()]).flatMap((service) => {
              const run = runs.get(service);
              const until = held(rb.id, service, last.get(service) ?? null, run !== undefined);
              return until === null ? [] : [{ service, until, ...(run === undefined ? {} : { while_running: run }) }];
            });
            const key = targetRunbookKey(rb.id);
            const lastOn = new Map(tx.lastExecutionPerService(key).map((r) => [r.service, r.at]));
            const onObjects = tx.objectsUnderWay(rb.id);
            const objectCooldowns = sorted([...lastOn.keys(), ...onObjects.keys()]).flatMap((object) => {
              const run = onObjects.get(object);
              const until = held(key, object, lastOn.get(object) ?? null, run !== undefined);
              return until === null ? [] : [{ object, until, ...(run === undefined ? {} : { while_running: run.executionId, running_for: run.service }) }];
            });
            return { cooldowns, objectCooldowns };
          });
    // An open circuit lets one trial run through once its recovery wait is over, judged by
    // the guard time as the circuit stage judges it, and shown on the wall clock.
    const recovery = deps.circuitRecoveryMs;
    const trialAt = circuit.state === 'open' && circuit.openedAt !== null && recovery !== undefined ? circuit.openedAt + recovery : null;
    const trial = trialAt === null ? {} : { trial_from: new Date(engine.guardEnd(trialAt)).toISOString(), trial_allowed: now >= trialAt };
    const done = stats.succeeded + stats.failed;
    const end = cooldowns.reduce<number | null>((m, c) => (m === null || c.until > m ? c.until : m), null);
    return {
      id: rb.id,
      description: rb.description,
      file: rb.file,
      risk: rb.risk,
      mode: rb.mode,
      triggers: rb.triggers,
      min_confidence: rb.minConfidence,
      max_per_hour: rb.maxPerHour,
      cooldown_minutes: rb.cooldownMs / 60_000,
      blast_radius_limit: rb.blastRadiusLimit,
      needs: rb.needs,
      executable: rb.needs.every((n) => deps.available.has(n)),
      params: rb.params,
      actions: rb.actions.map((a) => a.source),
      has_rollback: rb.rollback !== null && rb.rollback.length > 0,
      circuit: { state: circuit.state, failures: circuit.failures, opened_at: circuit.openedAt === null ? null : new Date(circuit.openedAt).toISOString(), ...trial },
      executions_last_hour: stats.executionsLastHour,
      busiest_service_last_hour: stats.busiestServiceLastHour,
      cooldowns: cooldowns.map((c) => ({ ...c, until: new Date(c.until).toISOString() })),
      cooldown_end: end === null ? null : new Date(end).toISOString(),
      object_cooldowns: objectCooldowns.map((c) => ({ ...c, until: new Date(c.until).toISOString() })),
      success_rate: done === 0 ? null : stats.succeeded / done,
      succeeded: stats.succeeded,
      failed: stats.failed,
      paused: pauseView(store.read((tx) => tx.runbookPaused(rb.id))),
    };
  }

  const pauseView = (p: RunbookPause | null) => (p ? { by: p.by, reason: p.reason, since: new Date(p.at).toISOString() } : null);

  /** The stored pauses of runbooks not loaded, in id order (code units). */
  const pausesNotLoaded = () =>
    [...store.read((tx) => tx.pausedRunbooks())]
      .filter(([id]) => catalog.byId(id) === undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([runbook, p]) => ({ runbook, ...pauseView(p)! }));

  const runbookOr404 = (id: string): Runbook => {
    const rb = catalog.byId(id);
    if (!rb) throw runbookNotLoaded(id, catalog);
    return rb;
  };

  addRoute(
    app,
    registry,
    'GET',
    '/api/v1/runbooks',
    {
      summary: 'Runbooks with live state: circuit, executions in the last hour, cooldowns, success rate',
      tags: ['runbooks'],
      response: { 200: runbookListSchema },
    },
    async () => {
      // A refused reload leaves the last good set in force: said beside it, as /readyz says it.
      const refused = deps.reloadRefused?.() ?? null;
      return {
        runbooks: catalog.all.map(runbookState),
        paused: pauseView(store.read((tx) => tx.servicePause())),
        reload_refused: refused ? { at: new Date(refused.at).toISOString(), problems: [...refused.problems] } : null,
        // A pause outlives the reload that removed its runbook and holds one of that id loaded
        // later: listed here, where nothing else would show it, so a person can resume it.
        paused_not_loaded: pausesNotLoaded(),
        // The warnings of the runbooks listed, swapped with them by a reload: a runbook never
        // chosen was said only in the log of the start or reload that loaded it.
        warnings: (deps.runbookWarnings?.() ?? []).map((w) => ({ file: w.file, line: w.line ?? null, path: w.path, message: w.message })),
      };
    },
  );

  addRoute<unknown, unknown, IdParams>(
    app,
    registry,
    'GET',
    '/api/v1/runbooks/:id',
    { summary: 'One runbook with live state', tags: ['runbooks'], params: idParamsSchema, response: { 200: runbookStateSchema, 400: errorSchema, 404: errorSchema } },
    async (req) => runbookState(runbookOr404(req.params.id)),
  );

  addRoute<z.infer<typeof manualRunBodySchema>, WaitQuery, IdParams>(
    app,
    registry,
    'POST',
    '/api/v1/runbooks/:id/run',
    {
      summary: 'One-click manual run, through the same guardrails, approvals and audit',
      tags: ['runbooks'],
      params: idParamsSchema,
      querystring: waitQuerySchema,
      body: manualRunBodySchema,
      description: 'Needs the approver role; a HIGH-risk runbook needs admin (and still asks another person to approve).',
      response: { 202: decisionResultSchema, 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema },
    },
    async (req, reply) => {
      const rb = runbookOr404(req.params.id);
      if (rb.risk === 'HIGH') requireRole(req, 'admin', `run the HIGH-risk runbook ${rb.id} by hand`);
      const by = actorOf(req, req.body.by);
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.body.params)) params[k] = String(v);
      const result = await engine.runManual(req.params.id, params, {
        by,
        dryRun: req.body.dry_run,
        wait: req.query.wait,
        ...(req.body.service ? { service: req.body.service } : {}),
      });
      return reply.code(202).send(result);
    },
  );

  for (const verdict of ['approve', 'reject'] as const) {
    addRoute<z.infer<typeof approvalDecisionBodySchema>, WaitQuery, IdParams>(
      app,
      registry,
      'POST',
      `/api/v1/approvals/:id/${verdict}`,
      {
        summary: verdict === 'approve' ? 'Approve a pending request: guardrails run again, then the approved plan executes' : 'Reject a pending request',
        description:
          verdict === 'approve'
            ? 'Whoever asked for the run cannot approve it (403). A runbook with `approvals_required: 2` needs two distinct approvers: the first approval answers 202 with the request still pending; the same person approving again is a 409. The approval carried out is told to the notification receivers (event APPROVED: every approver, and the run that starts); a first vote is told too, on its own (event APPROVAL_VOTE, outcome pending: who approved, and that one more approver is needed). A request whose runbook changed or was removed since it was made is cancelled instead (409; event CANCELLED, told too): nothing runs. A guardrail that blocks the run now (circuit, rate limit, cooldown, blast radius), or rectify running with --dry-run (approving would run nothing), is a 409 naming why, and the request stays pending.'
            : 'The requester may reject (withdraw) their own request. The rejection is told to the notification receivers (event REJECTED: by whom, the comment; nothing ran).',
        tags: ['approvals'],
        params: idParamsSchema,
        querystring: waitQuerySchema,
        body: approvalDecisionBodySchema,
        response: {
          200: verdict === 'approve' ? approvalSchema.extend({ result: decisionResultSchema }) : approvalSchema,
          ...(verdict === 'approve' ? ({ 202: approvalSchema } as Record<number, z.ZodType>) : {}),
          400: errorSchema,
          401: errorSchema,
          403: errorSchema,
          404: errorSchema,
          409: errorSchema,
        },
      },
      async (req, reply) => {
        const by = actorOf(req, req.body.by);
        if (verdict === 'reject') return approvalView((await engine.reject(req.params.id, by, req.body.comment)).approval);
        const { approval, result } = await engine.approve(req.params.id, by, req.body.comment, { wait: req.query.wait });
        if (!result) return reply.code(202).send(approvalView(approval));
        return { ...approvalView(approval), result };
      },
    );
  }

  addRoute<z.infer<typeof circuitCloseBodySchema>, unknown, IdParams>(
    app,
    registry,
    'POST',
    '/api/v1/runbooks/:id/circuit/close',
    {
      summary: "Close a runbook's open or half-open circuit by hand: its next alert is decided without waiting for the trial",
      description:
        'Needs the approver role (admin for a HIGH-risk runbook), and a `reason`. The failures in a row start again from 0; a trial run still under way ends as any run does (its failure opens the circuit again). Audited (`CIRCUIT_CLOSED`, the actor and the reason, `by_hand: true`), told to the notification receivers, kept across restarts. The answer, the row and the notification say how many alerts the breaker held off since the circuit last closed (`held_while_open`): rectify does not decide them again (a re-delivery is `duplicate`), so act by hand on those still firing. A circuit that is closed answers 409 naming its state; nothing changes.',
      tags: ['runbooks'],
      params: idParamsSchema,
      body: circuitCloseBodySchema,
      response: { 200: circuitClosedSchema, 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema },
    },
    async (req) => {
      const rb = runbookOr404(req.params.id);
      if (rb.risk === 'HIGH') requireRole(req, 'admin', `close the circuit of the HIGH-risk runbook ${rb.id}`);
      const by = actorOf(req, req.body.by);
      const out = await engine.closeCircuit(rb.id, by, req.body.reason);
      return {
        runbook: out.runbook,
        state: 'closed' as const,
        was: out.was as 'open' | 'half_open',
        failures: out.failures,
        opened_at: out.opened_at === null ? null : new Date(out.opened_at).toISOString(),
        held_while_open: out.held_while_open,
      };
    },
  );

  addRoute<z.infer<typeof cooldownClearBodySchema>, unknown, IdParams>(
    app,
    registry,
    'POST',
    '/api/v1/runbooks/:id/cooldown/clear',
    {
      summary: "End a runbook's cooldown by hand, on one service or on all: its next alert there is decided without waiting it out",
      description:
        "Needs the approver role (admin for a HIGH-risk runbook), and a `reason`. With `service`, that service's cooldown ends; without it, every cooldown of the runbook in force (each service's and each Kubernetes object's). The wait since the last run's start ends: a run started later has its cooldown again, and a run still under way still holds off the next on its service until it ends (the runbook view lists it, `while_running`). Audited (`COOLDOWN_CLEARED`, the actor, the reason and what ended), told to the notification receivers, kept across restarts. No cooldown in force to end answers 409; nothing changes: one held only by a run still under way is a 409 naming the run, as a clearing does not end a run's hold (it ends when the run does). The rate limit (`max_per_hour`) is not touched.",
      tags: ['runbooks'],
      params: idParamsSchema,
      body: cooldownClearBodySchema,
      response: { 200: cooldownClearedSchema, 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema },
    },
    async (req) => {
      const rb = runbookOr404(req.params.id);
      if (rb.risk === 'HIGH') requireRole(req, 'admin', `end a cooldown of the HIGH-risk runbook ${rb.id}`);
      const by = actorOf(req, req.body.by);
      const out = await engine.clearCooldown(rb.id, by, req.body.reason, req.body.service);
      return {
        runbook: out.runbook,
        cleared: out.cleared.map((c) => ({ ...c, last_started_at: new Date(c.last_started_at).toISOString(), until: new Date(c.until).toISOString() })),
      };
    },
  );

  for (const op of ['pause', 'resume'] as const) {
    addRoute<z.infer<typeof pauseBodySchema>, unknown, IdParams>(
      app,
      registry,
      'POST',
      `/api/v1/runbooks/:id/${op}`,
      {
        summary: op === 'pause' ? "One runbook's kill switch: stop its automatic runs, the others go on" : 'Resume automatic runs of one runbook',
        description:
          op === 'pause'
            ? 'While paused, alerts matching the runbook are decided `blocked` with `PAUSED` (and the reason names who paused it); approvals and manual runs still go through. Audited (`RUNBOOK_PAUSED`), notified, kept across restarts.'
            : 'Audited (`RUNBOOK_RESUMED`) and notified. A runbook a reload removed while paused keeps its pause, which would hold a runbook of that id loaded later: it is resumed the same way (listed in `GET /api/v1/runbooks` as `paused_not_loaded`; the answer says `loaded: false`, its audit row `runbook_loaded: false`, and the notification that no runbook of that id is loaded: nothing runs until one is); an id with neither a runbook loaded nor a pause stored is a 404. Resuming a runbook that is not paused changes nothing (`changed: false`). A resume that lifts the pause says how many of its alerts were held off since it was paused (`held_while_paused`, also in the notification): rectify does not decide them again.',
        tags: ['control'],
        params: idParamsSchema,
        body: pauseBodySchema,
        response: { 200: runbookPauseStateSchema, 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema },
      },
      async (req) => {
        const body = req.body ?? {};
        const out = await engine.setRunbookPaused(req.params.id, op === 'pause', actorOf(req, body.by), body.reason);
        // A resume lets the runbook run only when rectify is not paused as a whole: the answer says so.
        const still = op === 'resume' ? { global_pause: pauseView(store.read((tx) => tx.servicePause())) } : {};
        return { runbook: req.params.id, paused: out.pause !== null, changed: out.changed, pause: pauseView(out.pause), ...(out.held ? { held_while_paused: out.held } : {}), ...still, ...(out.loaded ? {} : { loaded: false }) };
      },
    );
  }

  for (const op of ['pause', 'resume'] as const) {
    addRoute<z.infer<typeof pauseBodySchema>>(
      app,
      registry,
      'POST',
      `/api/v1/${op}`,
      {
        summary: op === 'pause' ? 'Global kill switch: stop all automatic execution' : 'Resume automatic execution',
        ...(op === 'resume'
          ? {
              description:
                'Audited (`SERVICE_RESUMED`) and notified. A resume that lifts the pause says how many alerts it held off, per runbook (`held_while_paused`, also in the notification): rectify does not decide them again (a re-delivery is `duplicate`), so act by hand on those still firing. Resuming when not paused changes nothing (`changed: false`).',
            }
          : {}),
        tags: ['control'],
        body: pauseBodySchema,
        response: { 200: pauseStateSchema, 400: errorSchema, 401: errorSchema, 403: errorSchema },
      },
      async (req) => {
        const body = req.body ?? {};
        const out = await engine.setPaused(op === 'pause', actorOf(req, body.by), body.reason);
        // A global resume leaves the runbooks paused on their own still paused: the answer names them.
        const still =
          op === 'resume'
            ? {
                runbooks_paused: [...store.read((tx) => tx.pausedRunbooks())]
                  .filter(([id]) => catalog.byId(id) !== undefined)
                  .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
                  .map(([runbook, p]) => ({ runbook, ...pauseView(p)! })),
              }
            : {};
        return { paused: op === 'pause', changed: out.changed, ...(out.held ? { held_while_paused: out.held } : {}), ...still };
      },
    );
  }
}
