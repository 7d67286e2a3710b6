import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@imlab/testing';
import { probeBucket } from '../src/rate-limit/policies.js';
import { hmacHex } from '../src/identity/hash.js';
import { closeClients, send, startFakes, startGateway, type Fakes, type RunningGateway } from './helpers.js';

let fakes: Fakes;

beforeAll(async () => {
  fakes = await startFakes();
});
afterAll(async () => {
  await fakes?.close();
  await closeClients();
});

/** A gateway of its own per test (own Redis prefix), with a login limit of 10 per hour: no refill mid-test. */
/** What is left of a 404 budget, read without spending (the IP's, or the IP's and a user's). */
async function notFoundLeft(gw: RunningGateway, ip: string, userId?: string): Promise<number> {
  const bucket = probeBucket(gw.config, { ipHash: hmacHex(gw.config.IP_HASH_SECRET, 'ip', ip), previousIpHash: undefined, userId });
  const outcome = await gw.gateway.limiter.decide([{ ...bucket, cost: 0 }], false);
  return outcome.source === 'unavailable' ? -1 : outcome.buckets[0]!.remaining;
}

async function gatewayWith(env: Record<string, string> = {}): Promise<RunningGateway> {
  return startGateway(fakes, { RATE_LIMIT_AUTH: '10/1h', RATE_LIMIT_GENERATION: '3/1h', ...env });
}

const login = (gw: RunningGateway, opts: { from?: string; headers?: Record<string, string>; path?: string } = {}) =>
  send(gw.url + (opts.path ?? '/v1/auth/login'), {
    method: 'POST',
    from: opts.from,
    headers: { 'content-type': 'application/json', ...opts.headers },
    body: '{"email":"a@b.test","password":"x"}',
  });

