import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, ImlabClient } from '@imlab/client';
import { closeClients, startFakes, startGateway, type Fakes, type RunningGateway } from './helpers.js';

let fakes: Fakes;
let gw: RunningGateway;

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

describe('@imlab/client through the gateway', () => {
  it('signs in, is recognised on the next call, and signs out', async () => {
    const client = new ImlabClient({ baseUrl: gw.url, origin: 'https://app.imlab.test' });
    try {
      await client.auth.login({ email: 'carol@imlab.test', password: 'pw' });
      expect(client.signedIn).toBe(true);
      const before = fakes.ledger.requests.length;
      const balance = await client.credits.balance();
      expect(balance.status).toBe(200);
      expect(fakes.ledger.requests[before]!.headers.authorization).toBe('Bearer jwt.credits-ledger.usr_carol');
      expect(fakes.ledger.requests[before]!.headers.cookie).toBe('locale=zh');
      expect(balance.rateLimit).toMatchObject({ policy: 'read', limit: 1200, windowSeconds: 60 });
      await client.auth.logout();
      expect(client.signedIn).toBe(false);
    } finally {
      await client.close();
    }
  });

  it('surfaces a 429 as ApiError with the code and Retry-After', async () => {
    const client = new ImlabClient({ baseUrl: gw.url, origin: 'https://app.imlab.test' });
    try {
      await client.auth.login({ email: 'dave@imlab.test', password: 'pw' });
      await client.generations.create({ prompt: 'one' });
      await client.generations.create({ prompt: 'two' });
      const err = await client.generations.create({ prompt: 'three' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect(err).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
      expect((err as ApiError).retryAfter).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });

  it('reads generation events as they stream', async () => {
    fakes.generation.on('GET', /^\/v1\/generations\/[^/]+\/events$/, async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: status\ndata: {"status":"running"}\n\n');
      await new Promise((r) => setTimeout(r, 100));
      res.end('event: status\ndata: {"status":"succeeded"}\n\n');
    });
    const client = new ImlabClient({ baseUrl: gw.url });
    try {
      const events = [];
      for await (const e of client.generationEvents('gen_1')) events.push(e);
      expect(events).toEqual([
        { event: 'status', data: '{"status":"running"}' },
        { event: 'status', data: '{"status":"succeeded"}' },
      ]);
    } finally {
      await client.close();
    }
  });
});
