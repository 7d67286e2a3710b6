import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { closeClients, send, startFakes, startGateway, type Fakes, type RunningGateway } from './helpers.js';

let fakes: Fakes;
let gw: RunningGateway;
let redis: Redis;

const UA = 'Mozilla/5.0 (X11; Linux x86_64) ZebraQuokkaBrowser/7.7.7-distinctive';
const SOURCE = '127.0.0.77';

beforeAll(async () => {
  fakes = await startFakes();
  fakes.auth.sessions.set('sid-privacy', 'usr_privacy');
  gw = await startGateway(fakes, { RATE_LIMIT_AUTH: '3/1h', RATE_LIMIT_NOT_FOUND: '4/1h' });
  redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
});
afterAll(async () => {
  await gw?.close();
  await fakes?.close();
  await closeClients();
  redis?.disconnect();
});

async function everythingUnderPrefix(prefix: string): Promise<string> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    for (const key of keys) out.push(key, String(await redis.get(key)));
  } while (cursor !== '0');
  return out.join('\n');
}

describe('raw client address and user agent never leave the gateway', () => {
  it('keeps them out of Redis, out of every log line and out of what services receive', async () => {
    const opts = {
      from: SOURCE,
      headers: {
        'user-agent': UA,
        'x-forwarded-for': SOURCE,
        // what a browser and the proxies in front of the gateway add: the same client, in other words
        'sec-ch-ua': '"ZebraQuokka";v="7"',
        'sec-ch-ua-platform': '"ZebraQuokkaOS"',
        'x-original-forwarded-for': SOURCE,
        'cf-connecting-ipv6': SOURCE,
        'fastly-client-ip': SOURCE,
      },
    };
    const json = { 'content-type': 'application/json' };
    // a spread of traffic: reads, signed-in writes, a limited login, probes, refused paths, upstream errors
    await send(`${gw.url}/v1/pricing`, opts);
    await send(`${gw.url}/v1/credits/balance`, { ...opts, headers: { ...opts.headers, cookie: 'imlab_sid=sid-privacy' } });
    await send(`${gw.url}/v1/generations`, {
      ...opts,
      method: 'POST',
      headers: { ...opts.headers, ...json, cookie: 'imlab_sid=sid-privacy', origin: 'https://app.imlab.test' },
      body: '{"prompt":"x"}',
    });
    for (let i = 0; i < 5; i++) await send(`${gw.url}/v1/auth/login`, { ...opts, method: 'POST', headers: { ...opts.headers, ...json }, body: '{"email":"a@b.test"}' });
    for (let i = 0; i < 6; i++) await send(`${gw.url}/nope/${i}`, opts);
    await send(`${gw.url}/v1/auth/..%2fx`, opts);
    await send(`${gw.url}/v1/generations/quote`, { ...opts, method: 'POST', headers: { ...opts.headers, ...json }, body: '{bad' });
    await send(`${gw.url}/v1/billing/checkout`, { ...opts, method: 'POST', headers: { ...opts.headers, ...json, cookie: 'imlab_sid=sid-privacy', origin: 'https://evil.test' }, body: '{}' });
    // A request Node cannot parse: its raw bytes (cookie and user agent included) ride on the client error.
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: Number(new URL(gw.url).port), localAddress: SOURCE }, () => {
        socket.end(`GET /v1/pricing HTTP/1.1\r\nHost: x\r\nUser-Agent: ${UA}\r\nCookie: imlab_sid=sid-privacy\r\nBad Header\u0001: y\r\n\r\n`);
      });
      socket.on('error', reject);
      socket.on('close', () => resolve());
      socket.resume();
    });

    const stored = await everythingUnderPrefix(gw.config.RATE_LIMIT_PREFIX);
    expect(stored.length).toBeGreaterThan(0); // the traffic did write buckets
    expect(stored).toContain(':ip:');
    expect(stored).not.toContain(SOURCE);
    expect(stored).not.toContain('ZebraQuokka');

    const logs = gw.logs();
    expect(logs.split('\n').length).toBeGreaterThan(20); // trace level: every request was logged
    expect(logs).not.toContain(SOURCE);
    expect(logs).not.toContain('ZebraQuokka');
    expect(logs).not.toContain('sid-privacy');
    expect(logs).not.toContain('jwt.');
    // Buffers are logged as byte arrays: not those bytes either.
    const bytes = (s: string) => [...Buffer.from(s)].join(',');
    expect(logs).not.toContain(bytes('ZebraQuokka'));
    expect(logs).not.toContain(bytes('sid-privacy'));

    const received = [fakes.auth, fakes.ledger, fakes.generation, fakes.billing].flatMap((s) => s.requests.map((r) => JSON.stringify(r.headers) + r.body.toString()));
    expect(received.length).toBeGreaterThan(0);
    for (const r of received) {
      expect(r).not.toContain(SOURCE);
      expect(r).not.toContain('ZebraQuokka');
    }
  });
});

describe('answers passed back from services', () => {
  it('carry cookies only from auth, and no CORS or hop-by-hop headers of the service', async () => {
    fakes.ledger.on('GET', '/v1/credits/cookie-test', (_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'set-cookie': 'imlab_sid=planted; Path=/',
        'access-control-allow-origin': '*',
        connection: 'x-service-hop',
        'x-service-hop': 'hop',
        'x-answer': 'kept',
      });
      res.end('{}');
    });
    const res = await send(`${gw.url}/v1/credits/cookie-test`);
    expect(res.status).toBe(200);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(res.headers['x-service-hop']).toBeUndefined();
    expect(res.headers['x-answer']).toBe('kept');
  });
});
