import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { closeClients, send, startFakes, startGateway, type Fakes, type RunningGateway } from './helpers.js';

let fakes: Fakes;
let gw: RunningGateway;

beforeAll(async () => {
  fakes = await startFakes();
  gw = await startGateway(fakes, { BODY_LIMIT: '4096', UPLOAD_BODY_LIMIT: '65536', UPSTREAM_TIMEOUT: '1s' });
});
afterAll(async () => {
  await gw?.close();
  await fakes?.close();
  await closeClients();
});

/** Sends a request line exactly as written (fetch and undici would normalise the path). */
async function rawRequest(port: number, target: string, method = 'GET'): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`${method} ${target} HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    });
    let data = '';
    socket.on('data', (c) => (data += c.toString()));
    socket.on('end', () => resolve({ status: Number(data.split(' ')[1]), text: data }));
    socket.on('error', reject);
  });
}

const allUpstreamRequests = () => [fakes.auth, fakes.ledger, fakes.generation, fakes.billing, fakes.notification].flatMap((s) => s.requests.map((r) => `${s.name} ${r.method} ${r.url}`));

describe('request paths that must not reach anything else', () => {
  it.each([
    '/v1/auth/..%2f..%2finternal/sessions/resolve',
    '/v1/auth/%2e%2e/%2e%2e/internal/sessions/resolve',
    '/v1/auth/..;/internal/sessions/resolve',
    '/v1/auth/login;jsessionid=1',
    '/v1/auth\\..\\..\\internal\\sessions\\resolve',
    '/v1/me/%252e%252e/%252e%252e/internal',
    '/v1/auth/%00',
    '/v1/../../internal/sessions/resolve',
    '/v1/../metrics',
    '/v1/auth/../../.well-known/jwks.json',
    '/internal/sessions/resolve',
    '/.well-known/jwks.json',
    '/v1/credits/../../internal/users/u1/export',
    '/v1/images/%2F..%2F..%2Finternal',
  ])('%s is refused or not found and reaches no service', async (target) => {
    const before = allUpstreamRequests().length;
    const res = await rawRequest(Number(new URL(gw.url).port), target, 'POST');
    expect([400, 404]).toContain(res.status);
    expect(res.text).toContain('application/problem+json');
    expect(allUpstreamRequests().length).toBe(before);
  });

  it('serves its own /metrics on the internal listener only, never a service’s, and 404 on the public port', async () => {
    const res = await send(`${gw.metricsUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('service="gateway"');
    const pub = await send(`${gw.url}/metrics`);
    expect(pub.status).toBe(404);
    expect(pub.text).not.toContain('service="gateway"');
    expect((await send(`${gw.metricsUrl}/v1/credits/balance`)).status).toBe(404);
  });
});

