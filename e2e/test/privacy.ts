// The privacy policy's promises, checked against the whole running system.
import { beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { unzipSync, strFromU8 } from 'fflate';
import { Redis } from 'ioredis';
import { download, ok } from '@imlab/client';
import { eventually, infra } from '@imlab/testing';
import { grantRoles, queryDb, scanDatabase, type E2E, type System } from './system.js';
import { CLIENT_IPS, PASSWORD, generate, mailCount, signUpVerified, until, type Browser } from './browser.js';

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

async function ledgerAccountIds(sys: System, userId: string): Promise<string[]> {
  return (await queryDb(sys, 'ledger', 'select id from accounts where owner_id = $1', [userId])).map((r) => String(r.id));
}

export function privacySuite(e2e: E2E): void {
describe('privacy promises, on the running system', () => {
beforeAll(async () => {
  shared.person = e2e.browser(CLIENT_IPS.privacy);
  await signUpVerified(e2e.sys, person(), 'lin@example.com');
  shared.userId = (await ok(person().api.GET('/v1/me'))).id;
  await eventually(async () => (await person().api.GET('/v1/credits/balance')).data?.available === 40, 20_000);
  await generate(person(), `a ${PROMPT_MARKER} on a desk`);
  shared.imageFiles = files(path.join(e2e.sys.dataDir, 'images')).filter((f) => f.includes(shared.userId!));
}, 240_000);

  it('exports every image and the transaction history from account settings', async () => {
    const started = await person().api.POST('/v1/me/exports');
    expect(started.response.status).toBe(202);
    const id = started.data!.id;
    const ready = await until(async () => {
      const r = await person().api.GET('/v1/me/exports/{id}', { params: { path: { id } } });
      return r.data?.status === 'ready' ? r.data : undefined;
    }, 30_000);
    const archive = await download(person().options, ready.downloadUrl!);
    const zip = unzipSync(new Uint8Array(await archive.arrayBuffer()));
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
    expect(await download(other.options, ready.downloadUrl!).catch((e: unknown) => e)).toMatchObject({ name: 'ApiError', status: 404 });
  }, 90_000);

  it('uses prompts only to serve their owner: not in Redis, logs, other services or finance views', async () => {
    const finance = e2e.browser(CLIENT_IPS.privacy);
    await signUpVerified(e2e.sys, finance, 'finance@example.com');
    await grantRoles(e2e.sys, 'finance@example.com', ['finance', 'admin', 'ops']);
    // a new session picks up the roles
    expect((await finance.api.POST('/v1/auth/login', { body: { email: 'finance@example.com', password: PASSWORD } })).response.status).toBe(200);
    // the ops queue board: open to ops/admin, closed to everyone else. A page of the gateway
    // outside the API document, so a raw call (through the same fetch).
    expect((await finance.call('GET', '/admin/queues')).status).toBe(200);
    expect((await person().call('GET', '/admin/queues')).status).toBe(403);
    expect((await e2e.browser(CLIENT_IPS.privacy).call('GET', '/admin/queues')).status).toBe(401);
    const period = { from: new Date(Date.now() - 86400_000).toISOString(), to: new Date(Date.now() + 86400_000).toISOString() };
    const views: [string, () => Promise<{ status: number; text: string }>][] = [
      ['trial balance', async () => {
        const r = await finance.api.GET('/v1/admin/ledger/trial-balance', { parseAs: 'text' });
        return { status: r.response.status, text: r.data ?? '' };
      }],
      ['ledger export', async () => ({ status: 200, text: await (await download(finance.options, '/v1/admin/ledger/export.csv')).text() })],
      ['reconciliation', async () => {
        const r = await finance.api.GET('/v1/admin/billing/reconciliation', { params: { query: period }, parseAs: 'text' });
        return { status: r.response.status, text: r.data ?? '' };
      }],
    ];
    for (const [view, read] of views) {
      const r = await read();
      expect(r.status, view).toBe(200);
      expect(r.text, view).not.toContain(PROMPT_MARKER);
      expect(r.text, view).not.toContain('lin@example.com');
    }
    expect(await redisContains(e2e.sys, PROMPT_MARKER)).toEqual([]);
    expect(e2e.sys.logs.join('')).not.toContain(PROMPT_MARKER);
    for (const service of ['auth', 'ledger', 'billing', 'notification']) {
      expect(await scanDatabase(e2e.sys.databases[service]!, [PROMPT_MARKER])).toEqual([]);
    }
  }, 90_000);

  it('deletes the account: profile, images and transactions go; the books keep no link to the person; a service down meanwhile finishes its part when back, then the last email goes', async () => {
    const userId = shared.userId!;
    expect(shared.imageFiles!.length).toBeGreaterThan(0);
    // its own address: the strict sign-in budget of the privacy suite's address is spent by now
    const finance = e2e.browser('127.0.0.86');
    expect((await finance.api.POST('/v1/auth/login', { body: { email: 'finance@example.com', password: PASSWORD } })).response.status).toBe(200);
    // The person's ledger accounts: after the purge no row may carry their ids either (their transfers are gone).
    const ledgerAccounts = await ledgerAccountIds(e2e.sys, userId);
    expect(ledgerAccounts.length).toBe(2);
    // generation is down while the purge runs
    await e2e.sys.kill('generation', 'SIGTERM');
    const del = await person().api.DELETE('/v1/me', { body: { password: PASSWORD } });
    expect(del.response.status).toBeLessThan(300);
    expect((await person().api.GET('/v1/me')).response.status).toBe(401);
    expect((await person().api.GET('/v1/credits/balance')).response.status).toBe(401);

    // ops sees the deletion unfinished, waiting for generation only; no email yet
    const pending = await until(async () => {
      const list = await finance.api.GET('/v1/admin/accounts/deletions');
      return list.data?.deletions.find((d) => d.partsPending.length === 1 && d.partsPending[0] === 'generation');
    }, 60_000);
    expect(pending.partsDone).toEqual(['billing', 'credits-ledger', 'notification']);
    expect(mailCount(e2e.sys, 'lin@example.com', 'account-deleted')).toBe(0);
    await e2e.sys.start('generation');

    const needles = [userId, 'lin@example.com', PROMPT_MARKER, ...ledgerAccounts];
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
    // the books still balance after the erasure (what the person had left stays on `erased`), and the chain verifies
    const tb = await finance.api.GET('/v1/admin/ledger/trial-balance');
    expect(tb.response.status).toBe(200);
    expect(JSON.stringify(tb.data)).not.toContain(userId);
    expect(tb.data).toMatchObject({ totals: { balance: 0 }, storedBalancesMatch: true });
    expect(tb.data!.lines.find((l) => l.type === 'erased')).toMatchObject({ scope: 'system' });
    const verify = await finance.api.GET('/v1/admin/ledger/verify');
    expect(verify.response.status).toBe(200);
    expect(verify.data).toMatchObject({ ok: true, firstMismatch: null });
    // every part done: the receipt is complete and the last email went, once
    await eventually(async () => !(await finance.api.GET('/v1/admin/accounts/deletions')).data?.deletions.some((d) => d.id === pending.id), 30_000);
    // and each service keeps its own receipt: the inbox row of its part, naming only the deletion id
    for (const db of ['ledger', 'generation', 'billing', 'notification'] as const) {
      const rows = await queryDb(e2e.sys, db, "select processed_at, result from inbox where name = 'user.purge' and result->>'deletionId' = $1", [pending.id]);
      expect(rows, db).toHaveLength(1);
      expect(JSON.stringify(rows[0]!.result), db).not.toContain(userId);
    }
    await eventually(() => mailCount(e2e.sys, 'lin@example.com', 'account-deleted') === 1, 30_000);
    await new Promise((r) => setTimeout(r, 1000));
    expect(mailCount(e2e.sys, 'lin@example.com', 'account-deleted')).toBe(1);
  }, 180_000);
});
}
