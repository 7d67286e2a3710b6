import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, ipHash, settle, startAuth, type TestAuth } from './helpers.js';

let t: TestAuth;
beforeAll(async () => {
  t = await startAuth('auth_redis_privacy');
  // as main.ts does: messages go from the outbox to BullMQ, where their payloads sit in Redis
  await t.ctx.bus.startRelay();
});
afterAll(async () => t?.close());

/** Every key of this test's prefix with everything it holds, as text. */
async function dumpRedis(): Promise<{ key: string; text: string }[]> {
  const redis = t.ctx.bus.redis;
  const keys = await redis.keys(`${t.ctx.bus.prefix}*`);
  const out: { key: string; text: string }[] = [];
  for (const key of keys) {
    const type = await redis.type(key);
    let value: unknown;
    if (type === 'string') value = await redis.get(key);
    else if (type === 'hash') value = await redis.hgetall(key);
    else if (type === 'list') value = await redis.lrange(key, 0, -1);
    else if (type === 'set') value = await redis.smembers(key);
    else if (type === 'zset') value = await redis.zrange(key, 0, -1, 'WITHSCORES');
    else if (type === 'stream') value = await redis.xrange(key, '-', '+');
    out.push({ key, text: JSON.stringify(value) });
  }
  return out;
}

describe('nothing naming a person lingers in Redis', () => {
  it('after a sign-up, a failed login and a mail sent, no key or value holds the address (or its plain hash)', async () => {
    const email = 'Linger.Person@Example.com';
    const lower = email.toLowerCase();
    expect((await call(t.url, 'POST', '/v1/auth/signup', { body: { email, password: 'correct horse battery staple', displayName: 'Linger' }, headers: { 'x-imlab-ip-hash': ipHash() } })).status).toBe(202);
    expect((await call(t.url, 'POST', '/v1/auth/login', { body: { email, password: 'not the password at all' } })).status).toBe(401);
    await settle(t);
    // The relay publishes user.registered and email.send to BullMQ (their payloads sit in Redis).
    const deadline = Date.now() + 10_000;
    let dump = await dumpRedis();
    while (!['email.send', 'user.registered'].every((n) => dump.some((d) => d.text.includes(`"name":"${n}"`) || d.text.includes(`\\"name\\":\\"${n}\\"`))) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      dump = await dumpRedis();
    }
    expect(dump.some((d) => d.text.includes('email.send'))).toBe(true);
    expect(dump.some((d) => d.key.includes('login-fail'))).toBe(true);
    const plainHash = createHash('sha256').update(`login:${lower}`).digest('hex');
    for (const { key, text } of dump) {
      for (const needle of [lower, email, plainHash, encodeURIComponent(lower)]) {
        expect(key.toLowerCase(), `key ${key}`).not.toContain(needle.toLowerCase());
        expect(text.toLowerCase(), `value of ${key}`).not.toContain(needle.toLowerCase());
      }
    }
  });
});
