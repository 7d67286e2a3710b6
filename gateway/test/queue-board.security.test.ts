import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { QUEUES } from '@imlab/contracts';
import { connectRedis, queuePrefix, type Redis } from '@imlab/queue';
import { testPrefix } from '@imlab/testing';
import { closeClients, send, startFakes, startGateway, type Fakes, type RunningGateway } from './helpers.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const QUEUE_PREFIX = testPrefix('board');
const ORIGIN = 'https://app.imlab.test';

let fakes: Fakes;
let gw: RunningGateway;
let redis: Redis;
let notification: Queue;
let generation: Queue;
let delayedId: string;

const OPS = 'sid-ops-0123456789';
const ADMIN = 'sid-admin-0123456789';
const USER = 'sid-user-0123456789';
const FINANCE = 'sid-finance-0123456789';
const cookie = (sid: string) => ({ cookie: `imlab_sid=${sid}` });

beforeAll(async () => {
  fakes = await startFakes();
  const people: [string, string, string[]][] = [
    [OPS, '00000000-0000-4000-8000-0000000000a1', ['user', 'ops']],
    [ADMIN, '00000000-0000-4000-8000-0000000000a2', ['user', 'admin']],
    [USER, '00000000-0000-4000-8000-0000000000a3', ['user']],
    [FINANCE, '00000000-0000-4000-8000-0000000000a4', ['user', 'finance']],
  ];
  for (const [sid, userId, roles] of people) {
    fakes.auth.sessions.set(sid, userId);
    fakes.auth.roles.set(userId, roles);
  }
  redis = connectRedis(REDIS_URL, 'board-test');
  notification = new Queue('notification', { connection: redis, prefix: queuePrefix(QUEUE_PREFIX) });
  generation = new Queue('generation', { connection: redis, prefix: queuePrefix(QUEUE_PREFIX) });
  await notification.add('email.send', { template: 'welcome', to: 'someone@example.test' }, { jobId: 'n-1' });
  await notification.add('email.send', { template: 'receipt', to: 'someone@example.test' }, { jobId: 'n-2' });
  delayedId = (await generation.add('generation.expire-holds', { at: 1 }, { jobId: 'g-1', delay: 3_600_000 })).id!;
  gw = await startGateway(fakes, { QUEUE_PREFIX });
});
afterAll(async () => {
  await gw?.close();
  await notification?.obliterate({ force: true });
  await generation?.obliterate({ force: true });
  await notification?.close();
  await generation?.close();
  redis?.disconnect();
  await fakes?.close();
  await closeClients();
});

const board = (path = '', opts: Parameters<typeof send>[1] = {}) => send(`${gw.url}/admin/queues${path}`, opts);

describe('who may see the queue board', () => {
  it('answers 401 problem+json without a session, and with a cookie auth does not know', async () => {
    for (const path of ['', '/api/queues', '/queue/notification']) {
      const anonymous = await board(path);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers['content-type']).toContain('application/problem+json');
      expect(anonymous.json()).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
      expect(anonymous.text).not.toContain('someone@example.test');
    }
    const unknown = await board('/api/queues', { headers: cookie('sid-nobody-0123456789') });
    expect(unknown.status).toBe(401);
  });

  it.each([
    ['user', USER],
    ['finance', FINANCE],
  ])('answers 403 to a signed-in %s, without any job data', async (_role, sid) => {
    for (const path of ['', '/api/queues?activeQueue=notification&status=waiting', '/api/queues/notification/n-1']) {
      const res = await board(path, { headers: cookie(sid) });
      expect(res.status).toBe(403);
      expect(res.json()).toMatchObject({ status: 403, code: 'FORBIDDEN' });
      expect(res.text).not.toContain('someone@example.test');
    }
  });

  it('serves the board page to ops and admin, with a policy that lets only its own scripts run', async () => {
    for (const sid of [OPS, ADMIN]) {
      const page = await board('', { headers: cookie(sid) });
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toContain('text/html');
      expect(page.text).toContain('<base href="/admin/queues/"');
      expect(page.headers['content-security-policy']).toContain("script-src 'self'");
      expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(page.headers['cache-control']).toBe('no-store');
      const script = /src="(static\/js\/main\.[^"]+\.js)"/.exec(page.text)![1]!;
      const asset = await board(`/${script}`, { headers: cookie(sid) });
      expect(asset.status).toBe(200);
      expect(asset.headers['content-type']).toContain('javascript');
    }
    // the static assets are behind the same door
    const page = await board('', { headers: cookie(OPS) });
    const script = /src="(static\/js\/main\.[^"]+\.js)"/.exec(page.text)![1]!;
    expect((await board(`/${script}`)).status).toBe(401);
  });
});