describe('POST /v1/auth/login rate limit', () => {
  it('admits exactly 10 of 200 parallel requests against a limit of 10', async () => {
    // a generous Redis timeout: on a loaded test machine 200 decisions at once must not turn into 503s
    const gw = await gatewayWith({ RATE_LIMIT_REDIS_TIMEOUT_MS: '2000' });
    try {
      const before = fakes.auth.requests.filter((r) => r.url === '/v1/auth/login').length;
      const answers = await Promise.all(Array.from({ length: 200 }, () => login(gw, { from: '127.0.0.21' })));
      const ok = answers.filter((a) => a.status === 200).length;
      const limited = answers.filter((a) => a.status === 429);
      expect(ok).toBe(10);
      expect(limited).toHaveLength(190);
      expect(fakes.auth.requests.filter((r) => r.url === '/v1/auth/login').length - before).toBe(10);
      const sample = limited[0]!;
      expect(sample.headers['content-type']).toContain('application/problem+json');
      expect(sample.json()).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
      expect(Number(sample.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(sample.headers['ratelimit-policy']).toBe('"auth";q=10;w=3600');
      expect(sample.headers.ratelimit).toMatch(/^"auth";r=0;t=\d+$/);
    } finally {
      await gw.close();
    }
  });

  it('tells the client what is left on every admitted answer', async () => {
    const gw = await gatewayWith();
    try {
      const first = await login(gw, { from: '127.0.0.22' });
      const second = await login(gw, { from: '127.0.0.22' });
      expect(first.headers.ratelimit).toMatch(/^"auth";r=9;t=\d+$/);
      expect(second.headers.ratelimit).toMatch(/^"auth";r=8;t=\d+$/);
    } finally {
      await gw.close();
    }
  });

  it('ignores forwarding headers from an untrusted peer: spoofing X-Forwarded-For buys no quota', async () => {
    const gw = await gatewayWith({ TRUSTED_PROXIES: '10.0.0.0/8' });
    try {
      const answers = [];
      for (let i = 0; i < 15; i++) {
        answers.push(await login(gw, { from: '127.0.0.23', headers: { 'x-forwarded-for': `198.51.100.${i}`, 'x-real-ip': `198.51.100.${i}`, forwarded: `for=198.51.100.${i}` } }));
      }
      expect(answers.filter((a) => a.status === 200)).toHaveLength(10);
      expect(answers.filter((a) => a.status === 429)).toHaveLength(5);
    } finally {
      await gw.close();
    }
  });

  it('behind a trusted proxy keys by the right-most untrusted hop, whatever the client prepends', async () => {
    const gw = await gatewayWith({ TRUSTED_PROXIES: '127.0.0.24' });
    try {
      const viaProxy = (chain: string) => login(gw, { from: '127.0.0.24', headers: { 'x-forwarded-for': chain } });
      const a = [];
      // one real client 203.0.113.7 forging a different left-most entry on every request
      for (let i = 0; i < 12; i++) a.push(await viaProxy(`10.9.9.${i}, 203.0.113.7`));
      expect(a.filter((x) => x.status === 200)).toHaveLength(10);
      // a different real client behind the same proxy has its own bucket
      expect((await viaProxy('203.0.113.8')).status).toBe(200);
    } finally {
      await gw.close();
    }
  });

  it('reads an X-Forwarded-For sent as several header lines as one chain (the right-most untrusted hop still decides)', async () => {
    const gw = await gatewayWith({ TRUSTED_PROXIES: '127.0.0.27' });
    const body = '{"email":"a@b.test","password":"x"}';
    /** A login through the trusted proxy, the chain split over two header lines (the client's forged part first). */
    const viaProxy = (forged: string, real: string) =>
      new Promise<number>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: Number(new URL(gw.url).port), localAddress: '127.0.0.27' }, () =>
          socket.write(
            `POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n` +
              `X-Forwarded-For: ${forged}\r\nX-Forwarded-For: ${real}\r\nConnection: close\r\n\r\n${body}`,
          ),
        );
        let data = '';
        socket.on('data', (d) => (data += String(d)));
        socket.on('error', reject);
        socket.on('close', () => resolve(Number(data.split(' ')[1])));
      });
    try {
      const statuses = [];
      for (let i = 0; i < 12; i++) statuses.push(await viaProxy(`10.8.8.${i}`, '203.0.113.17'));
      expect(statuses.filter((s) => s === 200)).toHaveLength(10);
      expect(statuses.filter((s) => s === 429)).toHaveLength(2);
    } finally {
      await gw.close();
    }
  });

  it('does not give new quota to a rotated user agent', async () => {
    const gw = await gatewayWith();
    try {
      const answers = [];
      for (let i = 0; i < 14; i++) answers.push(await login(gw, { from: '127.0.0.25', headers: { 'user-agent': `Mozilla/5.0 rotation-${i}` } }));
      expect(answers.filter((a) => a.status === 200)).toHaveLength(10);
      // another address is another client
      expect((await login(gw, { from: '127.0.0.26' })).status).toBe(200);
    } finally {
      await gw.close();
    }
  });

  it('counts every spelling of the path in the same bucket', async () => {
    const gw = await gatewayWith();
    try {
      const variants = [
        '/v1/auth/login',
        '/v1//auth/login',
        '/v1/auth/login/',
        '/v1/./auth/login',
        '/v1/auth/x/../login',
        '/v1/auth/%6cogin',
        '/v1/auth/%2e/login',
        '/v1/%61uth/login',
        '//v1/auth//login',
        '/v1/auth/login?x=1',
      ];
      const answers = [];
      for (const path of variants) answers.push(await login(gw, { from: '127.0.0.27', path }));
      expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
      for (const path of variants) expect((await login(gw, { from: '127.0.0.27', path })).status).toBe(429);
      // every one that went through reached the service under the canonical path
      const urls = fakes.auth.requests.slice(-10).map((r) => r.url.split('?')[0]);
      expect(new Set(urls)).toEqual(new Set(['/v1/auth/login']));
    } finally {
      await gw.close();
    }
  });
});

