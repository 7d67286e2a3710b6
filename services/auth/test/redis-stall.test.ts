import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@imlab/testing';
import { call, INTERNAL_TOKEN, ipHash, signedInUser, startAuth, type TestAuth } from './helpers.js';

// A Redis of this test's own: CLIENT PAUSE stops every client of a server, and the shared one
// serves the other test files.
let server: ChildProcess;
let url: string;
let t: TestAuth;
let control: Redis;

beforeAll(async () => {
  const port = await freePort();
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  url = `redis://127.0.0.1:${port}`;
  control = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  control.on('error', () => {}); // refused while the server starts
  for (let i = 0; ; i++) {
    try {
      await control.connect();
      await control.ping();
      break;
    } catch {
      if (i > 50) throw new Error('redis-server did not start');
      control.disconnect();
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  t = await startAuth('auth_redis_stall', { REDIS_URL: url, AUTH_REDIS_TIMEOUT_MS: '250' });
});
afterAll(async () => {
  await control?.call('CLIENT', 'UNPAUSE').catch(() => undefined);
  await t?.close();
  control?.disconnect();
  server?.kill();
});

const resolve = (sid: string) => call(t.url, 'POST', '/internal/sessions/resolve', { body: { token: sid, audience: 'generation' }, headers: { 'x-imlab-internal-token': INTERNAL_TOKEN } });
async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const started = Date.now();
  const result = await fn();
  return { ms: Date.now() - started, result };
}

describe('auth while Redis stalls (CLIENT PAUSE)', () => {
  it('resolves sessions from Postgres within the bound, and refuses credential routes with 503 instead of waiting', async () => {
    const { sid } = await signedInUser(t, 'stall@example.com');
    const { sid: cold } = await signedInUser(t, 'stall-cold@example.com');
    expect((await resolve(sid)).status).toBe(200); // cached in Redis now
    await control.call('CLIENT', 'PAUSE', '5000', 'ALL');
    try {
      const warm = await timed(() => resolve(sid));
      expect(warm.result.status).toBe(200);
      expect(warm.ms).toBeLessThan(1500);
      const coldAnswer = await timed(() => resolve(cold));
      expect(coldAnswer.result.status).toBe(200);
      expect(coldAnswer.ms).toBeLessThan(1500);
      const unknown = await timed(() => resolve('x'.repeat(43)));
      expect(unknown.result.status).toBe(401);

      const login = await timed(() => call(t.url, 'POST', '/v1/auth/login', { body: { email: 'stall@example.com', password: 'correct horse battery staple' } }));
      expect(login.result.status).toBe(503);
      expect(login.result.body.code).toBe('SERVICE_UNAVAILABLE');
      expect(login.ms).toBeLessThan(1500);
      const signup = await timed(() => call(t.url, 'POST', '/v1/auth/signup', { body: { email: 'stall-new@example.com', password: 'correct horse battery staple' }, headers: { 'x-imlab-ip-hash': ipHash() } }));
      expect(signup.result.status).toBe(503);
      expect(signup.ms).toBeLessThan(1500);
    } finally {
      await control.call('CLIENT', 'UNPAUSE');
    }
    // and back to normal once Redis answers
    expect((await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'stall@example.com', password: 'correct horse battery staple' } })).status).toBe(200);
  });
});