describe('bodies', () => {
  it('refuses an oversized JSON body with 413 before the service sees it', async () => {
    const before = fakes.generation.requests.length;
    const res = await send(`${gw.url}/v1/generations/quote`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'x'.repeat(10_000) }),
    });
    expect(res.status).toBe(413);
    expect(res.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(fakes.generation.requests.length).toBe(before);
  });

  it('refuses malformed JSON with 400 before the service sees it', async () => {
    const before = fakes.generation.requests.length;
    const res = await send(`${gw.url}/v1/generations/quote`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt": "x",' });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(fakes.generation.requests.length).toBe(before);
  });

  it('refuses text holding U+0000 with 400 before the service sees it', async () => {
    const before = fakes.generation.requests.length;
    const res = await send(`${gw.url}/v1/generations/quote`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":"tea\\u0000time"}' });
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: 'request', message: 'text may not contain NUL (U+0000) characters' }] });
    expect(fakes.generation.requests.length).toBe(before);
  });

  it('forwards a body-less write sent with a JSON content type (as many fetch wrappers do)', async () => {
    const before = fakes.generation.requests.length;
    const res = await send(`${gw.url}/v1/generations/01900000-0000-7000-8000-000000000000/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '' });
    expect(res.status).not.toBe(400);
    expect(fakes.generation.requests.length).toBe(before + 1);
  });

  it('refuses an upload larger than the upload limit by its declared length', async () => {
    const before = fakes.generation.requests.length;
    const res = await send(`${gw.url}/v1/uploads`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: Buffer.alloc(70_000) });
    expect(res.status).toBe(413);
    expect(fakes.generation.requests.length).toBe(before);
  });

  it('refuses a streamed body without a declared length (411)', async () => {
    const before = fakes.generation.requests.length;
    const res = await fetch(`${gw.url}/v1/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: new ReadableStream({
        start(c) {
          c.enqueue(new Uint8Array(10));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(411);
    expect(((await res.json()) as { code: string }).code).toBe('GATEWAY_LENGTH_REQUIRED');
    expect(fakes.generation.requests.length).toBe(before);
  });
});

describe("problems in the person's language", () => {
  const zhNotFound = { status: 404, code: 'NOT_FOUND', title: '未找到', detail: '未找到请求的内容。' };
  const enNotFound = { status: 404, code: 'NOT_FOUND', title: 'Not Found', detail: 'Nothing was found here.' };

  it('answers its own problems in Chinese for a locale=zh cookie or a zh* Accept-Language, in English otherwise', async () => {
    expect((await send(`${gw.url}/v1/no-such-thing`)).json()).toMatchObject(enNotFound);
    expect((await send(`${gw.url}/v1/no-such-thing`, { headers: { cookie: 'locale=zh' } })).json()).toMatchObject(zhNotFound);
    expect((await send(`${gw.url}/v1/no-such-thing`, { headers: { 'accept-language': 'zh-CN,zh;q=0.9,en;q=0.8' } })).json()).toMatchObject(zhNotFound);
    expect((await send(`${gw.url}/v1/no-such-thing`, { headers: { cookie: 'locale=en', 'accept-language': 'zh-CN' } })).json()).toMatchObject(enNotFound);
    const tooBig = await send(`${gw.url}/v1/generations/quote`, { method: 'POST', headers: { 'content-type': 'application/json', 'accept-language': 'zh-Hans' }, body: JSON.stringify({ prompt: 'x'.repeat(10_000) }) });
    expect(tooBig.json()).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE', title: '内容过大', detail: '请求体过大。' });
  });

  it("uses the signed-in account's locale when no locale cookie is sent", async () => {
    fakes.auth.sessions.set('sid-zh-reader', 'user-zh-reader');
    fakes.auth.locales.set('user-zh-reader', 'zh');
    const headers = { 'content-type': 'application/json', origin: 'https://app.imlab.test', 'accept-language': 'en' };
    const res = await send(`${gw.url}/v1/generations/quote`, { method: 'POST', headers: { ...headers, cookie: 'imlab_sid=sid-zh-reader' }, body: JSON.stringify({ prompt: 'x'.repeat(10_000) }) });
    expect(res.json()).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE', title: '内容过大', detail: '请求体过大。' });
    // The cookie, this browser's choice, still wins.
    const en = await send(`${gw.url}/v1/generations/quote`, { method: 'POST', headers: { ...headers, cookie: 'imlab_sid=sid-zh-reader; locale=en' }, body: JSON.stringify({ prompt: 'x'.repeat(10_000) }) });
    expect(en.json()).toMatchObject({ status: 413, title: 'Content Too Large', detail: 'The request body is too large.' });
  });

  it('passes what services need to choose the language on: the locale cookie and Accept-Language', async () => {
    const before = fakes.ledger.requests.length;
    await send(`${gw.url}/v1/credits/transactions`, { headers: { cookie: 'locale=zh; other=1', 'accept-language': 'zh-CN' } });
    const seen = fakes.ledger.requests[before]!;
    expect(seen.headers.cookie).toBe('locale=zh');
    expect(seen.headers['accept-language']).toBe('zh-CN');
  });

  it('says upstream failures in the same words in each language, never the reason', async () => {
    const down = await startGateway({ ...fakes, billing: undefined });
    try {
      const res = await send(`${down.url}/v1/billing/orders`, { headers: { cookie: 'locale=zh' } });
      expect(res.json()).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE', title: '服务不可用', detail: '服务暂时不可用，请稍后再试。' });
      expect(res.text).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
    } finally {
      await down.close();
    }
  });
});

describe('upstream failures', () => {
  it('answers 503 problem+json with Retry-After when the service is down, without internals', async () => {
    const down = await startGateway({ ...fakes, ledger: undefined });
    try {
      const res = await send(`${down.url}/v1/credits/balance`);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.json()).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
      expect(res.text).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|:1\b|undici|stack/i);
      const metrics = await send(`${down.metricsUrl}/metrics`);
      expect(metrics.text).toMatch(/imlab_gateway_upstream_errors_total\{[^}]*service="credits-ledger"[^}]*kind="unavailable"[^}]*\} 1/);
    } finally {
      await down.close();
    }
  });

  it('refuses ambiguous request framing (Transfer-Encoding with Content-Length, two Content-Lengths) with problem+json, forwarding nothing', async () => {
    const before = fakes.generation.requests.length;
    const raw = (text: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: Number(new URL(gw.url).port) }, () => socket.write(text));
        let data = '';
        socket.on('data', (d) => (data += String(d)));
        socket.on('error', reject);
        socket.on('close', () => resolve(data));
      });
    const body = '{"prompt":"x"}';
    for (const framing of [`Content-Length: ${body.length}\r\nTransfer-Encoding: chunked`, `Content-Length: ${body.length}\r\nContent-Length: 3`]) {
      const answer = await raw(`POST /v1/generations/quote HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${framing}\r\n\r\n${body}`);
      expect(answer.split(' ')[1], framing).toBe('400');
      expect(answer.toLowerCase()).toContain('content-type: application/problem+json');
    }
    expect(fakes.generation.requests.length).toBe(before);
  });

  it('answers 504 when the service takes longer than the route timeout', async () => {
    fakes.billing.on('GET', '/v1/billing/orders', async (_req, res) => {
      await new Promise((r) => setTimeout(r, 5000));
      res.writeHead(200).end('{}');
    });
    const started = Date.now();
    const res = await send(`${gw.url}/v1/billing/orders`);
    expect(res.status).toBe(504);
    expect(res.json()).toMatchObject({ code: 'UPSTREAM_TIMEOUT' });
    // the route timeout is 1 s; the service would have taken 5 s
    expect(Date.now() - started).toBeLessThan(3500);
  });

  it('answers 504 when a service never starts an event stream (its body has no limit, its headers do)', async () => {
    let ended = false;
    fakes.generation.on('GET', /^\/v1\/generations\/[^/]+\/events$/, (_req, res) => {
      res.on('close', () => (ended = true)); // never writes its headers
    });
    const started = Date.now();
    const res = await send(`${gw.url}/v1/generations/gen_stuck/events`);
    expect(res.status).toBe(504);
    expect(res.json()).toMatchObject({ code: 'UPSTREAM_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(3500);
    await expect.poll(() => ended).toBe(true);
  });

  it('does not retry a POST whose connection failed, and answers 502', async () => {
    let calls = 0;
    fakes.billing.on('POST', '/v1/billing/checkout', (req) => {
      calls++;
      req.socket.destroy();
    });
    const res = await send(`${gw.url}/v1/billing/checkout`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"pack":"small"}' });
    expect(res.status).toBe(502);
    expect(res.json()).toMatchObject({ code: 'UPSTREAM_FAILED' });
    expect(calls).toBe(1);
  });

  it('does not replay a GET the service answered 503', async () => {
    let calls = 0;
    fakes.ledger.on('GET', '/v1/credits/transactions', (_req, res) => {
      calls++;
      res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '0' }).end('{"status":503,"code":"SERVICE_UNAVAILABLE"}');
    });
    const res = await send(`${gw.url}/v1/credits/transactions`);
    expect(res.status).toBe(503);
    expect(calls).toBe(1);
  });
});