describe('IP_HASH_SECRET rotation', () => {
  it('keeps counting a client whose buckets were keyed under the previous secret', async () => {
    const old = await gatewayWith({ IP_HASH_SECRET: 'old-secret-0123456789abcdef' });
    const prefix = old.config.RATE_LIMIT_PREFIX;
    try {
      for (let i = 0; i < 10; i++) expect((await login(old, { from: '127.0.0.28' })).status).toBe(200);
    } finally {
      await old.close();
    }
    const rotated = await gatewayWith({ RATE_LIMIT_PREFIX: prefix, IP_HASH_SECRET: 'new-secret-0123456789abcdef', IP_HASH_SECRET_PREVIOUS: 'old-secret-0123456789abcdef' });
    const forgotten = await gatewayWith({ RATE_LIMIT_PREFIX: prefix, IP_HASH_SECRET: 'new-secret-0123456789abcdef' });
    try {
      expect((await login(rotated, { from: '127.0.0.28' })).status).toBe(429);
      // without the previous secret the same client would have been handed a fresh quota
      expect((await login(forgotten, { from: '127.0.0.28' })).status).toBe(200);
    } finally {
      await rotated.close();
      await forgotten.close();
    }
  });
});

describe('POST /v1/generations rate limit', () => {
  it('limits per user across addresses and per address across users', async () => {
    fakes.auth.sessions.set('sid-gen-user-1', 'usr_gen1');
    fakes.auth.sessions.set('sid-gen-user-2', 'usr_gen2');
    const gw = await gatewayWith();
    const create = (sid: string, from: string) =>
      send(`${gw.url}/v1/generations`, {
        method: 'POST',
        from,
        headers: { 'content-type': 'application/json', cookie: `imlab_sid=${sid}`, origin: 'https://app.imlab.test' },
        body: '{"prompt":"x"}',
      });
    try {
      // one user hopping over three addresses: 3 per hour in total
      const hops = [];
      for (const from of ['127.0.0.31', '127.0.0.32', '127.0.0.33', '127.0.0.34']) hops.push((await create('sid-gen-user-1', from)).status);
      expect(hops).toEqual([200, 200, 200, 429]);
      // many users on one address: that address gets 3 in total (127.0.0.31 spent 1 already)
      const shared = [];
      shared.push((await create('sid-gen-user-2', '127.0.0.31')).status);
      shared.push((await create('sid-gen-user-2', '127.0.0.31')).status);
      shared.push((await create('sid-gen-user-2', '127.0.0.31')).status);
      expect(shared).toEqual([200, 200, 429]);
    } finally {
      await gw.close();
    }
  });
});

describe('session cookie floods', () => {
  it('lets one address have only so many unknown cookies resolved by auth', async () => {
    const gw = await gatewayWith({ RATE_LIMIT_SESSION_RESOLVE: '3/1h' });
    try {
      const before = fakes.auth.resolves.length;
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await send(`${gw.url}/v1/credits/balance`, { from: '127.0.0.45', headers: { cookie: `imlab_sid=made-up-${i}` } })).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
      expect(fakes.auth.resolves.length - before).toBe(3);
      // The refusal says which budget and when it refills, like every other 429.
      const refused = await send(`${gw.url}/v1/credits/balance`, { from: '127.0.0.45', headers: { cookie: 'imlab_sid=made-up-again' } });
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toMatch(/^\d+$/);
      expect(refused.headers['ratelimit-policy']).toBe('"session-resolve";q=3;w=3600');
      expect(refused.headers.ratelimit).toMatch(/^"session-resolve";r=0;t=\d+$/);
      expect(refused.json()).not.toHaveProperty('rateLimit');
      // a real session already resolved is reused and spends nothing from that budget
      fakes.auth.sessions.set('sid-flood-ok', 'usr_flood');
      const other = [];
      for (let i = 0; i < 5; i++) other.push((await send(`${gw.url}/v1/credits/balance`, { from: '127.0.0.46', headers: { cookie: 'imlab_sid=sid-flood-ok' } })).status);
      expect(other).toEqual([200, 200, 200, 200, 200]);
    } finally {
      await gw.close();
    }
  });

  it('asks auth once, and spends once, for a burst of parallel requests with the same new cookie', async () => {
    const gw = await gatewayWith({ RATE_LIMIT_SESSION_RESOLVE: '3/1h' });
    try {
      fakes.auth.sessions.set('sid-burst', 'usr_burst');
      const before = fakes.auth.resolves.filter((r) => r.token === 'sid-burst').length;
      const answers = await Promise.all(
        Array.from({ length: 30 }, () => send(`${gw.url}/v1/credits/balance`, { from: '127.0.0.47', headers: { cookie: 'imlab_sid=sid-burst' } })),
      );
      expect(answers.map((a) => a.status)).toEqual(Array<number>(30).fill(200));
      expect(fakes.auth.resolves.filter((r) => r.token === 'sid-burst').length - before).toBe(1);
      // the other two units of the budget are still there
      const made = [];
      for (let i = 0; i < 3; i++) made.push((await send(`${gw.url}/v1/credits/balance`, { from: '127.0.0.47', headers: { cookie: `imlab_sid=burst-made-up-${i}` } })).status);
      expect(made).toEqual([200, 200, 429]);
    } finally {
      await gw.close();
    }
  });
});

