import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Agent } from 'undici';
import { refreshLeadMs, SessionResolver } from '../src/session/sessions.js';

/** An auth stand-in whose answers can be held back until the test lets them go. */
let server: Server;
let authUrl: string;
let asked: string[] = [];
let hold: Promise<void> = Promise.resolve();
let valid = new Set<string>();
let failNext = false;
const dispatcher = new Agent();

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { token, audience } = JSON.parse(Buffer.concat(chunks).toString()) as { token: string; audience: string };
      asked.push(`${token}:${audience}`);
      // decided when the question arrives, sent when the test lets it go
      const status = failNext ? 500 : valid.has(token) ? 200 : 401;
      failNext = false;
      void hold.then(() => {
        if (status !== 200) res.writeHead(status).end();
        else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `jwt.${audience}`, userId: `usr_${token}`, roles: ['user'], expiresIn: 60 }));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  authUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await dispatcher.close();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  asked = [];
  hold = Promise.resolve();
  valid = new Set(['alice', 'bob']);
  failNext = false;
});

const resolver = () => new SessionResolver({ authUrl, internalToken: 'test-internal-token-0123456789', timeoutMs: 2000, cacheTtlMs: 5000, dispatcher });
/** The next request for `token` would have to ask auth (the lookup it starts is let run to its end). */
async function notCached(r: SessionResolver, token: string): Promise<boolean> {
  const next = r.resolve(token, 'ledger');
  await next;
  return next instanceof Promise;
}
async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(ok()).toBe(true);
}
function held(): () => void {
  let release!: () => void;
  hold = new Promise((r) => (release = r));
  return release;
}

