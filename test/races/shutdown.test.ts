import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { Agent, request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { until } from '../helpers/until.js';
import { countRows, postJson } from '../storm/helpers.js';

/**
 * A stop (SIGTERM: service.close()) racing operators' requests on connections that are
 * already open. An approval whose request came in before the stop is carried out and its
 * run recorded INTERRUPTED, never lost; a request that comes after it is refused in the
 * API's own error shape, so a client (the CLI, Alertmanager, a script) reads why.
 */
const runbooks = `runbooks:
  undo:
    risk: HIGH
    triggers: [Spike]
    min_confidence: 0.5
    action:
      http: {method: POST, url: "http://127.0.0.1:9/undo"}
`;

/** One POST on a real socket: the status, Connection header and body, or the socket error's code (ECONNRESET). */
function send(url: string, body: unknown, agent?: Agent): Promise<{ status: number; connection: string | undefined; retryAfter: string | undefined; body: any } | { error: string }> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' }, ...(agent ? { agent } : {}) }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, retryAfter: res.headers['retry-after'] as string | undefined, body: JSON.parse(text) }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end(JSON.stringify(body));
  });
}

function request(method: string, path: string, host: string, body: string, headers = ''): string {
  return `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n${headers}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** A service with no shutdown grace on a loopback port, and where it listens (its base URL, address, host and port). */
async function startListening(rbs = runbooks, args: string[] = []) {
  const svc = await startTestService({ runbooks: rbs, args: ['--listen', '127.0.0.1:0', '--shutdown-grace', '0s', ...args] });
  const base = await svc.service.listen();
  const addr = base.replace('http://', '');
  return { svc, base, addr, host: addr.slice(0, addr.lastIndexOf(':')), port: Number(addr.slice(addr.lastIndexOf(':') + 1)) };
}

/** The same with an approval asked of it (incident I1, service checkout). */
async function startAsked() {
  const on = await startListening();
  const approvalId = (await postJson(`http://${on.addr}/api/v1/incidents`, { id: 'I1', root_cause: 'Spike', service: 'checkout' })).body.approval_id as string;
  return { ...on, approvalId };
}

/** The same with ten approvals asked of it, one per service: its base URL and the approvals' ids. */
async function startTenAsked() {
  const { svc, base } = await startListening(runbooks.replace('/undo"', '/undo/{service}"'));
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) ids.push((await postJson(`${base}/api/v1/incidents`, { id: `I${i}`, root_cause: 'Spike', service: `svc-${i}` })).body.approval_id as string);
  return { svc, base, ids };
}

/**
 * Writes all of `req` but its last bytes on `sock`, begins the stop once the service has
 * it, and resolves when the listener has closed: the bytes left to write, and the stop.
 */
async function stopWithinRequest(on: { svc: TestService; host: string; port: number }, sock: Socket, req: string): Promise<{ rest: string; closing: Promise<unknown> }> {
  const split = req.length - 5;
  const arrived = new Promise<void>((r) => on.svc.app.server.once('request', () => setImmediate(r)));
  sock.write(req.slice(0, split));
  await arrived;
  const closing = on.svc.service.close();
  await until('the listener to close', () => refusesConnections(on.host, on.port));
  return { rest: req.slice(split), closing };
}

async function refusesConnections(host: string, port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    s.on('connect', () => {
      s.destroy();
      resolve(undefined);
    });
    s.on('error', () => resolve(true));
  });
}