describe('404 probing', () => {
  it('limits an address that keeps hitting unknown paths, also on known routes', async () => {
    const gw = await gatewayWith({ RATE_LIMIT_NOT_FOUND: '5/1h' });
    try {
      const statuses = [];
      for (let i = 0; i < 7; i++) statuses.push((await send(`${gw.url}/wp-admin/${i}.php`, { from: '127.0.0.41' })).status);
      expect(statuses).toEqual([404, 404, 404, 404, 404, 429, 429]);
      const probe = await send(`${gw.url}/wp-admin/again.php`, { from: '127.0.0.41' });
      expect(probe.headers['ratelimit-policy']).toBe('"not-found";q=5;w=3600');
      expect(probe.headers.ratelimit).toMatch(/^"not-found";r=0;t=\d+$/);
      // the prober is refused on real routes too (the headers name the budget that refused), others are not
      const real = await send(`${gw.url}/v1/pricing`, { from: '127.0.0.41' });
      expect(real.status).toBe(429);
      expect(real.headers['ratelimit-policy']).toBe('"not-found";q=5;w=3600');
      expect(real.json()).toMatchObject({ code: 'RATE_LIMITED', policy: 'not-found' });
      expect((await send(`${gw.url}/v1/pricing`, { from: '127.0.0.42' })).status).toBe(200);
    } finally {
      await gw.close();
    }
  });

  it('counts 404 answers of the services as probing', async () => {
    fakes.generation.on('GET', /^\/v1\/images\/guess-/, (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/problem+json' }).end('{"status":404,"code":"NOT_FOUND"}');
    });
    const gw = await gatewayWith({ RATE_LIMIT_NOT_FOUND: '3/1h' });
    try {
      const statuses = [];
      for (let i = 0; i < 5; i++) {
        statuses.push((await send(`${gw.url}/v1/images/guess-${i}`, { from: '127.0.0.43' })).status);
        // the 404 is charged after the answer (fire and forget): wait until it has landed
        await eventually(async () => (await notFoundLeft(gw, '127.0.0.43')) <= Math.max(0, 2 - i));
      }
      expect(statuses).toEqual([404, 404, 404, 429, 429]);
    } finally {
      await gw.close();
    }
  });

  it('charges a signed-in person\'s 404s to their own budget: the others behind the same address are not locked out', async () => {
    fakes.generation.on('GET', /^\/v1\/images\/stale-/, (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/problem+json' }).end('{"status":404,"code":"NOT_FOUND"}');
    });
    fakes.auth.sessions.set('sid-stale-grid', 'usr_stale');
    fakes.auth.sessions.set('sid-stale-neighbour', 'usr_neighbour');
    const gw = await gatewayWith({ RATE_LIMIT_NOT_FOUND: '3/1h' });
    try {
      const from = '127.0.0.47';
      const statuses = [];
      for (let i = 0; i < 5; i++) {
        statuses.push((await send(`${gw.url}/v1/images/stale-${i}/thumb`, { from, headers: { cookie: 'imlab_sid=sid-stale-grid' } })).status);
        await eventually(async () => (await notFoundLeft(gw, from, 'usr_stale')) <= Math.max(0, 2 - i));
      }
      expect(statuses).toEqual([404, 404, 404, 429, 429]);
      // Same address: another person and an anonymous login still get through.
      expect((await send(`${gw.url}/v1/credits/balance`, { from, headers: { cookie: 'imlab_sid=sid-stale-neighbour' } })).status).toBe(200);
      expect((await login(gw, { from })).status).not.toBe(429);
      // Anonymous probing still spends the address's own budget.
      expect(await notFoundLeft(gw, from)).toBe(3);
    } finally {
      await gw.close();
    }
  });
});
