import { createServer, get, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeClients, send, startFakes, startGateway, type Fakes, type RunningGateway } from './helpers.js';

let fakes: Fakes;
let gw: RunningGateway;

beforeAll(async () => {
  fakes = await startFakes();
  gw = await startGateway(fakes);
});
afterAll(async () => {
  await gw?.close();
  await fakes?.close();
  await closeClients();
});

const FIREFOX_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0';

describe('routing /v1 to the owning service', () => {
  it.each([
    ['GET', '/v1/auth/google/start', 'auth'],
    ['GET', '/v1/me', 'auth'],
    ['GET', '/v1/me/sessions', 'auth'],
    ['GET', '/v1/credits/balance', 'credits-ledger'],
    ['GET', '/v1/admin/ledger/trial-balance', 'credits-ledger'],
    ['GET', '/v1/generations', 'generation'],
    ['GET', '/v1/images/abc/thumb', 'generation'],
    ['GET', '/v1/gallery?cursor=x&limit=2', 'generation'],
    ['GET', '/v1/pricing', 'billing'],
    ['GET', '/v1/billing/orders', 'billing'],
    ['GET', '/v1/admin/billing/reconciliation', 'billing'],
  ])('%s %s reaches %s with the path and query unchanged', async (method, path, service) => {
    const res = await send(gw.url + path, { method });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ service, url: path });
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('forwards the request id, hashes and a coarse device label instead of the raw client', async () => {
    const before = fakes.billing.requests.length;
    const res = await send(`${gw.url}/v1/pricing`, { headers: { 'user-agent': FIREFOX_MAC } });
    expect(res.status).toBe(200);
    const seen = fakes.billing.requests[before]!;
    expect(seen.headers['x-request-id']).toBe(res.headers['x-request-id']);
    expect(seen.headers['x-imlab-ip-hash']).toMatch(/^[0-9a-f]{64}$/);
    expect(seen.headers['x-imlab-ua-hash']).toMatch(/^[0-9a-f]{64}$/);
    expect(seen.headers['x-imlab-ua-hash']).not.toBe(seen.headers['x-imlab-ip-hash']);
    expect(seen.headers['x-imlab-device']).toBe('Firefox on macOS');
    expect(seen.headers['user-agent']).toBeUndefined();
    expect(seen.headers['x-forwarded-for']).toBeUndefined();
  });

  it('drops client-supplied Authorization and x-imlab-* headers', async () => {
    const before = fakes.ledger.requests.length;
    await send(`${gw.url}/v1/credits/balance`, {
      headers: {
        authorization: 'Bearer forged-internal-jwt',
        'x-imlab-ip-hash': 'f'.repeat(64),
        'x-imlab-internal-token': 'guess',
        'x-imlab-anything': 'x',
        'x-forwarded-for': '203.0.113.5',
        forwarded: 'for=203.0.113.5',
        'x-request-id': 'client-chosen-request-id',
      },
    });
    const seen = fakes.ledger.requests[before]!;
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['x-imlab-ip-hash']).not.toBe('f'.repeat(64));
    expect(seen.headers['x-imlab-internal-token']).toBeUndefined();
    expect(seen.headers['x-imlab-anything']).toBeUndefined();
    expect(seen.headers['x-forwarded-for']).toBeUndefined();
    expect(seen.headers.forwarded).toBeUndefined();
    expect(seen.headers['x-request-id']).not.toBe('client-chosen-request-id');
  });

  it('forwards JSON bodies byte for byte', async () => {
    const before = fakes.generation.requests.length;
    const body = '{ "prompt" : "a quiet workshop",\n  "n": 1 }';
    const res = await send(`${gw.url}/v1/generations/quote`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
    expect(fakes.generation.requests[before]!.body.toString()).toBe(body);
  });

  it('streams an upload with its declared length to the generation service', async () => {
    const before = fakes.generation.requests.length;
    const payload = Buffer.alloc(3 * 1024 * 1024, 7);
    const res = await send(`${gw.url}/v1/uploads`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: payload });
    expect(res.status).toBe(200);
    expect(fakes.generation.requests[before]!.body.equals(payload)).toBe(true);
  });

  it('passes the Stripe and Resend webhooks through raw, even when they are not valid JSON', async () => {
    const stripeBody = Buffer.from('{"id":"evt_1",  "type":"checkout.session.completed"}\r\n');
    const before = fakes.billing.requests.length;
    const res = await send(`${gw.url}/v1/billing/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': 't=1,v1=abc' },
      body: stripeBody,
    });
    expect(res.status).toBe(200);
    const seen = fakes.billing.requests[before]!;
    expect(seen.body.equals(stripeBody)).toBe(true);
    expect(seen.headers['stripe-signature']).toBe('t=1,v1=abc');
    expect(seen.headers['content-type']).toBe('application/json; charset=utf-8');

    const resendBody = Buffer.from('{not json but signed');
    const n = fakes.notification.requests.length;
    const r2 = await send(`${gw.url}/v1/notifications/webhooks/resend`, { method: 'POST', headers: { 'content-type': 'application/json', 'svix-signature': 'v1,xyz' }, body: resendBody });
    expect(r2.status).toBe(200);
    expect(fakes.notification.requests[n]!.body.equals(resendBody)).toBe(true);
  });

  it('passes upstream answers through, status and problem body included', async () => {
    fakes.generation.on('GET', '/v1/generations/missing', (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/problem+json' }).end('{"type":"about:blank","title":"Not Found","status":404,"code":"GENERATION_NOT_FOUND"}');
    });
    const res = await send(`${gw.url}/v1/generations/missing`);
    expect(res.status).toBe(404);
    expect(res.json()).toMatchObject({ code: 'GENERATION_NOT_FOUND' });
  });
});

describe('GET /v1/generations/:id/events', () => {
  it('streams server-sent events as they are produced, not at the end', async () => {
    fakes.generation.on('GET', /^\/v1\/generations\/[^/]+\/events$/, async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (const status of ['queued', 'running', 'succeeded']) {
        res.write(`event: status\ndata: {"status":"${status}"}\n\n`);
        await new Promise((r) => setTimeout(r, 300));
      }
      res.end();
    });
    const res = await fetch(`${gw.url}/v1/generations/gen_1/events`);
    const started = Date.now(); // from the headers on: the first event was written with them
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    const arrivals: { at: number; text: string }[] = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      arrivals.push({ at: Date.now() - started, text: Buffer.from(value).toString() });
    }
    const all = arrivals.map((a) => a.text).join('');
    expect(all).toContain('"queued"');
    expect(all).toContain('"succeeded"');
    // each event came on its own, as produced 300 ms apart, not all at the end (~900 ms)
    const queued = arrivals.find((a) => a.text.includes('queued'))!;
    const succeeded = arrivals.find((a) => a.text.includes('succeeded'))!;
    expect(queued.text).not.toContain('succeeded');
    expect(succeeded.at - queued.at).toBeGreaterThan(250);
  });
});

describe('shutdown with event streams passing through', () => {
  it('ends them, so the gateway stops at once instead of waiting out its grace period', async () => {
    let upstreamClosed = false;
    fakes.generation.on('GET', /^\/v1\/generations\/[^/]+\/events$/, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: status\ndata: {"status":"queued"}\n\n');
      const timer = setInterval(() => res.write(': ping\n\n'), 50);
      res.on('close', () => {
        clearInterval(timer);
        upstreamClosed = true;
      });
    });
    const own = await startGateway(fakes);
    const res = await fetch(`${own.url}/v1/generations/gen_open/events`);
    const reader = res.body!.getReader();
    await reader.read();
    const outcome = await Promise.race([own.close().then(() => 'closed'), new Promise((r) => setTimeout(() => r('still open'), 5000))]);
    expect(outcome).toBe('closed');
    await expect.poll(() => upstreamClosed, { timeout: 3000 }).toBe(true);
    await reader.cancel().catch(() => undefined);
  });

  it('answers a stream the service opens only after shutdown began with the draining 503, and still stops at once', async () => {
    let answerNow: () => void = () => undefined;
    const asked = new Promise<void>((askedResolve) => {
      fakes.generation.on('GET', /^\/v1\/generations\/[^/]+\/events$/, (_req, res) => {
        askedResolve();
        // The service answers late: after the gateway's close() has begun.
        answerNow = () => {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write('event: status\ndata: {"status":"queued"}\n\n');
          const timer = setInterval(() => res.write(': ping\n\n'), 50);
          res.on('close', () => clearInterval(timer));
        };
      });
    });
    const own = await startGateway(fakes);
    const pending = fetch(`${own.url}/v1/generations/gen_late/events`);
    await asked;
    const closed = own.close().then(() => 'closed');
    // Draining (or no longer listening) once preClose has run: then the service answers.
    await expect.poll(() => fetch(`${own.url}/healthz`).then((r) => r.status, () => 'refused'), { timeout: 5000, interval: 20 }).not.toBe(200);
    answerNow();
    const res = await pending;
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
    expect(await Promise.race([closed, new Promise((r) => setTimeout(() => r('still open'), 5000))])).toBe('closed');
  });
});

describe('answers larger than a small JSON document', () => {
  it('streams a large answer intact with its declared length, and a chunked one without', async () => {
    const image = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < image.length; i++) image[i] = (i * 31) & 0xff;
    fakes.generation.on('GET', '/v1/images/big/file', (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(image.length) });
      res.end(image);
    });
    fakes.generation.on('GET', '/v1/images/chunked/file', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/zip' });
      res.write(image.subarray(0, 1000));
      setTimeout(() => res.end(image.subarray(1000, 5000)), 50);
    });
    const big = await fetch(`${gw.url}/v1/images/big/file`);
    expect(big.status).toBe(200);
    expect(big.headers.get('content-length')).toBe(String(image.length));
    expect(Buffer.from(await big.arrayBuffer()).equals(image)).toBe(true);

    const chunked = await fetch(`${gw.url}/v1/images/chunked/file`);
    expect(chunked.headers.get('transfer-encoding')).toBe('chunked');
    expect(Buffer.from(await chunked.arrayBuffer()).equals(image.subarray(0, 5000))).toBe(true);
  });

  it('stops the service’s answer when the client goes away mid-stream', async () => {
    let upstreamClosed = false;
    fakes.generation.on('GET', /^\/v1\/generations\/[^/]+\/events$/, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const timer = setInterval(() => res.write('event: ping\ndata: {}\n\n'), 20);
      res.on('close', () => {
        clearInterval(timer);
        upstreamClosed = true;
      });
    });
    // A raw client whose socket is destroyed after the first event: the person closed the tab.
    const client = get(`${gw.url}/v1/generations/gen_gone/events`);
    const res = await new Promise<IncomingMessage>((r) => client.once('response', r));
    await new Promise((r) => res.once('data', r));
    client.destroy();
    await expect.poll(() => upstreamClosed, { timeout: 3000 }).toBe(true);
  });

  it('holds the service back while the client reads slowly, instead of buffering its whole answer', async () => {
    const total = 64 * 1024 * 1024;
    let written = 0;
    fakes.generation.on('GET', '/v1/images/huge/file', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
      const chunk = Buffer.alloc(64 * 1024, 5);
      const pump = () => {
        while (written < total) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const client = get(`${gw.url}/v1/images/huge/file`);
    const res = await new Promise<IncomingMessage>((r) => client.once('response', r));
    res.pause();
    await new Promise((r) => setTimeout(r, 700));
    // Socket buffers on both hops plus one stream buffer: a few MB at most, not the 64 MB answer.
    expect(written).toBeLessThan(16 * 1024 * 1024);
    let received = 0;
    res.on('data', (c: Buffer) => (received += c.length));
    res.resume();
    await new Promise((r) => res.once('end', r));
    expect(received).toBe(total);
  });

  it('answers HEAD with the service’s headers and no body', async () => {
    fakes.generation.on('HEAD', '/v1/images/abc/file', (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': '123456' }).end();
    });
    const res = await send(`${gw.url}/v1/images/abc/file`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe('123456');
    expect(res.text).toBe('');
  });
});

describe('hop-by-hop headers', () => {
  it('does not forward headers the client names in Connection, and cannot be made to drop the gateway’s own', async () => {
    const before = fakes.ledger.requests.length;
    // undici refuses to send such a Connection header; node:http sends what it is given.
    const res = await new Promise<IncomingMessage>((resolve, reject) =>
      get(
        `${gw.url}/v1/credits/balance`,
        { headers: { connection: 'keep-alive, if-none-match, x-imlab-ip-hash, x-request-id', 'if-none-match': '"v1"', 'accept-language': 'zh', 'x-invented': 'yes' } },
        resolve,
      ).on('error', reject),
    );
    res.resume();
    expect(res.statusCode).toBe(200);
    const seen = fakes.ledger.requests[before]!;
    expect(seen.headers['if-none-match']).toBeUndefined(); // forwarded normally, but named hop-by-hop here
    expect(seen.headers['accept-language']).toBe('zh');
    expect(seen.headers['x-invented']).toBeUndefined(); // only the headers services read go on
    expect(seen.headers['x-imlab-ip-hash']).toMatch(/^[0-9a-f]{64}$/);
    expect(seen.headers['x-request-id']).toBe(res.headers['x-request-id']);
    expect(seen.headers.host).toBe(new URL(fakes.ledger.url).host);
  });

  it('passes on an answer the service gave before reading the whole upload, and reads the rest of the client’s body instead of resetting it', async () => {
    // The fakes read the whole body before answering; this service answers from the headers alone.
    const early = createServer((_req, res) => res.writeHead(413, { 'content-type': 'application/json' }).end('{"status":413}'));
    await new Promise<void>((r) => early.listen(0, '127.0.0.1', r));
    const port = (early.address() as { port: number }).port;
    const gw2 = await startGateway({ ...fakes, generation: { ...fakes.generation, url: `http://127.0.0.1:${port}` } });
    try {
      const res = await send(`${gw2.url}/v1/uploads`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: Buffer.alloc(8 * 1024 * 1024, 1) });
      expect(res.status).toBe(413);
      // no reset under a client still sending: the rest is drained (early-413.test.ts times it)
      expect(res.headers.connection).not.toBe('close');
      expect((await send(`${gw2.url}/healthz`)).status).toBe(200);
    } finally {
      await gw2.close();
      early.closeAllConnections();
      early.close();
    }
  });
});
