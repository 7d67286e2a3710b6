import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetch as undiciFetch } from 'undici';
import { Redis } from 'ioredis';
import pg from 'pg';
import { eventually, infra } from '@imlab/testing';
import { startSystem, type System } from './system.js';
import { Browser, CLIENT_IP, CLIENT_UA, agent, signUpVerified } from './browser.js';

let sys: System;
const browser = (): Browser => new Browser(sys);
beforeAll(async () => {
  sys = await startSystem('journey', { LOCAL_RENDER_MS: '1500', RENDER_LOCK_MS: '3000', RENDER_STALLED_INTERVAL_MS: '1000' });
}, 180_000);

afterAll(async () => {
  await sys?.stop();
});

describe('the whole system, through the gateway', () => {
  const person = browser();

  it('signs a person up, verifies the email from the mailbox, and grants the sign-up bonus once', async () => {
    await signUpVerified(sys, person, 'mei@example.com');
    const me = await person.call('GET', '/v1/me');
    expect(me.status).toBe(200);
    const balance = await eventually(async () => {
      const r = await person.call('GET', '/v1/credits/balance');
      return r.status === 200 && r.body.available === 40 ? r.body : undefined;
    }, 20_000);
    expect(balance).toMatchObject({ available: 40, held: 0 });
  }, 60_000);

  it('turns a prompt into an image, charging exactly the quoted cost', async () => {
    const quote = await person.call('POST', '/v1/generations/quote', { prompt: 'a lighthouse in fog, watercolor', count: 1 });
    expect(quote.status).toBe(200);
    const cost = quote.body.cost as number;
    const created = await person.call('POST', '/v1/generations', { prompt: 'a lighthouse in fog, watercolor', count: 1, seed: 7 });
    expect(created.status).toBe(202);
    expect(created.body.cost).toBe(cost);
    const done = await eventually(async () => {
      const r = await person.call('GET', `/v1/generations/${created.body.id}`);
      return r.body.status === 'succeeded' ? r.body : undefined;
    }, 30_000);
    expect(done.images).toHaveLength(1);
    const image = await undiciFetch(`${sys.gatewayUrl}${done.images[0].url}`, { headers: { cookie: `imlab_sid=${person.cookies.get('imlab_sid')}`, 'user-agent': CLIENT_UA }, dispatcher: agent });
    expect(image.status).toBe(200);
    expect(Buffer.from(await image.arrayBuffer()).subarray(1, 4).toString()).toBe('PNG');
    const balance = await eventually(async () => {
      const r = await person.call('GET', '/v1/credits/balance');
      return r.body.held === 0 ? r.body : undefined;
    });
    expect(balance).toEqual(expect.objectContaining({ available: 40 - cost, held: 0 }));
    const tx = await person.call('GET', '/v1/credits/transactions');
    expect(tx.status).toBe(200);
  }, 60_000);

  it('answers 402 with the shortfall when credits run out, and holds nothing for it', async () => {
    const big = { prompt: 'a harbour at night, many lanterns', model: 'imlab-pro', size: '1536x1024', count: 4 };
    const quote = await person.call('POST', '/v1/generations/quote', big);
    const available = (await person.call('GET', '/v1/credits/balance')).body.available as number;
    expect(quote.body.cost).toBeLessThanOrEqual(available);
    const first = await person.call('POST', '/v1/generations', big);
    expect(first.status).toBe(202);
    const second = await person.call('POST', '/v1/generations', big);
    expect(second.status).toBe(402);
    expect(second.headers.get('content-type')).toMatch(/problem\+json/);
    expect(second.body.shortfall).toBe(quote.body.cost - (available - quote.body.cost));
    await eventually(async () => (await person.call('GET', `/v1/generations/${first.body.id}`)).body.status === 'succeeded', 60_000);
    const balance = await eventually(async () => {
      const r = await person.call('GET', '/v1/credits/balance');
      return r.body.held === 0 ? r.body : undefined;
    });
    expect(balance.available).toBe(available - quote.body.cost);
  }, 90_000);

  it('charges once when the render worker is killed mid-job and a new one takes over', async () => {
    const before = (await person.call('GET', '/v1/credits/balance')).body.available as number;
    const created = await person.call('POST', '/v1/generations', { prompt: 'a kite over the sea at dawn', count: 1, seed: 3 });
    expect(created.status).toBe(202);
    await eventually(async () => (await person.call('GET', `/v1/generations/${created.body.id}`)).body.status === 'running', 20_000);
    await sys.kill('render-worker', 'SIGKILL');
    await sys.start('render-worker');
    const done = await eventually(async () => {
      const r = await person.call('GET', `/v1/generations/${created.body.id}`);
      return ['succeeded', 'failed'].includes(r.body.status) ? r.body : undefined;
    }, 60_000);
    const after = await eventually(async () => {
      const r = await person.call('GET', '/v1/credits/balance');
      return r.body.held === 0 ? r.body : undefined;
    }, 30_000);
    expect(after.available).toBe(done.status === 'succeeded' ? before - created.body.cost : before);
  }, 120_000);

  it('publishes to the public gallery, which shows no owner data beyond the display name', async () => {
    const list = await person.call('GET', '/v1/generations');
    const image = list.body.items.find((g: { status: string }) => g.status === 'succeeded').images[0];
    expect((await person.call('POST', `/v1/images/${image.id}/publish`)).status).toBeLessThan(300);
    const anonymous = browser();
    const gallery = await anonymous.call('GET', '/v1/gallery');
    expect(gallery.status).toBe(200);
    const text = JSON.stringify(gallery.body);
    expect(text).toContain(image.id);
    expect(text).not.toContain('mei@example.com');
  }, 30_000);

  it('keeps another person out of the first one\'s images and generations', async () => {
    const other = browser();
    await signUpVerified(sys, other, 'oscar@example.com');
    const list = await person.call('GET', '/v1/generations');
    const gen = list.body.items[0];
    expect((await other.call('GET', `/v1/generations/${gen.id}`)).status).toBe(404);
    expect((await other.call('DELETE', `/v1/images/${gen.images[0]?.id ?? gen.id}`)).status).toBe(404);
  }, 60_000);

  it('refuses cookie-authenticated writes from a foreign origin', async () => {
    const res = await undiciFetch(`${sys.gatewayUrl}/v1/generations`, {
      method: 'POST',
      headers: { cookie: `imlab_sid=${person.cookies.get('imlab_sid')}`, origin: 'https://evil.example', 'content-type': 'application/json', 'user-agent': CLIENT_UA },
      body: JSON.stringify({ prompt: 'csrf' }),
      dispatcher: agent,
    });
    expect(res.status).toBe(403);
  });

  it('never stores or logs the raw client address or user agent, and sets only the two first-party cookies', async () => {
    expect([...person.cookies.keys()].every((k) => ['imlab_sid', 'locale'].includes(k))).toBe(true);
    const logText = sys.logs.join('');
    expect(logText.length).toBeGreaterThan(1000);
    expect(logText).not.toContain(CLIENT_UA);
    expect(logText).not.toContain('journey-ua-marker');
    expect(logText).not.toContain(CLIENT_IP);
    expect(logText).not.toContain(person.cookies.get('imlab_sid')!);

    const redis = new Redis(infra().redisUrl);
    try {
      let cursor = '0';
      let scanned = 0;
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${sys.prefix}*`, 'COUNT', 500);
        cursor = next;
        for (const key of keys) {
          scanned++;
          expect(key).not.toContain(CLIENT_IP);
          const type = await redis.type(key);
          const dump =
            type === 'string' ? await redis.get(key) : type === 'hash' ? JSON.stringify(await redis.hgetall(key)) : type === 'list' ? JSON.stringify(await redis.lrange(key, 0, -1)) : type === 'zset' ? JSON.stringify(await redis.zrange(key, 0, -1)) : type === 'stream' ? JSON.stringify(await redis.xrange(key, '-', '+')) : type === 'set' ? JSON.stringify(await redis.smembers(key)) : '';
          expect(dump ?? '').not.toContain(CLIENT_UA);
          expect(dump ?? '').not.toContain(CLIENT_IP);
          expect(dump ?? '').not.toContain(person.cookies.get('imlab_sid')!);
        }
      } while (cursor !== '0');
      expect(scanned).toBeGreaterThan(5);
    } finally {
      redis.disconnect();
    }

    for (const name of Object.values(sys.databases)) {
      const u = new URL(infra().databaseUrl);
      u.pathname = `/${name}`;
      const client = new pg.Client({ connectionString: u.toString() });
      await client.connect();
      try {
        const cols = await client.query<{ table_name: string; column_name: string }>(
          `select table_name, column_name from information_schema.columns where table_schema = 'public' and data_type in ('text', 'character varying', 'jsonb', 'json', 'inet')`,
        );
        for (const { table_name, column_name } of cols.rows) {
          const hit = await client.query(`select 1 from "${table_name}" where "${column_name}"::text like $1 or "${column_name}"::text like $2 or "${column_name}"::text like $3 limit 1`, [
            `%${CLIENT_UA}%`,
            `%${CLIENT_IP}%`,
            `%${person.cookies.get('imlab_sid')}%`,
          ]);
          expect(hit.rowCount, `${name}.${table_name}.${column_name}`).toBe(0);
        }
      } finally {
        await client.end();
      }
    }
  }, 60_000);
});