describe('races: shutdown and operators', () => {
  it('a request on an open connection while the service closes is answered 503 SHUTTING_DOWN in the API error shape; the approval sent before the stop runs and is recorded INTERRUPTED', async () => {
    const on = await startAsked();
    const { svc, addr, host, port, approvalId } = on;

    // The approval's headers arrive before the stop, its body only after the listener has gone.
    const sock: Socket = connect(port, host);
    let answer = '';
    sock.on('data', (b) => (answer += b.toString()));
    const ended = new Promise((r) => sock.on('close', r));
    await new Promise((r) => sock.on('connect', r));
    const approve = request('POST', `/api/v1/approvals/${approvalId}/approve`, addr, JSON.stringify({ by: 'alice' }));
    const { rest, closing } = await stopWithinRequest(on, sock, approve);
    // The rest of the approval, and a rejection right behind it on the same connection.
    sock.write(rest + request('POST', `/api/v1/approvals/${approvalId}/reject`, addr, JSON.stringify({ by: 'bob' })));
    await ended;
    await closing;

    const responses = answer.split(/(?=HTTP\/1\.1 )/);
    assert.equal(responses.length, 2, answer);
    assert.match(responses[0]!, /^HTTP\/1\.1 200 /);
    const approved = JSON.parse(responses[0]!.slice(responses[0]!.indexOf('\r\n\r\n') + 4));
    assert.equal(approved.status, 'approved');
    assert.equal(approved.result.action, 'executed');
    const [head, body] = responses[1]!.split('\r\n\r\n');
    assert.match(head!, /^HTTP\/1\.1 503 /);
    assert.match(head!, /\r\nretry-after: 10\r\n/i);
    assert.deepEqual(JSON.parse(body!), { error: { code: 'SHUTTING_DOWN', message: 'rectify is shutting down; send this to another replica or retry', details: [] } });

    // One execution, recorded INTERRUPTED; the rejection changed nothing.
    assert.equal(countRows(svc.dbPath, `SELECT count(*) n FROM executions WHERE state = 'interrupted'`), 1);
    assert.equal(countRows(svc.dbPath, 'SELECT count(*) n FROM executions'), 1);
    assert.equal(countRows(svc.dbPath, `SELECT count(*) n FROM approvals WHERE status = 'approved' AND execution_id = ?`, approved.execution_id), 1);
    const db = new Database(svc.dbPath, { readonly: true });
    const rows = db.prepare(`SELECT event, actor, execution_id FROM audit ORDER BY seq`).all();
    db.close();
    assert.deepEqual(rows, [
      { event: 'APPROVAL_REQUIRED', actor: 'rectify', execution_id: null },
      { event: 'APPROVED', actor: 'alice', execution_id: null },
      { event: 'EXECUTING', actor: 'alice', execution_id: approved.execution_id },
      { event: 'INTERRUPTED', actor: 'rectify', execution_id: approved.execution_id },
    ]);
    await svc.stop({ remove: true });
  });

  it('an approval whose connection the server dropped as the service stopped is carried out and its run recorded INTERRUPTED before the database closes, not left running', async () => {
    const on = await startAsked();
    const { svc, addr, host, port, approvalId } = on;

    const sock: Socket = connect(port, host);
    await new Promise((r) => sock.on('connect', r));
    const approve = request('POST', `/api/v1/approvals/${approvalId}/approve`, addr, JSON.stringify({ by: 'alice' }), 'Connection: close\r\n');
    const { rest, closing } = await stopWithinRequest(on, sock, approve);
    // The rest of the approval, then another request although the approval said it was the
    // last: the server refuses the connection (400) and drops it, and the stop no longer
    // waits for the approval, which is still on its way to the database.
    sock.on('error', () => {});
    sock.write(rest + request('POST', `/api/v1/approvals/${approvalId}/reject`, addr, JSON.stringify({ by: 'bob' })));
    await closing;
    sock.destroy();

    assert.equal(countRows(svc.dbPath, 'SELECT count(*) n FROM executions'), 1);
    const db = new Database(svc.dbPath, { readonly: true });
    const execution = db.prepare('SELECT id, state, outcome FROM executions').get() as { id: string; state: string; outcome: string };
    const rows = db.prepare(`SELECT event, actor, execution_id FROM audit ORDER BY seq`).all();
    db.close();
    // It started after the grace was over, before its first step: nothing was changed.
    assert.deepEqual({ state: execution.state, outcome: execution.outcome }, { state: 'interrupted', outcome: 'interrupted before its first step: nothing was changed' });
    assert.deepEqual(rows, [
      { event: 'APPROVAL_REQUIRED', actor: 'rectify', execution_id: null },
      { event: 'APPROVED', actor: 'alice', execution_id: null },
      { event: 'EXECUTING', actor: 'alice', execution_id: execution.id },
      { event: 'INTERRUPTED', actor: 'rectify', execution_id: execution.id },
    ]);
    await svc.stop({ remove: true });
  });

  for (const pool of ['new connections', 'keep-alive connections already open'] as const) {
    it(`ten approvals sent in the instant the service stops, on ${pool}, each get an answer (503 SHUTTING_DOWN with Retry-After, the connection closed after it), none a reset; nothing is approved`, async () => {
      const { svc, base, ids } = await startTenAsked();
      assert.equal(new Set(ids).size, 10);
      const agent = pool === 'new connections' ? undefined : new Agent({ keepAlive: true, maxSockets: 10 });
      if (agent) {
        // Ten sockets open and idle in the client's pool, as an operator's script holds them.
        await Promise.all(ids.map(() => new Promise((r) => httpRequest(`${base}/healthz`, { agent }, (res) => res.resume().on('end', r)).end())));
        assert.equal(Object.values(agent.freeSockets).flat().length, 10);
      }
      // Sent (the connections made, the bytes written) as the stop begins.
      const answers = ids.map((id) => send(`${base}/api/v1/approvals/${id}/approve`, { by: 'alice' }, agent));
      const closing = svc.service.close();
      const got = await Promise.all(answers);
      await closing;
      agent?.destroy();

      assert.deepEqual(
        got.map((g) => ('error' in g ? g : { status: g.status, connection: g.connection, retryAfter: g.retryAfter, code: g.body.error?.code })),
        ids.map(() => ({ status: 503, connection: 'close', retryAfter: '10', code: 'SHUTTING_DOWN' })),
      );
      assert.equal(countRows(svc.dbPath, `SELECT count(*) n FROM approvals WHERE status = 'pending'`), 10);
      assert.equal(countRows(svc.dbPath, 'SELECT count(*) n FROM executions'), 0);
      // Counted by route template, never by the URL (each approval's id).
      const counted = (await svc.service.metrics.render()).split('\n').filter((l) => l.startsWith('rectify_http_unavailable_total{route="/api/v1/approvals'));
      assert.deepEqual(counted, ['rectify_http_unavailable_total{route="/api/v1/approvals/:id/approve",code="SHUTTING_DOWN"} 10']);
      await svc.stop({ remove: true });
    });
  }

  it('approvals under way when the service stops are answered with their result; those behind them 503 SHUTTING_DOWN, the connection closed after it; none a reset, and each answer is what the database holds', async () => {
    const { svc, base, ids } = await startTenAsked();
    const agent = new Agent({ keepAlive: true, maxSockets: 10 });
    // The stop begins once the first approval has come in (the others are on their way).
    const arrived = new Promise<void>((r) => svc.app.server.once('request', () => r()));
    const answers = ids.map((id) => send(`${base}/api/v1/approvals/${id}/approve`, { by: 'alice' }, agent));
    await arrived;
    const closing = svc.service.close();
    const got = await Promise.all(answers);
    await closing;
    agent.destroy();

    const db = new Database(svc.dbPath, { readonly: true });
    const status = (id: string) => (db.prepare('SELECT status FROM approvals WHERE id = ?').get(id) as { status: string }).status;
    for (const [i, g] of got.entries()) {
      assert.ok(!('error' in g), `approval ${i}: ${JSON.stringify(g)}`);
      if (g.status === 200) {
        assert.equal(g.body.status, 'approved');
        assert.equal(status(ids[i]!), 'approved');
      } else {
        assert.deepEqual({ status: g.status, connection: g.connection, retryAfter: g.retryAfter, code: g.body.error.code }, { status: 503, connection: 'close', retryAfter: '10', code: 'SHUTTING_DOWN' });
        assert.equal(status(ids[i]!), 'pending');
      }
    }
    db.close();
    await svc.stop({ remove: true });
  });

  it('a connection made before the stop that sends its approval only after the listener closed is answered 503 SHUTTING_DOWN, not reset', async () => {
    const { svc, addr, host, port, approvalId } = await startAsked();

    // Connected (accepted by the server), nothing sent yet.
    const sock: Socket = connect(port, host);
    let answer = '';
    let failure = '';
    sock.on('data', (b) => (answer += b.toString()));
    sock.on('error', (err: NodeJS.ErrnoException) => (failure = err.code ?? err.message));
    const ended = new Promise((r) => sock.on('close', r));
    const accepted = new Promise<void>((r) => svc.app.server.once('connection', () => r()));
    await new Promise((r) => sock.on('connect', r));
    await accepted;
    const closing = svc.service.close();
    await until('the listener to close', () => refusesConnections(host, port));
    sock.write(request('POST', `/api/v1/approvals/${approvalId}/approve`, addr, JSON.stringify({ by: 'alice' })));
    await ended;
    await closing;

    assert.equal(failure, '');
    const [head, body] = answer.split('\r\n\r\n');
    assert.match(head!, /^HTTP\/1\.1 503 /);
    assert.match(head!, /\r\nretry-after: 10\r\n/i);
    assert.match(head!, /\r\nconnection: close\r\n/i);
    assert.equal(JSON.parse(body!).error.code, 'SHUTTING_DOWN');
    assert.equal(countRows(svc.dbPath, `SELECT count(*) n FROM approvals WHERE status = 'pending'`), 1);
    await svc.stop({ remove: true });
  });
});

