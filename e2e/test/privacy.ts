// The privacy policy's promises, checked against the whole running system.
import { beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync, strFromU8 } from 'fflate';
import { Redis } from 'ioredis';
import { eventually, infra } from '@imlab/testing';
import { scanDatabase, type E2E, type System } from './system.js';
import { CLIENT_IPS, PASSWORD, generate, signUpVerified, type Browser } from './browser.js';

const PROMPT_MARKER = 'teal origami crane promptmarker9';
const person = () => shared.person!;
const shared: { person?: Browser; userId?: string; imageFiles?: string[] } = {};

function files(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d) => path.join(d.parentPath, d.name));
  } catch {
    return [];
  }
}

async function redisContains(sys: System, needle: string): Promise<string[]> {
  const redis = new Redis(infra().redisUrl);
  const hits: string[] = [];
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${sys.prefix}*`, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        const value =
          type === 'string' ? await redis.get(key) : type === 'hash' ? JSON.stringify(await redis.hgetall(key)) : type === 'list' ? JSON.stringify(await redis.lrange(key, 0, -1)) : type === 'zset' ? JSON.stringify(await redis.zrange(key, 0, -1)) : type === 'set' ? JSON.stringify(await redis.smembers(key)) : type === 'stream' ? JSON.stringify(await redis.xrange(key, '-', '+')) : '';
        if (key.includes(needle) || (value ?? '').includes(needle)) hits.push(key);
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return hits;
}

async function grantRoles(sys: System, email: string, roles: string[]): Promise<void> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/auth/src/cli/roles.ts', email, ...roles], {
      cwd: root,
      env: { ...sys.env, DATABASE_NAME: sys.databases.auth! },
      stdio: 'ignore',
    });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`roles CLI exited ${code}`))));
  });
}

export function privacySuite(e2e: E2E): void {
describe('privacy promises, on the running system', () => {
beforeAll(async () => {
  shared.person = e2e.browser(CLIENT_IPS.privacy);
  await signUpVerified(e2e.sys, person(), 'lin@example.com');
  shared.userId = (await person().call('GET', '/v1/me')).body.id;
  await eventually(async () => (await person().call('GET', '/v1/credits/balance')).body.available === 40, 20_000);
  await generate(person(), `a ${PROMPT_MARKER} on a desk`);
  shared.imageFiles = files(path.join(e2e.sys.dataDir, 'images')).filter((f) => f.includes(shared.userId!));
}, 240_000);

  it('exports every image and the transaction history from account settings', async () => {
    const started = await person().call('POST', '/v1/me/exports');
    expect(started.status).toBe(202);
    const ready = await eventually(async () => {
      const r = await person().call('GET', `/v1/me/exports/${started.body.id}`);
      return r.body.status === 'ready' ? r.body : undefined;
    }, 30_000);
    const download = await person().call('GET', ready.downloadUrl);
    expect(download.status).toBe(200);
    const zip = unzipSync(new Uint8Array(download.bytes));
    const names = Object.keys(zip);
    const images = names.filter((n) => /\.(png|webp)$/.test(n));
    expect(images.length).toBeGreaterThanOrEqual(1);
    expect(Buffer.from(zip[images[0]!]!).subarray(1, 4).toString()).toMatch(/PNG|RIF/);
    const everything = names.filter((n) => n.endsWith('.json')).map((n) => strFromU8(zip[n]!)).join('\n');
    expect(everything).toContain(PROMPT_MARKER);
    expect(everything).toContain('lin@example.com');
    // the transaction history: the bonus and the generation's charge, and the purchase history
    expect(everything).toMatch(/promo|bonus/i);
    expect(names).toContain('orders.json');
    expect(JSON.parse(strFromU8(zip['orders.json']!))).toMatchObject({ userId: shared.userId, orders: expect.any(Array) });
    // another person cannot download it
    const other = e2e.browser(CLIENT_IPS.privacy);
    await signUpVerified(e2e.sys, other, 'someone-else@example.com');
    expect((await other.call('GET', ready.downloadUrl)).status).toBe(404);
  }, 90_000);

  it('uses prompts only to serve their owner: not in Redis, logs, other services or finance views', async () => {
    const finance = e2e.browser(CLIENT_IPS.privacy);
    await signUpVerified(e2e.sys, finance, 'finance@example.com');
    await grantRoles(e2e.sys, 'finance@example.com', ['finance', 'admin', 'ops']);
    // a new session picks up the roles
    expect((await finance.call('POST', '/v1/auth/login', { email: 'finance@example.com', password: PASSWORD })).status).toBe(200);
    // the ops queue board: open to ops/admin, closed to everyone else
    expect((await finance.call('GET', '/admin/queues')).status).toBe(200);
    expect((await person().call('GET', '/admin/queues')).status).toBe(403);
    expect((await e2e.browser(CLIENT_IPS.privacy).call('GET', '/admin/queues')).status).toBe(401);
    const period = `from=${encodeURIComponent(new Date(Date.now() - 86400_000).toISOString())}&to=${encodeURIComponent(new Date(Date.now() + 86400_000).toISOString())}`;
    for (const url of ['/v1/admin/ledger/trial-balance', '/v1/admin/ledger/export.csv', `/v1/admin/billing/reconciliation?${period}`]) {
      const r = await finance.call('GET', url);
      expect(r.status, url).toBe(200);
      expect(r.bytes.toString('utf8'), url).not.toContain(PROMPT_MARKER);
      expect(r.bytes.toString('utf8'), url).not.toContain('lin@example.com');
    }
    expect(await redisContains(e2e.sys, PROMPT_MARKER)).toEqual([]);
    expect(e2e.sys.logs.join('')).not.toContain(PROMPT_MARKER);
    for (const service of ['auth', 'ledger', 'billing', 'notification']) {
      expect(await scanDatabase(e2e.sys.databases[service]!, [PROMPT_MARKER])).toEqual([]);
    }
  }, 90_000);

  it('deletes the account: profile, images and transactions go; the books keep no link to the person', async () => {
    const userId = shared.userId!;
    expect(shared.imageFiles!.length).toBeGreaterThan(0);
    const del = await person().call('DELETE', '/v1/me', { password: PASSWORD });
    expect(del.status).toBeLessThan(300);
    expect((await person().call('GET', '/v1/me')).status).toBe(401);
    expect((await person().call('GET', '/v1/credits/balance')).status).toBe(401);

    const needles = [userId, 'lin@example.com', PROMPT_MARKER];
    // outbox/inbox hold message payloads for their short retention (see docs/architecture.md)
    const skip = ['outbox', 'inbox'];
    await eventually(
      async () => {
        for (const service of ['auth', 'ledger', 'generation', 'billing', 'notification']) {
          const hits = await scanDatabase(e2e.sys.databases[service]!, needles, skip);
          if (hits.length) throw new Error(hits.join('; '));
        }
        return true;
      },
      60_000,
      500,
    );
    const left = files(path.join(e2e.sys.dataDir, 'images')).filter((f) => shared.imageFiles!.includes(f));
    expect(left).toEqual([]);
    // the books still balance after the anonymisation
    const finance = e2e.browser(CLIENT_IPS.privacy);
    expect((await finance.call('POST', '/v1/auth/login', { email: 'finance@example.com', password: PASSWORD })).status).toBe(200);
    const tb = await finance.call('GET', '/v1/admin/ledger/trial-balance');
    expect(tb.status).toBe(200);
    expect(JSON.stringify(tb.body)).not.toContain(userId);
    const verify = await finance.call('GET', '/v1/admin/ledger/verify');
    expect(verify.status).toBe(200);
  }, 120_000);
});
}
