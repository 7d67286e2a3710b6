import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@imlab/db';
import { createLogger } from '@imlab/logger';
import { eventually, startTestIssuer } from '@imlab/testing';
import type { App } from '@imlab/http';
import { build } from '../src/app.js';
import * as ledger from '../src/ledger/ledger.service.js';
import { findUserAccounts } from '../src/ledger/ledger.repository.js';
import { purgeUser } from '../src/privacy/privacy.service.js';
import { sealAll, verify } from '../src/audit/audit.service.js';
import { inMinutes, invariantViolations, startLedger, user, type TestLedger } from './support/ledger.js';

let L: TestLedger;
let app: App;
let base: string;
let issuer: Awaited<ReturnType<typeof startTestIssuer>>;

beforeAll(async () => {
  issuer = await startTestIssuer();
  L = await startLedger('ledger-http', { env: { AUTH_JWKS_URL: issuer.jwksUrl } });
  app = await build({ config: L.config, logger: createLogger({ service: 'credits-ledger', level: 'silent' }), ctx: L.ctx });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await app?.close();
  await L?.close();
  await issuer?.close();
});

const tokenFor = (sub: string, roles: string[] = ['user'], aud = 'credits-ledger') => issuer.sign({ sub, roles, aud });
// Bodies are asserted by shape in each test; typing every response here would add nothing.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Body = any;
async function get(path: string, token?: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; headers: Headers; body: Body }> {
  const res = await fetch(`${base}${path}`, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, type, headers: res.headers, body: type.includes('json') ? await res.json() : await res.text() };
}

/**
 * Seals until every transfer is in a checkpoint. Sealing stops at the cluster-wide snapshot xmin, so a
 * transaction open anywhere on the server (other tests) can delay it for a moment; it never blocks.
 */
const sealEverything = () =>
  eventually(async () => {
    await sealAll(L.db, L.config.LEDGER_SEAL_SECRET);
    return (await verify(L.db, L.config.LEDGER_SEAL_SECRET)).unsealedTransfers === 0;
  });

const grant = (userId: string, amount: number, source: 'purchase' | 'promo' = 'purchase') =>
  L.run((tx) => ledger.grant(tx, L.deps, { idempotencyKey: randomUUID(), userId, amount, source, reference: 'ord_123' }));
const reserve = (userId: string, holdId: string, amount: number) =>
  L.run((tx) => ledger.reserve(tx, L.deps, { holdId, userId, amount, expiresAt: inMinutes(10), reference: `gen_${holdId.slice(0, 8)}` }));

