import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { Type } from '@sinclair/typebox';
import { createLogger } from '@imlab/logger';
import { startTestIssuer } from '@imlab/testing';
import { AppError, authenticate, buildApp, closeMetrics, createMetricsServer, listenMetrics, registerInternalAuth, requireRole, type App } from '../src/index.js';

let app: App;
let issuer: Awaited<ReturnType<typeof startTestIssuer>>;
const USER = '0190f5f0-0000-7000-8000-000000000001';

beforeAll(async () => {
  issuer = await startTestIssuer();
  app = await buildApp({ service: 'demo', logger: createLogger({ service: 'demo', level: 'silent' }), bodyLimit: 1024 });
  await registerInternalAuth(app as never, { audience: 'demo', jwksUrl: issuer.jwksUrl });
  app.post('/v1/things', { schema: { body: Type.Object({ name: Type.String({ minLength: 1 }) }, { additionalProperties: false }), response: { 201: Type.Object({ name: Type.String() }) } } }, async (req, reply) => {
    reply.code(201);
    return { name: req.body.name };
  });
  app.get('/v1/prompt', async () => {
    throw new AppError('GENERATION_PROMPT_TOO_LONG', { params: { maxChars: 7 }, details: { maxChars: 7 } });
  });
  app.get('/v1/ledger-broken', async () => {
    throw new AppError('LEDGER_INVARIANT_BROKEN', { message: 'held balance of account 42 does not cover hold h-1' });
  });
  app.get('/v1/boom', async () => {
    throw new Error('database password is hunter2');
  });
  app.post('/v1/things/:id/cancel', { schema: { params: Type.Object({ id: Type.String({ format: 'uuid' }) }) } }, async (req) => ({ canceled: req.params.id, body: req.body ?? null }));
  app.get('/v1/at', { schema: { querystring: Type.Object({ at: Type.String({ format: 'date-time' }) }) } }, async (req) => ({ year: new Date(req.query.at).toISOString().slice(0, 4) }));
  app.get('/v1/page', { schema: { querystring: Type.Object({ limit: Type.Integer(), tag: Type.Optional(Type.Array(Type.String())) }) } }, async (req) => req.query);
  app.get('/v1/mine', { preHandler: authenticate }, async (req) => ({ sub: req.user.sub }));
  app.get('/v1/finance', { preHandler: requireRole('finance') }, async () => ({ ok: true }));
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await issuer.close();
});