describe('a client that goes away mid-upload', () => {
  it('cuts the service’s request short too, and is not counted as a service failure', async () => {
    let received = 0;
    let serviceSawAbort = false;
    const service = createServer((req, res) => {
      req.on('data', (c: Buffer) => (received += c.length));
      req.on('aborted', () => (serviceSawAbort = true));
      req.on('close', () => {
        if (!req.complete) serviceSawAbort = true;
      });
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
    await new Promise<void>((r) => service.listen(0, '127.0.0.1', r));
    const gw2 = await startGateway({ ...fakes, generation: { ...fakes.generation, url: `http://127.0.0.1:${(service.address() as AddressInfo).port}` } });
    try {
      const port = Number(new URL(gw2.url).port);
      const socket = connect(port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      socket.write(`POST /v1/uploads HTTP/1.1\r\nHost: gateway.test\r\nContent-Type: image/png\r\nContent-Length: 1000000\r\n\r\n`);
      socket.write(Buffer.alloc(20_000, 1));
      await expect.poll(() => received, { timeout: 3000 }).toBeGreaterThan(0);
      socket.destroy();
      await expect.poll(() => serviceSawAbort, { timeout: 3000 }).toBe(true);
      expect(received).toBeLessThan(1_000_000);
      const metrics = await send(`${gw2.url}/metrics`);
      expect(metrics.text).not.toMatch(/imlab_gateway_upstream_errors_total\{[^}]*service="generation"/);
    } finally {
      await gw2.close();
      service.closeAllConnections();
      service.close();
    }
  });
});