describe('SessionResolver', () => {
  it('asks auth once for any number of concurrent lookups of the same cookie', async () => {
    const r = resolver();
    const release = held();
    const lookups = Array.from({ length: 50 }, () => r.resolve('alice', 'ledger'));
    // a request arriving meanwhile joins the lookup under way instead of asking again
    const joined = r.resolve('alice', 'ledger');
    expect(joined).toBe(lookups[0]);
    release();
    const results = await Promise.all([...lookups, joined]);
    expect(new Set(results.map((x) => JSON.stringify(x))).size).toBe(1);
    expect(results[0]).toMatchObject({ kind: 'session', session: { userId: 'usr_alice', token: 'jwt.ledger' } });
    expect(asked).toEqual(['alice:ledger']);
    // then answered from the cache, not a promise
    expect(r.resolve('alice', 'ledger')).toMatchObject({ kind: 'session', session: { userId: 'usr_alice' } });
  });

  it('keeps cookies and audiences apart', async () => {
    const r = resolver();
    const results = await Promise.all([r.resolve('alice', 'ledger'), r.resolve('alice', 'generation'), r.resolve('bob', 'ledger'), r.resolve('mallory', 'ledger')]);
    expect(results.map((x) => (x.kind === 'session' ? `${x.session.userId}/${x.session.token}` : x.kind))).toEqual([
      'usr_alice/jwt.ledger',
      'usr_alice/jwt.generation',
      'usr_bob/jwt.ledger',
      'anonymous',
    ]);
    expect(asked.sort()).toEqual(['alice:generation', 'alice:ledger', 'bob:ledger', 'mallory:ledger']);
  });

  it('does not keep an answer that was under way when the cookie was logged out, and asks afresh after', async () => {
    const r = resolver();
    const release = held();
    const before = r.resolve('alice', 'ledger');
    await until(() => asked.length === 1); // auth has the question; its answer says "session"
    r.forgetToken('alice');
    valid.delete('alice');
    const after = r.resolve('alice', 'ledger');
    release();
    expect((await before).kind).toBe('session'); // auth's answer to a question asked before the logout
    expect(await after).toEqual({ kind: 'anonymous' });
    expect(asked).toEqual(['alice:ledger', 'alice:ledger']);
    expect(r.resolve('alice', 'ledger')).toEqual({ kind: 'anonymous' }); // remembered, not a promise
  });

  it('does not keep an answer under way when one of the user’s sessions is revoked everywhere', async () => {
    const r = resolver();
    const release = held();
    const pending = r.resolve('bob', 'ledger');
    await until(() => asked.length === 1);
    r.forgetUser('usr_bob');
    release();
    await pending;
    expect(await notCached(r, 'bob')).toBe(true);
  });

  it('does not remember that auth could not answer: the next request asks again', async () => {
    const r = resolver();
    failNext = true;
    const [a, b] = await Promise.all([r.resolve('alice', 'ledger'), r.resolve('alice', 'ledger')]);
    expect(a).toEqual({ kind: 'unavailable' });
    expect(b).toEqual({ kind: 'unavailable' });
    const again = r.resolve('alice', 'ledger');
    expect(again).toBeInstanceOf(Promise);
    expect(await again).toMatchObject({ kind: 'session' });
    expect(asked).toEqual(['alice:ledger', 'alice:ledger']);
  });

  it('runs the admission check once per shared lookup, and shares its refusal', async () => {
    const r = resolver();
    let admitted = 0;
    const admit = async () => {
      admitted++;
      await new Promise((done) => setTimeout(done, 10));
    };
    await Promise.all(Array.from({ length: 20 }, () => r.resolve('alice', 'ledger', admit)));
    expect(admitted).toBe(1);

    const refusal = new Error('over budget');
    const refuse = async () => {
      admitted++;
      await Promise.resolve();
      throw refusal;
    };
    const refused = await Promise.allSettled(Array.from({ length: 5 }, () => r.resolve('bob', 'ledger', refuse)));
    expect(refused.every((x) => x.status === 'rejected' && x.reason === refusal)).toBe(true);
    expect(admitted).toBe(2);
    expect(asked).toEqual(['alice:ledger']); // auth never asked about bob
    // nothing remembered: the next request tries again
    const again = r.resolve('bob', 'ledger', admit);
    expect(again).toBeInstanceOf(Promise);
    expect(await again).toMatchObject({ kind: 'session' });
  });
  it('refreshes a session in use in the background before its entry runs out, never serving it past its expiry', async () => {
    const ttl = 400; // refreshed ahead in its last 80 ms
    const r = new SessionResolver({ authUrl, internalToken: 'test-internal-token-0123456789', timeoutMs: 2000, cacheTtlMs: ttl, dispatcher });
    let admitted = 0;
    const admit = async () => void admitted++;
    await r.resolve('alice', 'ledger', admit);
    expect(asked).toEqual(['alice:ledger']);
    // early in its life: the cached answer, nothing asked
    expect(r.resolve('alice', 'ledger', admit)).not.toBeInstanceOf(Promise);
    await new Promise((done) => setTimeout(done, ttl - refreshLeadMs(ttl) + 20));
    // in the refresh window: still answered at once, and one lookup (one admission) starts behind it
    const release = held();
    expect(r.resolve('alice', 'ledger', admit)).toMatchObject({ kind: 'session', session: { userId: 'usr_alice' } });
    expect(r.resolve('alice', 'ledger', admit)).not.toBeInstanceOf(Promise);
    await until(() => asked.length === 2);
    expect(admitted).toBe(2);
    // auth slower than the entry's remaining life: past its expiry the entry is not used, requests join the lookup
    await new Promise((done) => setTimeout(done, refreshLeadMs(ttl)));
    const joined = r.resolve('alice', 'ledger', admit);
    expect(joined).toBeInstanceOf(Promise);
    release();
    expect(await joined).toMatchObject({ kind: 'session' });
    // the refreshed entry answers from the cache, and nothing more was asked
    expect(r.resolve('alice', 'ledger', admit)).not.toBeInstanceOf(Promise);
    expect(asked).toEqual(['alice:ledger', 'alice:ledger']);
    expect(admitted).toBe(2);
  });

  it('does not keep a background refresh that was under way when the cookie was logged out', async () => {
    const ttl = 400;
    const r = new SessionResolver({ authUrl, internalToken: 'test-internal-token-0123456789', timeoutMs: 2000, cacheTtlMs: ttl, dispatcher });
    await r.resolve('alice', 'ledger');
    await new Promise((done) => setTimeout(done, ttl - refreshLeadMs(ttl) + 20));
    const release = held();
    expect(r.resolve('alice', 'ledger')).not.toBeInstanceOf(Promise);
    await until(() => asked.length === 2);
    r.forgetToken('alice');
    release();
    await new Promise((done) => setTimeout(done, 20));
    expect(await notCached(r, 'alice')).toBe(true);
  });
});