describe('what ops see', () => {
  it('lists every queue of the system with its real counts', async () => {
    const res = await board('/api/queues', { headers: cookie(OPS) });
    expect(res.status).toBe(200);
    const body = res.json() as { queues: { name: string; counts: Record<string, number>; readOnlyMode: boolean }[] };
    expect(body.queues.map((q) => q.name).sort()).toEqual([...QUEUES].sort());
    const byName = new Map(body.queues.map((q) => [q.name, q]));
    expect(byName.get('notification')!.counts).toMatchObject({ waiting: 2, delayed: 0, failed: 0 });
    expect(byName.get('generation')!.counts).toMatchObject({ waiting: 0, delayed: 1 });
    expect(byName.get('billing')!.counts).toMatchObject({ waiting: 0, delayed: 0, active: 0 });
    expect(body.queues.every((q) => q.readOnlyMode)).toBe(true);
  });

  it('shows ops the jobs of a queue', async () => {
    const res = await board('/api/queues?activeQueue=notification&status=waiting&page=1', { headers: cookie(OPS) });
    expect(res.status).toBe(200);
    const queue = (res.json() as { queues: { name: string; jobs: { id: string; name: string }[] }[] }).queues.find((q) => q.name === 'notification')!;
    expect(queue.jobs.map((j) => j.id).sort()).toEqual(['n-1', 'n-2']);
  });
});

describe('the board changes nothing', () => {
  const writes: [string, string][] = [
    ['PUT', `/api/queues/generation/g-1/promote`],
    ['PUT', '/api/queues/notification/retry/failed'],
    ['PUT', '/api/queues/notification/clean/waiting'],
    ['PUT', '/api/queues/notification/empty'],
    ['PUT', '/api/queues/pause'],
    ['POST', '/api/queues/notification/add'],
  ];

  it.each(writes)('%s %s from a foreign origin is refused by the CSRF check', async (method, path) => {
    const res = await board(path, { method, headers: { ...cookie(OPS), origin: 'https://evil.test', 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(403);
    expect(res.json()).toMatchObject({ code: 'GATEWAY_CSRF_REJECTED' });
  });

  it.each(writes)('%s %s with a cookie but no Origin or Fetch Metadata is refused by the CSRF check', async (method, path) => {
    const res = await board(path, { method, headers: cookie(OPS) });
    expect(res.status).toBe(403);
    expect(res.json()).toMatchObject({ code: 'GATEWAY_CSRF_REJECTED' });
  });

  it.each(writes)('%s %s from the app origin, by ops, answers 405: the board is read-only', async (method, path) => {
    const res = await board(path, { method, headers: { ...cookie(OPS), origin: ORIGIN, 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    expect(res.json()).toMatchObject({ code: 'GATEWAY_READ_ONLY' });
  });

  it('left every job where it was', async () => {
    expect(await (await generation.getJob(delayedId))!.getState()).toBe('delayed');
    expect(await notification.getJobCounts('waiting', 'completed', 'failed')).toEqual({ waiting: 2, completed: 0, failed: 0 });
    expect(await notification.isPaused()).toBe(false);
  });

  it('answers an anonymous write 401, never 405', async () => {
    const res = await board('/api/queues/notification/empty', { method: 'PUT' });
    expect(res.status).toBe(401);
  });
});
