import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTestService, type TestService } from '../helpers/service.js';
import { countRows } from '../storm/helpers.js';

/**
 * Regression: a JSON body the service could not read was refused without saying where
 * (`details: []`, no position), an empty one named nothing, a body declared UTF-16 was
 * "not valid JSON", one declared latin1 was read as UTF-8, and bytes that are not UTF-8
 * were stored as U+FFFD. Over real HTTP: the bytes and headers are sent as written.
 */
describe('a JSON body is UTF-8 holding one JSON document; what is not is refused saying where', () => {
  let svc: TestService;
  let base: string;
  const incidents = () => countRows(svc.dbPath, 'SELECT count(*) AS n FROM incidents');
  const send = async (body: string | Buffer, contentType = 'application/json', path = '/api/v1/incidents') => {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });
    return { status: res.status, body: (await res.json()) as any };
  };
  const incident = (id: string) => `{"id":"${id}","root_cause":"nothing_matches","service":"api"}`;

  before(async () => {
    svc = await startTestService();
    await svc.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(svc.app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await svc.stop({ remove: true });
  });

  it('an empty body with content-type application/json is a 400 naming body', async () => {
    const before = incidents();
    const r = await send('');
    assert.deepEqual(r, {
      status: 400,
      body: {
        error: {
          code: 'BAD_REQUEST',
          message: 'the body is empty: send one JSON document (or no Content-Type where the route takes no body)',
          details: [{ path: 'body', message: 'empty: expected one JSON document' }],
        },
      },
    });
    assert.equal(incidents(), before);
  });

  it('malformed JSON and text after the document are refused with their line, column and character offset', async () => {
    const before = incidents();
    const cut = await send('{"id":"J1","root_cause":');
    assert.equal(cut.status, 400);
    assert.deepEqual(cut.body.error, {
      code: 'BAD_REQUEST',
      message: 'the body is not valid JSON: at line 1, column 25 (character offset 24): expected a value (an object, array, string, number, true, false or null); the body ends there',
      details: [{ path: 'body', message: 'not valid JSON at line 1, column 25 (character offset 24): expected a value (an object, array, string, number, true, false or null); the body ends there' }],
    });
    const trailing = await send(`${incident('J2')} x`);
    assert.equal(trailing.body.error.message, 'the body is not valid JSON: at line 1, column 60 (character offset 59): expected the end of the body after the JSON document; found "x"');
    const lines = await send('{\n  "id": "J3",\n  "service": \'api\'\n}');
    assert.equal(lines.body.error.message, 'the body is not valid JSON: at line 3, column 14 (character offset 29): expected a value (an object, array, string, number, true, false or null); found "\'"');
    assert.equal(incidents(), before);
    // A UTF-8 byte-order mark before the document is passed over (RFC 8259 lets a reader), as it always was.
    assert.equal((await send(`\ufeff${incident('J4')}`)).status, 202);
  });

  it('a "__proto__" key is refused with its own reason, not as malformed JSON', async () => {
    const r = await send('{"id":"J5","root_cause":"x","service":"api","__proto__":{"a":1}}');
    assert.deepEqual(r, {
      status: 400,
      body: {
        error: {
          code: 'BAD_REQUEST',
          message: 'the body holds a "__proto__" key, or a "constructor" object holding "prototype", which is refused',
          details: [{ path: 'body', message: 'holds a "__proto__" key, or a "constructor" object holding "prototype", which is refused' }],
        },
      },
    });
  });

  it('a charset other than UTF-8 (utf-16, latin1) is a 415 naming it; utf-8 in any case or quoted, and us-ascii, are read', async () => {
    const before = incidents();
    const utf16 = await send(Buffer.from(incident('J6'), 'utf16le'), 'application/json; charset=utf-16');
    const refusal = (charset: string) => ({
      status: 415,
      body: {
        error: {
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: `charset "${charset}" is not accepted: rectify reads a JSON body as UTF-8; send it as UTF-8 (application/json, or application/json; charset=utf-8)`,
          details: [{ path: 'headers.content-type', message: `charset "${charset}" is not accepted: rectify reads a JSON body as UTF-8` }],
        },
      },
    });
    assert.deepEqual(utf16, refusal('utf-16'));
    assert.deepEqual(await send(Buffer.from(incident('J7'), 'latin1'), 'application/json; charset=latin1'), refusal('latin1'));
    assert.deepEqual(await send(Buffer.from(incident('J8'), 'latin1'), 'application/json;charset=ISO-8859-1'), refusal('iso-8859-1'));
    assert.equal(incidents(), before);
    for (const [id, ct] of [['J9', 'application/json; charset=UTF-8'], ['J10', 'application/json; charset="utf-8"'], ['J11', 'application/json; charset=us-ascii'], ['J12', 'application/json']] as const) {
      assert.equal((await send(incident(id), ct)).status, 202, ct);
    }
    assert.equal(incidents(), before + 4);
  });

  it('a content type other than JSON, or none with a body, is a 415 naming headers.content-type, the value quoted', async () => {
    const before = incidents();
    const refusal = (shown: string, detail: string) => ({
      status: 415,
      body: { error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: `content type ${shown} is not accepted: send application/json`, details: [{ path: 'headers.content-type', message: detail }] } },
    });
    assert.deepEqual(await send(incident('J20'), 'text/json'), refusal('"text/json"', '"text/json" is not accepted: rectify reads a body only as application/json'));
    // Quoted as any untrusted value: invisible characters escaped, cut at 256 characters.
    const odd = `text/plain; x=\u0085${'a'.repeat(300)}`;
    const shown = `"text/plain; x=\\u0085${'a'.repeat(256 - 15)}…"`;
    assert.deepEqual(await send(Buffer.from(incident('J21')), Buffer.from(odd, 'latin1').toString('latin1')), refusal(shown, `${shown} is not accepted: rectify reads a body only as application/json`));
    // No Content-Type at all (a Uint8Array body is sent without one).
    const none = await fetch(`${base}/api/v1/incidents`, { method: 'POST', body: new TextEncoder().encode(incident('J22')) });
    assert.deepEqual({ status: none.status, body: await none.json() }, refusal('""', 'missing: rectify reads a body only as application/json'));
    assert.equal(incidents(), before);
  });

  it('bytes that are not UTF-8 are a 400 naming their offset, not stored as U+FFFD; UTF-8 text is stored as sent', async () => {
    const before = incidents();
    const head = Buffer.from('{"id":"J13","root_cause":"nothing_matches","service":"api","context":{"note":"caf');
    const bad = Buffer.concat([head, Buffer.from([0xe9]), Buffer.from('"}}')]);
    const r = await send(bad);
    assert.deepEqual(r, {
      status: 400,
      body: {
        error: {
          code: 'BAD_REQUEST',
          message: `the body is not valid UTF-8: byte offset ${head.length} does not begin or continue a UTF-8 character; send the body encoded as UTF-8`,
          details: [{ path: 'body', message: `not valid UTF-8 at byte offset ${head.length}` }],
        },
      },
    });
    // An encoded surrogate (ED A0 80) is not UTF-8 either.
    assert.equal((await send(Buffer.concat([head, Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}}')]))).status, 400);
    assert.equal(incidents(), before);
    const good = await send(Buffer.concat([head, Buffer.from('é"}}')]));
    assert.equal(good.status, 202);
    assert.equal((await svc.get('/api/v1/incidents/J13')).body.incident.context.note, 'café');
  });
});
