import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeClients, send, startFakes, startGateway, type Fakes, type RunningGateway } from './helpers.js';

let fakes: Fakes;
let gw: RunningGateway;

beforeAll(async () => {
  fakes = await startFakes();
  fakes.auth.sessions.set('sid-redis-down', 'usr_rd');
  // Nothing listens on port 1: every rate-limit decision finds Redis down.
  gw = await startGateway(fakes, { REDIS_URL: 'redis://127.0.0.1:1', RATE_LIMIT_READ: '5/1h', RATE_LIMIT_REDIS_TIMEOUT_MS: '250' });
});
afterAll(async () => {
  await gw?.close();
  await fakes?.close();
  await closeClients();
});

describe('when Redis is down', () => {
  it('fails closed on auth routes: 503 problem+json with Retry-After, quickly, service untouched', async () => {
    const before = fakes.auth.requests.length;
    const started = Date.now();
    const res = await send(`${gw.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect(fakes.auth.requests.length).toBe(before);
  });

  it('fails closed on generation creation', async () => {
    const res = await send(`${gw.url}/v1/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: 'imlab_sid=sid-redis-down', origin: 'https://app.imlab.test' },
      body: '{"prompt":"x"}',
    });
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
  });

  it('fails open on reads, still limited by the local in-memory limiter', async () => {
    const statuses = [];
    for (let i = 0; i < 7; i++) statuses.push((await send(`${gw.url}/v1/gallery`, { from: '127.0.0.51' })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
  });

  it('does not pile decisions up: 100 concurrent requests all answer in a few seconds, not when Redis returns', async () => {
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        i % 2
          ? send(`${gw.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', from: '127.0.0.52' })
          : send(`${gw.url}/v1/pricing`, { from: `127.0.0.${60 + (i % 20)}` }),
      ),
    );
    expect(Date.now() - started).toBeLessThan(5000); // piled up one after another, 50 × 250 ms would be 12.5 s
    expect(answers.filter((_, i) => i % 2).every((a) => a.status === 503)).toBe(true);
    expect(answers.filter((_, i) => !(i % 2)).every((a) => a.status === 200)).toBe(true);
  });

  it('counts both kinds of degraded decision in /metrics and reports not ready', async () => {
    const metrics = (await send(`${gw.metricsUrl}/metrics`)).text;
    expect(metrics).toMatch(/imlab_gateway_rate_limit_decisions_total\{[^}]*policy="auth"[^}]*decision="fail_closed"[^}]*\} \d+/);
    expect(metrics).toMatch(/imlab_gateway_rate_limit_decisions_total\{[^}]*policy="read"[^}]*decision="fail_open_local"[^}]*\} \d+/);
    const ready = await send(`${gw.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.json()).toMatchObject({ status: 'unavailable', checks: { auth: 'ok', billing: 'ok' } });
    expect((ready.json().checks as Record<string, string>).redis).not.toBe('ok');
  });
});