describe('GET /v1/credits/balance', () => {
  it('answers 401 without a token, or with a token meant for another service', async () => {
    expect((await get('/v1/credits/balance')).status).toBe(401);
    const other = await get('/v1/credits/balance', await tokenFor(user(), ['user'], 'billing'));
    expect(other.status).toBe(401);
    expect(other.type).toContain('application/problem+json');
    expect(other.body).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it("returns the caller's available and held credits", async () => {
    const u = user();
    expect((await get('/v1/credits/balance', await tokenFor(u))).body).toEqual({ available: 0, held: 0 });
    await grant(u, 30);
    await reserve(u, randomUUID(), 4);
    expect((await get('/v1/credits/balance', await tokenFor(u))).body).toEqual({ available: 26, held: 4 });
  });

  it('answers an empty balance for a subject that is not a user id', async () => {
    expect(await get('/v1/credits/balance', await tokenFor('svc-not-a-uuid'))).toMatchObject({ status: 200, body: { available: 0, held: 0 } });
  });
});

describe('GET /v1/credits/transactions', () => {
  it('lists movements of the available balance, newest first, in words a person understands', async () => {
    const u = user();
    await grant(u, 100);
    await grant(u, 5, 'promo');
    const g1 = randomUUID();
    const g2 = randomUUID();
    await reserve(u, g1, 4);
    await L.run((tx) => ledger.capture(tx, L.deps, { holdId: g1 }));
    await reserve(u, g2, 6);
    await L.run((tx) => ledger.release(tx, L.deps, { holdId: g2, reason: 'failed' }));
    const { status, body } = await get('/v1/credits/transactions', await tokenFor(u));
    expect(status).toBe(200);
    expect(body.items.map((i: { kind: string; amount: number; description: string }) => [i.kind, i.amount, i.description])).toEqual([
      ['refund', 6, 'Refund — the generation did not complete'],
      ['generation', -6, 'Image generation — 6 credits'],
      ['generation', -4, 'Image generation — 4 credits'],
      ['bonus', 5, 'Bonus credits — 5 credits'],
      ['purchase', 100, 'Credit purchase — 100 credits'],
    ]);
    expect(body.items.map((i: { generationId: string | null }) => i.generationId)).toEqual([g2, g2, g1, null, null]);
    const sum = body.items.reduce((s: number, i: { amount: number }) => s + i.amount, 0);
    expect(sum).toBe((await findUserAccounts(L.db, u))!.available);
  });

  it('describes every kind of line in English and in Chinese: what it was for, and why credits came back as a registered code', async () => {
    const u = user();
    const order = randomUUID();
    const post = (p: { source: 'purchase' | 'promo'; amount: number; reference: string }) =>
      L.run((tx) => ledger.grant(tx, L.deps, { idempotencyKey: randomUUID(), userId: u, ...p }));
    const hold = (id: string, amount: number, expiresAt = inMinutes(10)) =>
      L.run((tx) => ledger.reserve(tx, L.deps, { holdId: id, userId: u, amount, expiresAt, reference: `generation:${id}` }));
    const [rendered, canceled, expired, partial, unknown] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    await post({ source: 'purchase', amount: 100, reference: `order:${order}` });
    await post({ source: 'promo', amount: 50, reference: 'signup-bonus' });
    await post({ source: 'promo', amount: 1, reference: 'spring-promo' });
    await hold(rendered, 6);
    await L.run((tx) => ledger.release(tx, L.deps, { holdId: rendered, reason: 'GENERATION_RENDER_ERROR' }));
    await hold(canceled, 3);
    await L.run((tx) => ledger.release(tx, L.deps, { holdId: canceled, reason: 'canceled' }));
    await hold(expired, 2, inMinutes(-1));
    await L.run((tx) => ledger.capture(tx, L.deps, { holdId: expired })); // issued after the expiry: the hold expires
    await hold(partial, 8);
    await L.run((tx) => ledger.capture(tx, L.deps, { holdId: partial, amount: 6 }, new Date()));
    await hold(unknown, 1);
    await L.run((tx) => ledger.release(tx, L.deps, { holdId: unknown, reason: 'something new' }));
    await L.run((tx) => ledger.clawback(tx, L.deps, { idempotencyKey: randomUUID(), userId: u, amount: 30, reference: `order:${order}` }));
    await L.run((tx) => ledger.restore(tx, L.deps, { idempotencyKey: randomUUID(), userId: u, amount: 10, reference: `order:${order}` }));

    const lines = (body: { items: Record<string, unknown>[] }) => body.items.map((i) => [i.kind, i.amount, i.reason, i.generationId, i.orderId, i.description]);
    const token = await tokenFor(u);
    const en = await get('/v1/credits/transactions?limit=100', token);
    expect(lines(en.body)).toEqual([
      ['restore', 10, null, null, order, 'Credits restored — 10 credits given back'],
      ['clawback', -30, null, null, order, 'Payment reversed — 30 credits taken back'],
      ['refund', 1, null, unknown, null, 'Refund — the generation did not complete'],
      ['generation', -1, null, unknown, null, 'Image generation — 1 credit'],
      ['refund', 2, null, partial, null, 'Refund — credits for images that were not delivered'],
      ['generation', -8, null, partial, null, 'Image generation — 8 credits'],
      ['refund', 2, 'GENERATION_HOLD_EXPIRED', expired, null, 'Refund — the image was not ready in time'],
      ['generation', -2, null, expired, null, 'Image generation — 2 credits'],
      ['refund', 3, 'GENERATION_CANCELED', canceled, null, 'Refund — the generation was canceled'],
      ['generation', -3, null, canceled, null, 'Image generation — 3 credits'],
      ['refund', 6, 'GENERATION_RENDER_ERROR', rendered, null, 'Refund — the image could not be rendered'],
      ['generation', -6, null, rendered, null, 'Image generation — 6 credits'],
      ['bonus', 1, null, null, null, 'Bonus credits — 1 credit'],
      ['bonus', 50, null, null, null, 'Sign-up bonus — 50 credits'],
      ['purchase', 100, null, null, order, 'Credit purchase — 100 credits'],
    ]);
    const zhLines = [
      '积分已恢复 — 退回 10 积分',
      '付款已撤销 — 收回 30 积分',
      '退款 — 生成未完成',
      '图像生成 — 1 积分',
      '退款 — 未交付图像的积分',
      '图像生成 — 8 积分',
      '退款 — 图像未能按时生成',
      '图像生成 — 2 积分',
      '退款 — 生成已取消',
      '图像生成 — 3 积分',
      '退款 — 图像生成失败',
      '图像生成 — 6 积分',
      '赠送积分 — 1 积分',
      '注册奖励 — 50 积分',
      '购买积分 — 100 积分',
    ];
    // The same lines in Chinese: for the locale cookie, for Accept-Language, and for the account's locale (the token's claim).
    for (const [how, t, headers] of [
      ['cookie', token, { cookie: 'locale=zh' }],
      ['accept-language', token, { 'accept-language': 'zh-CN,zh;q=0.9,en;q=0.8' }],
      ['account', await issuer.sign({ sub: u, aud: 'credits-ledger', locale: 'zh' }), {}],
    ] as const) {
      const zh = await get('/v1/credits/transactions?limit=100', t, headers);
      expect(zh.body.items.map((i: { description: string }) => i.description), how).toEqual(zhLines);
      // Everything but the words is the same.
      expect(lines(zh.body).map((l) => l.slice(0, 5)), how).toEqual(lines(en.body).map((l) => l.slice(0, 5)));
    }
    // The cookie wins over the account; no description ever shows a code.
    const cookieEn = await get('/v1/credits/transactions?limit=100', await issuer.sign({ sub: u, aud: 'credits-ledger', locale: 'zh' }), { cookie: 'locale=en' });
    expect(cookieEn.body.items.map((i: { description: string }) => i.description)).toEqual(en.body.items.map((i: { description: string }) => i.description));
    for (const item of [...en.body.items]) expect(item.description).not.toMatch(/[A-Z]{3,}_[A-Z]/);
  });

  it('pages with an opaque cursor without skipping or repeating', async () => {
    const u = user();
    for (let i = 1; i <= 5; i++) await grant(u, i);
    const token = await tokenFor(u);
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { amount: number }[]; nextCursor: string | null } } = await get(`/v1/credits/transactions?limit=2${cursor ? `&cursor=${cursor}` : ''}`, token);
      seen.push(...page.body.items.map((i) => i.amount));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([5, 4, 3, 2, 1]);
  });

  it('answers 400 problem+json for a forged cursor or an out-of-range limit', async () => {
    const token = await tokenFor(user());
    const forged = await get('/v1/credits/transactions?cursor=not-a-cursor', token);
    expect(forged.status).toBe(400);
    expect(forged.type).toContain('application/problem+json');
    expect(forged.body).toMatchObject({ code: 'INVALID_CURSOR' });
    // However long: a cursor the list did not give out is INVALID_CURSOR, not a schema error.
    expect((await get(`/v1/credits/transactions?cursor=${'x'.repeat(300)}`, token)).body).toMatchObject({ code: 'INVALID_CURSOR' });
    // An empty cursor is the first page (`?cursor=&limit=`, as the contract writes it).
    expect((await get('/v1/credits/transactions?cursor=&limit=20', token)).status).toBe(200);
    expect((await get('/v1/credits/transactions?limit=0', token)).status).toBe(400);
    expect((await get('/v1/credits/transactions?limit=101', token)).body).toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});

describe('finance API', () => {
  it('answers 403 to a person without the finance role and 401 without a token', async () => {
    const asUser = await get('/v1/admin/ledger/trial-balance', await tokenFor(user()));
    expect(asUser.status).toBe(403);
    expect(asUser.body).toMatchObject({ code: 'FORBIDDEN' });
    expect((await get('/v1/admin/ledger/verify')).status).toBe(401);
    expect((await get('/v1/admin/ledger/export.csv', await tokenFor(user(), ['ops']))).status).toBe(403);
  });

  it('gives a trial balance whose debits equal its credits, now and at a past instant', async () => {
    const fin = await tokenFor(user(), ['finance']);
    const u = user();
    await grant(u, 40);
    await reserve(u, randomUUID(), 10);
    const tb = await get('/v1/admin/ledger/trial-balance', fin);
    expect(tb.status).toBe(200);
    expect(tb.body.totals.debits).toBe(tb.body.totals.credits);
    expect(tb.body.totals.balance).toBe(0);
    expect(tb.body.storedBalancesMatch).toBe(true);
    const types = tb.body.lines.map((l: { type: string }) => l.type);
    expect(types).toEqual(expect.arrayContaining(['available', 'held', 'issuance', 'promo', 'consumed', 'forfeited', 'debt']));
    const past = await get(`/v1/admin/ledger/trial-balance?at=2000-01-01T00:00:00Z`, fin);
    expect(past.body.totals).toEqual({ debits: 0, credits: 0, balance: 0 });
    expect((await get('/v1/admin/ledger/trial-balance?at=yesterday', fin)).status).toBe(400);
  });

  it('gives an account statement with opening and closing balances, and the balance at a point in time', async () => {
    const fin = await tokenFor(user(), ['admin']);
    const u = user();
    await grant(u, 50);
    await new Promise((r) => setTimeout(r, 20));
    const t1 = new Date();
    await new Promise((r) => setTimeout(r, 20));
    await grant(u, 7);
    await reserve(u, randomUUID(), 20);
    await new Promise((r) => setTimeout(r, 20));
    const t2 = new Date();
    const { availableId } = (await findUserAccounts(L.db, u))!;
    const st = await get(`/v1/admin/ledger/accounts/${availableId}/statement?from=${t1.toISOString()}&to=${t2.toISOString()}`, fin);
    expect(st.status).toBe(200);
    expect(st.body).toMatchObject({ account: { id: availableId, type: 'available', scope: 'user' }, openingBalance: 50, closingBalance: 37 });
    expect(st.body.items.map((l: { kind: string; amount: number }) => [l.kind, l.amount])).toEqual([
      ['grant_purchase', 7],
      ['reserve', -20],
    ]);
    const at = await get(`/v1/admin/ledger/accounts/${availableId}/balance?at=${t1.toISOString()}`, fin);
    expect(at.body).toMatchObject({ balance: 50 });

    expect((await get(`/v1/admin/ledger/accounts/${randomUUID()}/statement?from=${t1.toISOString()}&to=${t2.toISOString()}`, fin)).body).toMatchObject({
      status: 404,
      code: 'LEDGER_ACCOUNT_NOT_FOUND',
    });
    expect((await get(`/v1/admin/ledger/accounts/not-a-uuid/statement?from=${t1.toISOString()}&to=${t2.toISOString()}`, fin)).status).toBe(400);
    expect((await get(`/v1/admin/ledger/accounts/${availableId}/statement?from=${t1.toISOString()}&to=${t2.toISOString()}&cursor=`, fin)).status).toBe(200);
    expect((await get(`/v1/admin/ledger/accounts/${availableId}/statement?from=${t1.toISOString()}&to=${t2.toISOString()}&cursor=abc`, fin)).body).toMatchObject({ code: 'INVALID_CURSOR' });
    expect((await get(`/v1/admin/ledger/accounts/${availableId}/statement?from=${t2.toISOString()}&to=${t1.toISOString()}`, fin)).status).toBe(400);
    expect((await get(`/v1/admin/ledger/accounts/${availableId}/statement?from=${t1.toISOString()}`, fin)).status).toBe(400);
  });

  it('streams the transfer log as CSV', async () => {
    const fin = await tokenFor(user(), ['finance']);
    const u = user();
    await L.run((tx) => ledger.grant(tx, L.deps, { idempotencyKey: randomUUID(), userId: u, amount: 3, source: 'purchase', reference: '=HYPERLINK("x"),"quoted"' }));
    const res = await get('/v1/admin/ledger/export.csv', fin);
    expect(res.status).toBe(200);
    expect(res.type).toContain('text/csv');
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    const lines = (res.body as string).trimEnd().split('\n');
    expect(lines[0]).toBe('transfer_id,created_at,kind,amount,debit_account_id,debit_type,credit_account_id,credit_type,posting_id,hold_id,reference');
    const count = await L.db.selectFrom('transfers').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(lines).toHaveLength(Number(count.n) + 1);
    // A spreadsheet must not run a reference as a formula; quotes are escaped.
    expect(lines.at(-1)).toContain(`"'=HYPERLINK(""x""),""quoted"""`);
  });

  it('refuses an export period that ends before it starts (as statements do), rather than an empty file', async () => {
    const fin = await tokenFor(user(), ['finance']);
    const backwards = await get('/v1/admin/ledger/export.csv?from=2025-01-02T00:00:00Z&to=2025-01-01T00:00:00Z', fin);
    expect(backwards.status).toBe(400);
    expect(backwards.body).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('verifies the sealed hash chain, and reports the first checkpoint a tampered transfer breaks', async () => {
    const fin = await tokenFor(user(), ['finance']);
    await grant(user(), 9);
    await sealEverything();
    const firstSeal = await L.db.selectFrom('checkpoints').select(['id', 'last_transfer_id']).orderBy('id').executeTakeFirstOrThrow();
    await grant(user(), 11);
    await sealEverything();
    const ok = await get('/v1/admin/ledger/verify', fin);
    expect(ok.body).toMatchObject({ ok: true, firstMismatch: null, unsealedTransfers: 0 });
    expect(ok.body.checkpoints).toBeGreaterThanOrEqual(2);

    // The write path cannot rewrite history...
    await expect(sql`update transfers set amount = amount + 1 where id = ${firstSeal.last_transfer_id}`.execute(L.db)).rejects.toThrow(/immutable/);
    await expect(sql`delete from transfers where id = ${firstSeal.last_transfer_id}`.execute(L.db)).rejects.toThrow(/immutable/);
    // ...someone with the database owner's rights can, and verify notices.
    await L.db.transaction().execute(async (tx) => {
      await sql`alter table transfers disable trigger transfers_immutable`.execute(tx);
      await sql`update transfers set amount = amount + 1000 where id = ${firstSeal.last_transfer_id}`.execute(tx);
      await sql`alter table transfers enable trigger transfers_immutable`.execute(tx);
    });
    const bad = await get('/v1/admin/ledger/verify', fin);
    expect(bad.body).toMatchObject({ ok: false, firstMismatch: { checkpointId: firstSeal.id, reason: 'hash', lastTransferId: firstSeal.last_transfer_id } });
    await L.db.transaction().execute(async (tx) => {
      await sql`alter table transfers disable trigger transfers_immutable`.execute(tx);
      await sql`update transfers set amount = amount - 1000 where id = ${firstSeal.last_transfer_id}`.execute(tx);
      await sql`alter table transfers enable trigger transfers_immutable`.execute(tx);
    });
    expect((await get('/v1/admin/ledger/verify', fin)).body).toMatchObject({ ok: true });
  });
});

describe('privacy', () => {
  it('exports a person’s transaction history to auth (its service token) only', async () => {
    const u = user();
    await grant(u, 12);
    expect((await get(`/internal/users/${u}/export`)).status).toBe(403);
    expect((await get('/internal/users/not-a-uuid/export')).status).toBe(403); // the token first, then the input
    expect((await get(`/internal/users/${u}/export`, undefined, { 'x-imlab-internal-token': 'wrong-token-0123456789abc' })).status).toBe(403);
    // a person's own token, another service's service token, one for another service, an expired one: refused
    for (const wrong of [
      await tokenFor(u),
      await tokenFor(u, ['admin']),
      await issuer.signService('credits-ledger', { caller: 'gateway' }),
      await issuer.signService('generation'),
      await issuer.signService('credits-ledger', { aud: 'credits-ledger' }),
      await issuer.signService('credits-ledger', { expiresIn: '-1s' }),
    ]) {
      expect((await get(`/internal/users/${u}/export`, undefined, { 'x-imlab-internal-token': wrong })).status).toBe(403);
    }
    // and a service token does not open a person's routes
    expect((await get('/v1/credits/balance', await issuer.signService('credits-ledger'))).status).toBe(401);
    const res = await get(`/internal/users/${u}/export`, undefined, { 'x-imlab-internal-token': await issuer.signService('credits-ledger') });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ userId: u, balance: { available: 12, held: 0 }, transactions: [{ kind: 'purchase', amount: 12 }] });
  });

  it('on user.purge deletes the person’s accounts, transfers and holds; the books still balance and verify', async () => {
    const fin = await tokenFor(user(), ['finance']);
    const u = user();
    await grant(u, 25);
    await reserve(u, randomUUID(), 5);
    const before = (await findUserAccounts(L.db, u))!;
    const ids = [before.availableId, before.heldId];
    await sealEverything();

    expect(await L.run((tx) => purgeUser(tx, u))).toMatchObject({ accounts: 2, transfers: 2 });

    expect(await findUserAccounts(L.db, u)).toBeUndefined();
    expect(await L.db.selectFrom('accounts').select('id').where('id', 'in', ids).execute()).toEqual([]);
    const left = await sql<{ n: number }>`
      select (select count(*) from transfers where debit_account_id = any(${ids}::uuid[]) or credit_account_id = any(${ids}::uuid[]) or subject_id = any(${ids}::uuid[]))
           + (select count(*) from holds where subject_id = any(${ids}::uuid[]) or held_account_id = any(${ids}::uuid[]))
           + (select count(*) from postings where subject_id = any(${ids}::uuid[])) as n`.execute(L.db);
    expect(Number(left.rows[0]!.n)).toBe(0);
    const outbox = await sql<{ n: number }>`select count(*)::int8 as n from outbox where sent_at is not null and payload::text like ${'%' + u + '%'}`.execute(L.db);
    expect(outbox.rows[0]!.n).toBe(0);

    expect((await get(`/internal/users/${u}/export`, undefined, { 'x-imlab-internal-token': await issuer.signService('credits-ledger') })).body).toMatchObject({ transactions: [], balance: { available: 0, held: 0 } });
    const tb = (await get('/v1/admin/ledger/trial-balance', fin)).body;
    expect(tb.totals.balance).toBe(0);
    expect(tb.lines.find((l: { type: string }) => l.type === 'erased')).toMatchObject({ scope: 'system' });
    // The erased transfers leave their chain hashes: the checkpoints still verify.
    expect((await get('/v1/admin/ledger/verify', fin)).body).toMatchObject({ ok: true });
    await sealEverything();
    expect((await get('/v1/admin/ledger/verify', fin)).body).toMatchObject({ ok: true, unsealedTransfers: 0 });
    expect(await invariantViolations(L.db)).toEqual([]);
  });

  it('a grant racing the purge waits for it and then does nothing: no account is opened or credited', async () => {
    const u = user();
    const order = `order:${randomUUID()}`;
    await L.run((tx) => ledger.grant(tx, L.deps, { idempotencyKey: `order:${randomUUID()}`, userId: u, amount: 10, source: 'purchase', reference: 'order:first' }));
    const before = (await findUserAccounts(L.db, u))!;
    let finish: (() => void) | undefined;
    const purge = L.db.transaction().execute(async (tx) => {
      await purgeUser(tx, u);
      await new Promise<void>((r) => (finish = r)); // the purge is under way, not committed yet
    });
    await eventually(() => finish !== undefined);
    let settled = false;
    const racing = L.run((tx) => ledger.grant(tx, L.deps, { idempotencyKey: order, userId: u, amount: 5, source: 'purchase', reference: order })).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false); // waiting for the purge
    finish!();
    await purge;
    expect(await racing).toEqual({ amount: 0, debt: 0 });
    expect(await findUserAccounts(L.db, u)).toBeUndefined();
    expect(await L.db.selectFrom('accounts').select('balance').where('id', '=', before.availableId).execute()).toEqual([]);
    expect(await L.db.selectFrom('postings').select('id').where('idempotency_key', '=', order).execute()).toEqual([]);
  });

  it('leaves no link to a person who never had credits: their rejected reserve goes at purge, and one after it keeps nothing', async () => {
    const u = user();
    const early = randomUUID();
    expect(await L.run((tx) => ledger.reserve(tx, L.deps, { holdId: early, userId: u, amount: 3, expiresAt: inMinutes(5), reference: `generation:${early}` }))).toMatchObject({
      status: 'rejected',
      shortfall: 3,
    });
    await L.run((tx) => purgeUser(tx, u));
    const late = randomUUID();
    expect(await L.run((tx) => ledger.reserve(tx, L.deps, { holdId: late, userId: u, amount: 2, expiresAt: inMinutes(5), reference: `generation:${late}` }))).toMatchObject({ status: 'rejected' });
    const holds = await L.db.selectFrom('holds').select(['id', 'reference', 'request_hash', 'status']).where('id', 'in', [early, late]).execute();
    expect(holds.map((h) => h.id)).toEqual([late]);
    for (const h of holds) {
      expect(h.status).toBe('rejected');
      expect(h.reference).toBeNull();
      expect(h.request_hash).not.toBe(ledger.requestHash('reserve', [u, h.id === early ? 3 : 2]));
    }
    expect(await findUserAccounts(L.db, u)).toBeUndefined();
    expect(await invariantViolations(L.db)).toEqual([]);
  });

  it('turns grants, clawbacks and restores that arrive after the purge into no-ops: no accounts reopened under the id', async () => {
    const u = user();
    const order = `order:${randomUUID()}`;
    await L.run((tx) => ledger.grant(tx, L.deps, { idempotencyKey: order, userId: u, amount: 100, source: 'purchase', reference: order }));
    await L.run((tx) => purgeUser(tx, u));
    const postingsBefore = Number((await sql<{ n: string }>`select count(*) as n from postings`.execute(L.db)).rows[0]!.n);
    const naming = async () => Number((await sql<{ n: string }>`select count(*) as n from outbox where payload::text like ${'%' + u + '%'}`.execute(L.db)).rows[0]!.n);
    const namingBefore = await naming(); // the first grant's ledger.posted, if the relay has not sent it yet

    // Billing had already sent these when its own copy of the purge was still queued.
    const late = [
      await L.run((tx) => ledger.clawback(tx, L.deps, { idempotencyKey: `${order}:refund:250`, userId: u, amount: 50, reference: order, after: order })),
      await L.run((tx) => ledger.restore(tx, L.deps, { idempotencyKey: `${order}:dispute:dp_1:restore`, userId: u, amount: 50, reference: order, after: `${order}:refund:250` })),
      await L.run((tx) => ledger.grant(tx, L.deps, { idempotencyKey: `order:${randomUUID()}`, userId: u, amount: 40, source: 'purchase', reference: 'order:late' })),
    ];
    expect(late).toEqual([{ amount: 0, debt: 0 }, { amount: 0, debt: 0 }, { amount: 0, debt: 0 }]);
    // The refused purchase is reported to billing (which refunds it), without naming the person.
    const refused = await L.db.selectFrom('outbox').select('payload').where('name', '=', 'ledger.grant-refused').execute();
    expect(refused.map((r) => r.payload)).toContainEqual({ idempotencyKey: expect.stringMatching(/^order:/), reference: 'order:late' });
    expect(await findUserAccounts(L.db, u)).toBeUndefined();
    expect(Number((await sql<{ n: string }>`select count(*) as n from postings`.execute(L.db)).rows[0]!.n)).toBe(postingsBefore);
    expect(await naming()).toBe(namingBefore); // no ledger.posted naming them
    // The tombstone is a hash: the id itself is stored nowhere.
    const stored = await sql<{ n: string }>`select count(*) as n from purged_user_hashes where user_hash = ${u}`.execute(L.db);
    expect(Number(stored.rows[0]!.n)).toBe(0);
    expect(await invariantViolations(L.db)).toEqual([]);
  });
});
