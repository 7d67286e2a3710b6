import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, createApiClient, download, generationEvents, ok, uploadImage, type ApiClientOptions } from '@imlab/client';
import { closeClients, startFakes, startGateway, type Fakes, type RunningGateway } from './helpers.js';

let fakes: Fakes;
let gw: RunningGateway;

/** A fetch that keeps cookies like a browser does (Node's fetch keeps none) and sends the app's Origin. */
function browserFetch(): { fetch: typeof fetch; cookies: Map<string, string> } {
  const cookies = new Map<string, string>();
  const wrapped: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const headers = new Headers(request.headers);
    headers.set('origin', 'https://app.imlab.test');
    if (cookies.size) headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const response = await fetch(new Request(request, { headers }));
    for (const c of response.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const [k, v] = pair!.split('=');
      if (v) cookies.set(k!, v);
      else cookies.delete(k!);
    }
    return response;
  };
  return { fetch: wrapped, cookies };
}

beforeAll(async () => {
  fakes = await startFakes();
  // auth's public side, as far as the client needs it: login sets the session cookie, logout clears it
  fakes.auth.on('POST', '/v1/auth/login', (_req, res, body) => {
    const { email } = JSON.parse(body.toString()) as { email: string };
    const token = `sid-${email}`;
    fakes.auth.sessions.set(token, `usr_${email.split('@')[0]}`);
    res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': [`imlab_sid=${token}; Path=/; HttpOnly; SameSite=Lax`, 'locale=zh; Path=/'] });
    res.end('{"ok":true}');
  });
  fakes.auth.on('POST', '/v1/auth/logout', (req, res) => {
    res.writeHead(204, { 'set-cookie': 'imlab_sid=; Path=/; Max-Age=0' }).end();
  });
  gw = await startGateway(fakes, { RATE_LIMIT_GENERATION: '2/1h' });
});
afterAll(async () => {
  await gw?.close();
  await fakes?.close();
  await closeClients();
});

describe('the generated client through the gateway', () => {
  it('signs in, is recognised on the next call, and signs out', async () => {
    const browser = browserFetch();
    const api = createApiClient({ baseUrl: gw.url, fetch: browser.fetch });
    await ok(api.POST('/v1/auth/login', { body: { email: 'carol@imlab.test', password: 'pw' } }));
    expect(browser.cookies.get('imlab_sid')).toBe('sid-carol@imlab.test');
    const before = fakes.ledger.requests.length;
    const { response } = await api.GET('/v1/credits/balance');
    expect(response.status).toBe(200);
    expect(fakes.ledger.requests[before]!.headers.authorization).toBe('Bearer jwt.credits-ledger.usr_carol');
    expect(fakes.ledger.requests[before]!.headers.cookie).toBe('locale=zh');
    expect(response.headers.get('ratelimit-policy')).toMatch(/^"read";q=1200;w=60/);
    await api.POST('/v1/auth/logout');
    expect(browser.cookies.has('imlab_sid')).toBe(false);
  });

  it('turns a problem answer into ApiError with the code and Retry-After', async () => {
    const browser = browserFetch();
    const api = createApiClient({ baseUrl: gw.url, fetch: browser.fetch });
    await ok(api.POST('/v1/auth/login', { body: { email: 'dave@imlab.test', password: 'pw' } }));
    await api.POST('/v1/generations', { body: { prompt: 'one' } });
    await api.POST('/v1/generations', { body: { prompt: 'two' } });
    const err = await ok(api.POST('/v1/generations', { body: { prompt: 'three' } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect((err as ApiError).retryAfter).toBeGreaterThan(0);
  });

  it('uploads the raw bytes of an image with its type', async () => {
    const browser = browserFetch();
    const api = createApiClient({ baseUrl: gw.url, fetch: browser.fetch });
    await ok(api.POST('/v1/auth/login', { body: { email: 'erin@imlab.test', password: 'pw' } }));
    fakes.generation.on('POST', '/v1/uploads', (_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a80"}');
    });
    const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
    const before = fakes.generation.requests.length;
    const upload = await uploadImage(api, bytes, 'image/png');
    expect(upload).toMatchObject({ id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a80' });
    const seen = fakes.generation.requests[before]!;
    expect(seen.headers['content-type']).toBe('image/png');
    expect([...seen.body]).toEqual([...bytes]);
  });

  it('downloads a file, and answers a problem as ApiError', async () => {
    fakes.generation.on('GET', '/v1/images/img1', (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from([1, 2, 3]));
    });
    fakes.generation.on('GET', '/v1/images/gone', (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/problem+json' }).end('{"type":"about:blank","title":"Not Found","status":404,"code":"IMAGE_NOT_FOUND"}');
    });
    const opts: ApiClientOptions = { baseUrl: gw.url, fetch: browserFetch().fetch };
    const blob = await download(opts, '/v1/images/img1');
    expect(blob.type).toBe('image/png');
    expect([...new Uint8Array(await blob.arrayBuffer())]).toEqual([1, 2, 3]);
    await expect(download(opts, '/v1/images/gone')).rejects.toMatchObject({ status: 404, code: 'IMAGE_NOT_FOUND' });
  });

  it('follows a generation’s events, reconnecting with Last-Event-ID when the stream drops', async () => {
    const lastEventIds: (string | undefined)[] = [];
    const generation = (status: string) => JSON.stringify({ id: 'gen_1', status });
    fakes.generation.on('GET', /^\/v1\/generations\/[^/]+\/events$/, async (req, res) => {
      const resumed = req.headers['last-event-id'] as string | undefined;
      lastEventIds.push(resumed);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (!resumed) {
        res.write(`id: queued\nevent: status\ndata: ${generation('queued')}\n\n: ping\n\n`);
        await new Promise((r) => setTimeout(r, 50));
        res.write(`event: progress\ndata: {"id":"gen_1","percent":40}\n\n`);
        // dropped before the final status (a service restarting)
        res.end(`id: running\nevent: status\ndata: ${generation('running')}\n\n`);
        return;
      }
      res.end(`id: succeeded\nevent: status\ndata: ${generation('succeeded')}\n\n`);
    });
    const statuses: string[] = [];
    const progress: number[] = [];
    const onProgress = (p: number) => progress.push(p);
    for await (const e of generationEvents('gen_1', { baseUrl: gw.url, fetch: browserFetch().fetch, reconnectDelayMs: 10, onProgress })) statuses.push(e.generation.status);
    expect(statuses).toEqual(['queued', 'running', 'succeeded']);
    expect(progress).toEqual([40]);
    expect(lastEventIds).toEqual([undefined, 'running']);
  });
});