describe('shared app factory', () => {
  it('answers validation failures as problem+json with a stable code and the request id', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/things', payload: { name: '' }, headers: { 'x-request-id': 'req-12345678' } });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', requestId: 'req-12345678' });
  });

  it('rejects malformed JSON and oversized bodies', async () => {
    const bad = await app.inject({ method: 'POST', url: '/v1/things', payload: '{"name":', headers: { 'content-type': 'application/json' } });
    expect(bad.statusCode).toBe(400);
    // The documented code, with the documented errors list even without field-level errors.
    expect(bad.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: 'request', message: expect.any(String) }] });
    const big = await app.inject({ method: 'POST', url: '/v1/things', payload: { name: 'x'.repeat(5000) } });
    expect(big.statusCode).toBe(413);
    expect(big.json().code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('takes an empty JSON body as no body, and still asks for one where the schema needs it', async () => {
    const id = '01900000-0000-7000-8000-000000000000';
    const cancel = await app.inject({ method: 'POST', url: `/v1/things/${id}/cancel`, payload: '', headers: { 'content-type': 'application/json' } });
    expect(cancel.statusCode).toBe(200);
    expect(cancel.json()).toEqual({ canceled: id, body: null });
    const needed = await app.inject({ method: 'POST', url: '/v1/things', payload: '', headers: { 'content-type': 'application/json' } });
    expect(needed.statusCode).toBe(400);
    expect(needed.json().code).toBe('VALIDATION_FAILED');
  });

  it('refuses text holding U+0000 (Postgres cannot store it) before any handler runs', async () => {
    for (const payload of ['{"name":"a\\u0000b"}', '{"name":"ok","x\\u0000":1}']) {
      const res = await app.inject({ method: 'POST', url: '/v1/things', payload, headers: { 'content-type': 'application/json' } });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: 'request', message: 'text may not contain NUL (U+0000) characters' }] });
    }
    // prototype poisoning is still refused by Fastify's own parser underneath
    const poisoned = await app.inject({ method: 'POST', url: '/v1/things', payload: '{"name":"x","__proto__":{"admin":true}}', headers: { 'content-type': 'application/json' } });
    expect(poisoned.statusCode).toBe(400);
    expect(poisoned.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: 'request' }] });
  });

  it('takes only plain UUIDs where a uuid is asked for (urn:uuid: would reach Postgres and fail there)', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/things/urn:uuid:01900000-0000-7000-8000-000000000000/cancel' });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('VALIDATION_FAILED');
  });

  it('takes only date-times JavaScript can hold (a leap second passes RFC 3339 and becomes an Invalid Date)', async () => {
    const leap = await app.inject({ method: 'GET', url: '/v1/at?at=2016-12-31T23:59:60Z' });
    expect(leap.statusCode).toBe(400);
    expect(leap.json().code).toBe('VALIDATION_FAILED');
    expect((await app.inject({ method: 'GET', url: '/v1/at?at=2016-02-30T00:00:00Z' })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/v1/at?at=2016-12-31T23:59:59%2B01:00' })).json()).toEqual({ year: '2016' });
  });

  it('takes a JSON body with the types it declares: no quiet conversion; query strings are still read as typed', async () => {
    for (const payload of [{ name: 5 }, { name: true }, { name: ['x'] }, { name: null }]) {
      const res = await app.inject({ method: 'POST', url: '/v1/things', payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: expect.stringContaining('name') }] });
    }
    expect((await app.inject({ method: 'POST', url: '/v1/things', payload: { name: 'x' } })).statusCode).toBe(201);
    expect((await app.inject({ method: 'GET', url: '/v1/page?limit=20&tag=a' })).json()).toEqual({ limit: 20, tag: ['a'] });
  });

  it('maps AppError to its registered status and message, and hides 5xx details', async () => {
    const long = await app.inject('/v1/prompt');
    expect(long.statusCode).toBe(422);
    expect(long.json()).toMatchObject({ status: 422, code: 'GENERATION_PROMPT_TOO_LONG', title: 'Unprocessable Content', detail: 'The prompt is longer than 7 characters.', maxChars: 7 });
    const boom = await app.inject('/v1/boom');
    expect(boom.statusCode).toBe(500);
    expect(boom.json()).toMatchObject({ code: 'INTERNAL', detail: 'Something went wrong on our side; please try again later.' });
    expect(boom.body).not.toContain('hunter2');
    const broken = await app.inject('/v1/ledger-broken');
    expect(broken.json()).toMatchObject({ status: 500, code: 'LEDGER_INVARIANT_BROKEN', detail: 'Something went wrong on our side; please try again later.' });
    expect(broken.body).not.toContain('hold h-1');
  });

  it("answers problems in the person's language: the locale cookie, then the account's, then Accept-Language", async () => {
    const zh = { status: 422, title: '无法处理的内容', detail: '提示词超过了 7 个字符。' };
    const en = { status: 422, title: 'Unprocessable Content', detail: 'The prompt is longer than 7 characters.' };
    const inject = async (url: string, headers: Record<string, string>) => (await app.inject({ url, headers })).json();
    expect(await inject('/v1/prompt', {})).toMatchObject(en);
    expect(await inject('/v1/prompt', { cookie: 'imlab_x=1; locale=zh' })).toMatchObject(zh);
    expect(await inject('/v1/prompt', { 'accept-language': 'zh-CN,zh;q=0.9,en;q=0.8' })).toMatchObject(zh);
    expect(await inject('/v1/prompt', { 'accept-language': 'fr-FR, en;q=0.8, zh-TW;q=0.5' })).toMatchObject(en);
    expect(await inject('/v1/prompt', { 'accept-language': 'de' })).toMatchObject(en);
    // The cookie wins over the browser's languages; anything but en|zh in it is ignored.
    expect(await inject('/v1/prompt', { cookie: 'locale=en', 'accept-language': 'zh-CN' })).toMatchObject(en);
    expect(await inject('/v1/prompt', { cookie: 'locale=fr', 'accept-language': 'zh-CN' })).toMatchObject(zh);
    // The account's locale (the verified token's claim) comes after the cookie and before Accept-Language.
    const zhAccount = await issuer.sign({ sub: USER, aud: 'demo', locale: 'zh' });
    expect(await inject('/v1/finance', { authorization: `Bearer ${zhAccount}`, 'accept-language': 'en' })).toMatchObject({ status: 403, title: '禁止访问', detail: '你没有权限执行此操作。' });
    expect(await inject('/v1/finance', { authorization: `Bearer ${zhAccount}`, cookie: 'locale=en' })).toMatchObject({ status: 403, detail: 'You are not allowed to do this.' });
    // Schema errors, 404s and 5xx too; field-level errors stay as they are.
    expect(await inject('/v1/page?limit=x', { cookie: 'locale=zh' })).toMatchObject({ code: 'VALIDATION_FAILED', title: '请求错误', detail: '请求无效，请按 errors 列表中的说明修改。', errors: [{ path: expect.stringContaining('limit') }] });
    expect(await inject('/v1/nothing', { cookie: 'locale=zh' })).toMatchObject({ code: 'NOT_FOUND', title: '未找到', detail: '未找到请求的内容。' });
    expect(await inject('/v1/boom', { 'accept-language': 'zh' })).toMatchObject({ code: 'INTERNAL', title: '服务器内部错误', detail: '服务器出现问题，请稍后再试。' });
  });

  it('takes JSON only: text/plain is a 415, not a string where an object was expected', async () => {
    const id = '01900000-0000-7000-8000-000000000000';
    for (const url of ['/v1/things', `/v1/things/${id}/cancel`]) {
      const res = await app.inject({ method: 'POST', url, payload: '{"name":"x"}', headers: { 'content-type': 'text/plain' } });
      expect(res.statusCode, url).toBe(415);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', title: 'Unsupported Media Type' });
    }
    // an empty body labelled text/plain (fetch's `body: ''`) is no body
    const empty = await app.inject({ method: 'POST', url: `/v1/things/${id}/cancel`, payload: '', headers: { 'content-type': 'text/plain;charset=UTF-8' } });
    expect(empty.statusCode).toBe(200);
  });

  it('answers what the router and the HTTP parser refuse before any route runs with problem+json too', async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = new URL(address);
    /** One raw exchange on a fresh connection: what fetch would refuse to send. */
    const raw = (text: string) =>
      new Promise<{ status: number; headers: string; body: string }>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => socket.write(text));
        let data = '';
        socket.on('data', (d) => (data += String(d)));
        socket.on('error', reject);
        socket.on('close', () => {
          const [head = '', body = ''] = data.split('\r\n\r\n');
          resolve({ status: Number(head.split(' ')[1]), headers: head.toLowerCase(), body });
        });
        setTimeout(() => socket.end(), 300);
      });
    const cases: [string, number, string][] = [
      ['GET /v1/things/%C0/cancel HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 400, 'VALIDATION_FAILED'],
      [`POST /v1/things/${'a'.repeat(101)}/cancel HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`, 414, 'PATH_TOO_LONG'],
      [`GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: ${'c'.repeat(20_000)}\r\n\r\n`, 431, 'REQUEST_HEADERS_TOO_LARGE'],
      ['NOT HTTP AT ALL\r\n\r\n', 400, 'MALFORMED_REQUEST'],
    ];
    for (const [request, status, code] of cases) {
      const res = await raw(request);
      expect(res.status, request.slice(0, 40)).toBe(status);
      expect(res.headers).toContain('content-type: application/problem+json');
      expect(res.headers).toMatch(/x-request-id: \S+/);
      const body = JSON.parse(res.body) as Record<string, unknown>;
      expect(body).toMatchObject({ status, code, requestId: expect.any(String) });
      expect(res.body).not.toContain('c'.repeat(100)); // nothing of the request echoed back
    }
  });

  it('answers unknown routes with a 404 problem', async () => {
    const res = await app.inject('/v1/nothing?token=secret-marker-q7');
    expect(res.json()).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    // the query (a token, say) is never echoed; a marker no request id can contain by chance
    expect(res.body).not.toContain('secret-marker-q7');
  });

  it('verifies internal tokens: audience, expiry, role, algorithm', async () => {
    const good = await issuer.sign({ sub: USER, aud: 'demo' });
    expect((await app.inject({ url: '/v1/mine', headers: { authorization: `Bearer ${good}` } })).json()).toEqual({ sub: USER });
    const wrongAud = await issuer.sign({ sub: USER, aud: 'billing' });
    expect((await app.inject({ url: '/v1/mine', headers: { authorization: `Bearer ${wrongAud}` } })).statusCode).toBe(401);
    const expired = await issuer.sign({ sub: USER, aud: 'demo', expiresIn: '-10s' });
    expect((await app.inject({ url: '/v1/mine', headers: { authorization: `Bearer ${expired}` } })).statusCode).toBe(401);
    const [h, p] = good.split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
    expect((await app.inject({ url: '/v1/mine', headers: { authorization: `Bearer ${none}` } })).statusCode).toBe(401);
    expect((await app.inject({ url: '/v1/mine', headers: { authorization: `Bearer ${h}.${p}.AAAA` } })).statusCode).toBe(401);
    expect((await app.inject({ url: '/v1/mine' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/v1/finance', headers: { authorization: `Bearer ${good}` } })).statusCode).toBe(403);
    const finance = await issuer.sign({ sub: USER, aud: 'demo', roles: ['finance'] });
    expect((await app.inject({ url: '/v1/finance', headers: { authorization: `Bearer ${finance}` } })).statusCode).toBe(200);
  });

  it('serves health, readiness and its OpenAPI document; /metrics only on the metrics listener', async () => {
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    expect((await app.inject('/readyz')).json()).toMatchObject({ status: 'ok' });
    // the public app does not know /metrics: a 404 like any unknown path
    expect((await app.inject('/metrics')).statusCode).toBe(404);
    const server = createMetricsServer(app.metricsRegistry);
    const port = await listenMetrics(server, 0, '127.0.0.1');
    try {
      const scrape = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(scrape.status).toBe(200);
      expect(scrape.headers.get('content-type')).toContain('text/plain');
      const text = await scrape.text();
      expect(text).toContain('imlab_http_request_duration_seconds');
      // the 404 answered above, by its registered code
      expect(text).toMatch(/^imlab_http_problems_total\{code="NOT_FOUND",status="404",service="[^"]+"\} [1-9]/m);
      expect((await fetch(`http://127.0.0.1:${port}/v1/things`)).status).toBe(404);
    } finally {
      await closeMetrics(server);
    }
    const doc = (await app.inject('/openapi.json')).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/v1/things');
    expect(Object.keys(doc.paths)).not.toContain('/metrics');
  });
});