/**
 * A stop that finds a run before its first step: the approval's request came in before the
 * stop, so it is carried out, and its run starts after the grace (0 s) is over, aborted
 * at once. It had started no step (each is recorded before it starts), so it changed
 * nothing: it ends as crash recovery ends a run cut off there
 * (test/trust/crash-before-first-step.test.ts), not as one whose outcome is unknown.
 */
describe('a stop that finds a run before its first step', () => {
  let target: HttpTarget;
  before(async () => {
    target = await startHttpTarget();
    target.route('POST', '/hook', { status: 204 });
  });
  after(() => target.close());

  const REASON =
    'rectify stopped before this execution started its first step (each step is recorded before it starts), so nothing was changed; it will not be re-run';
  const TRIAL_ENDED =
    'it was the circuit\'s trial run, and it changed nothing, which says nothing about the runbook: the circuit is open again without a new recovery wait, and the next incident may be its trial';
  // `gated` has a pre-check: its run is stopped before the pre-checks; `undo`'s before its action.
  const rbs = () => `${runbooks}  gated:
    risk: HIGH
    triggers: [Gated]
    min_confidence: 0.5
    pre_checks:
      - http: {url: "${target.url}/ready"}
    action:
      http: {method: POST, url: "${target.url}/act"}
`;

  /** Asks for an approval (incident `id`), lets `before` change the database, then sends the approval in the instant of the stop; the stopped service, the answer and its run's id. */
  async function approvedAsItStops(id: string, rootCause: string, beforeApproval: (dbPath: string) => void = () => {}) {
    // Threshold 1: a run counted as a failure would open the circuit at once.
    const on = await startListening(rbs(), ['--notify-webhook', `${target.url}/hook`, '--circuit-failure-threshold', '1']);
    const approvalId = (await postJson(`${on.base}/api/v1/incidents`, { id, root_cause: rootCause, service: 'checkout' })).body.approval_id as string;
    beforeApproval(on.svc.dbPath);
    const sock: Socket = connect(on.port, on.host);
    let answer = '';
    sock.on('data', (b) => (answer += b.toString()));
    const ended = new Promise((r) => sock.on('close', r));
    await new Promise((r) => sock.on('connect', r));
    const { rest, closing } = await stopWithinRequest(on, sock, request('POST', `/api/v1/approvals/${approvalId}/approve`, on.addr, JSON.stringify({ by: 'alice' }), 'Connection: close\r\n'));
    const since = Date.now();
    sock.write(rest);
    await ended;
    await closing;
    assert.match(answer, /^HTTP\/1\.1 200 /);
    const approved = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    assert.deepEqual([approved.status, approved.result.action], ['approved', 'executed']);
    return { svc: on.svc, executionId: approved.execution_id as string, since };
  }

  /** The run's audit rows, oldest first, without the records of notifications' deliveries. */
  const auditOf = (dbPath: string, executionId: string) => {
    const db = new Database(dbPath, { readonly: true });
    try {
      return (db.prepare(`SELECT event, details FROM audit WHERE execution_id = ? AND event NOT IN ('NOTIFIED', 'NOTIFY_FAILED') ORDER BY seq`).all(executionId) as Array<{ event: string; details: string }>).map((r) => ({
        event: r.event,
        details: JSON.parse(r.details) as Record<string, unknown>,
      }));
    } finally {
      db.close();
    }
  };
  const circuitOf = (dbPath: string, runbook: string) => {
    const db = new Database(dbPath, { readonly: true });
    try {
      return db.prepare('SELECT state, failures, opened_at, trial_execution_id FROM circuits WHERE runbook = ?').get(runbook) ?? null;
    } finally {
      db.close();
    }
  };
  const breakerRowsOf = (dbPath: string, runbook: string) => {
    const db = new Database(dbPath, { readonly: true });
    try {
      return (db.prepare(`SELECT event, execution_id FROM audit WHERE runbook = ? AND event LIKE 'CIRCUIT%' ORDER BY seq`).all(runbook) as Array<{ event: string; execution_id: string }>).map((r) => [r.event, r.execution_id]);
    } finally {
      db.close();
    }
  };
  /** The notifications of run `executionId`'s end sent since `since` (not the APPROVED that names it): event, outcome, reason, needs_human. */
  const toldOf = async (since: number, executionId: string) => {
    const ofRun = (t: any) => t.execution_id === executionId && t.event !== 'APPROVED';
    await target.waitForRequest('/hook', { since, timeoutMs: 10_000, where: (r) => ofRun(r.json()) });
    return target
      .requests('/hook')
      .filter((r) => r.at >= since)
      .map((r) => r.json() as any)
      .filter(ofRun)
      .map((t) => [t.event, t.outcome, t.reason, t.needs_human]);
  };

  it('INTERRUPTED as having changed nothing: the outcome, row and notification crash recovery gives; needs_human false; no breaker failure', async () => {
    const { svc, executionId, since } = await approvedAsItStops('F1', 'Spike');

    const audit = auditOf(svc.dbPath, executionId);
    assert.deepEqual(audit.map((a) => a.event), ['EXECUTING', 'INTERRUPTED']);
    const { notification_id: _id, told: _told, ...interrupted } = audit[1]!.details;
    assert.deepEqual(interrupted, { reason: REASON, last_step: null, nothing_changed: true });
    assert.deepEqual(await toldOf(since, executionId), [['INTERRUPTED', 'interrupted', REASON, false]]);
    assert.deepEqual(breakerRowsOf(svc.dbPath, 'undo'), []);

    // As the API shows it after a restart: no person is needed, nothing was run.
    const again = await svc.restart();
    const e = (await again.get(`/api/v1/executions/${executionId}`)).body;
    assert.deepEqual([e.state, e.outcome, e.needs_human, e.steps], ['interrupted', 'interrupted before its first step: nothing was changed', false, []]);
    assert.equal((await again.get('/api/v1/incidents/F1')).body.execution.needs_human, false);
    // Not counted: with a threshold of 1, a failure would have opened the circuit.
    const c = (await again.get('/api/v1/runbooks/undo')).body.circuit;
    assert.deepEqual([c.state, c.failures], ['closed', 0]);
    assert.deepEqual(auditOf(again.dbPath, executionId).map((a) => a.event), ['EXECUTING', 'INTERRUPTED'], 'the restart found nothing more to record');
    await again.stop({ remove: true });
  });

  it('the half-open circuit’s trial (a run with a pre-check) so stopped: the circuit open again with the wait it had served, no CIRCUIT_TRIPPED; the row and the notification say so', async () => {
    const manualNow = Date.UTC(2026, 10, 24, 3, 0, 0);
    // Open for an hour, its recovery wait long over: the approved run is the circuit's trial.
    const openedAt = manualNow - 3_600_000;
    const { svc, executionId, since } = await approvedAsItStops('T1', 'Gated', (dbPath) => {
      const db = new Database(dbPath);
      db.prepare(`INSERT OR REPLACE INTO circuits (runbook, state, failures, opened_at, trial_execution_id, updated_at) VALUES ('gated', 'open', 3, ?, NULL, ?)`).run(openedAt, openedAt);
      db.close();
    });

    assert.deepEqual(circuitOf(svc.dbPath, 'gated'), { state: 'open', failures: 3, opened_at: openedAt, trial_execution_id: null });
    assert.deepEqual(breakerRowsOf(svc.dbPath, 'gated'), [['CIRCUIT_HALF_OPEN', executionId]], 'no CIRCUIT_TRIPPED: the circuit was not re-opened with a new wait');
    const audit = auditOf(svc.dbPath, executionId);
    assert.deepEqual(audit.map((a) => a.event), ['CIRCUIT_HALF_OPEN', 'EXECUTING', 'INTERRUPTED']);
    const { notification_id: _id, told: _told, ...interrupted } = audit[2]!.details;
    assert.deepEqual(interrupted, { reason: REASON, last_step: null, nothing_changed: true, circuit_trial: TRIAL_ENDED });
    assert.deepEqual(await toldOf(since, executionId), [['INTERRUPTED', 'interrupted', `${REASON}; ${TRIAL_ENDED}`, false]]);
    assert.deepEqual([target.calls('/ready'), target.calls('/act')], [0, 0], 'its pre-check never ran, nor its action');

    const again = await svc.restart();
    const e = (await again.get(`/api/v1/executions/${executionId}`)).body;
    assert.deepEqual([e.state, e.outcome, e.needs_human], ['interrupted', 'interrupted before its first step: nothing was changed', false]);
    await again.stop({ remove: true });
  });
});
