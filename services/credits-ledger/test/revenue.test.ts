import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@imlab/db';
import { createLogger } from '@imlab/logger';
import { startTestIssuer } from '@imlab/testing';
import type { App } from '@imlab/http';
import { build } from '../src/app.js';
import * as ledger from '../src/ledger/ledger.service.js';
import { findUserAccounts } from '../src/ledger/ledger.repository.js';
import { purgeUser } from '../src/privacy/privacy.service.js';
import { inMinutes, invariantViolations, recognisedAll, startLedger, user, type TestLedger } from './support/ledger.js';

let L: TestLedger;
let app: App;
let base: string;
let issuer: Awaited<ReturnType<typeof startTestIssuer>>;

beforeAll(async () => {
  issuer = await startTestIssuer();
  L = await startLedger('ledger-revenue', { env: { AUTH_JWKS_URL: issuer.jwksUrl } });
  app = await build({ config: L.config, logger: createLogger({ service: 'credits-ledger', level: 'silent' }), ctx: L.ctx });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await app?.close();
  await L?.close();
  await issuer?.close();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Body = any;
async function call(method: string, path: string, body?: unknown, roles = ['finance']): Promise<{ status: number; type: string; body: Body; text: string }> {
  const token = await issuer.sign({ sub: user(), roles, aud: 'credits-ledger' });
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const type = res.headers.get('content-type') ?? '';
  const text = await res.text();
  return { status: res.status, type, body: type.includes('json') ? JSON.parse(text) : null, text };
}

const buy = (userId: string, orderId: string, credits: number, amount: number, currency: string) =>
  L.run((tx) => ledger.grant(tx, L.deps, { idempotencyKey: `order:${orderId}`, userId, amount: credits, source: 'purchase', reference: `order:${orderId}`, value: { amount, currency } }));
const gift = (userId: string, credits: number) => L.run((tx) => ledger.grant(tx, L.deps, { idempotencyKey: randomUUID(), userId, amount: credits, source: 'promo', reference: 'signup-bonus' }));
async function spend(userId: string, credits: number) {
  const holdId = randomUUID();
  await L.run((tx) => ledger.reserve(tx, L.deps, { holdId, userId, amount: credits, expiresAt: inMinutes(10), reference: `gen:${holdId}` }));
  await L.run((tx) => ledger.capture(tx, L.deps, { holdId }));
}
const clawback = (userId: string, key: string, orderId: string, credits: number) =>
  L.run((tx) => ledger.clawback(tx, L.deps, { idempotencyKey: key, userId, amount: credits, reference: `order:${orderId}` }));
const restore = (userId: string, key: string, orderId: string, credits: number) =>
  L.run((tx) => ledger.restore(tx, L.deps, { idempotencyKey: key, userId, amount: credits, reference: `order:${orderId}` }));

const caughtUp = () => recognisedAll(L.db);

const people = { a: user(), b: user(), c: user(), d: user() };
const orders = { a1: randomUUID(), a2: randomUUID(), b: randomUUID(), c: randomUUID(), d: randomUUID() };
const now = () => new Date();
const PERIOD = () => `from=${encodeURIComponent(new Date(Date.now() - 3600_000).toISOString())}&to=${encodeURIComponent(new Date(Date.now() + 3600_000).toISOString())}`;

describe('credit liability and revenue (first in, first out at each pack\'s price)', () => {
  beforeAll(async () => {
    // A: two packs and a free grant; spends 50 then 100 (the first pack, then the free credits, then the second pack).
    await buy(people.a, orders.a1, 100, 500, 'usd');
    await gift(people.a, 20);
    await buy(people.a, orders.a2, 500, 2000, 'usd');
    await spend(people.a, 50);
    await spend(people.a, 100);
    // B: spends 30 of a pack, then a full refund takes the 70 left (the other 30 become debt).
    await buy(people.b, orders.b, 100, 500, 'usd');
    await spend(people.b, 30);
    await clawback(people.b, `order:${orders.b}:refund:500`, orders.b, 100);
    // C: a dispute in yuan, won: clawed back, restored, then 100 spent.
    await buy(people.c, orders.c, 300, 9000, 'cny');
    await clawback(people.c, `order:${orders.c}:dispute:dp_c`, orders.c, 300);
    await restore(people.c, `order:${orders.c}:dispute:dp_c:restore`, orders.c, 300);
    await spend(people.c, 100);
    // D: a dispute lost.
    await buy(people.d, orders.d, 100, 500, 'usd');
    await clawback(people.d, `order:${orders.d}:dispute:dp_d`, orders.d, 100);
    expect(await invariantViolations(L.db)).toEqual([]);
    await caughtUp();
  });

  it('reports sold, spent (revenue), refunded, clawed back and restored per currency, and the liability that is left', async () => {
    const res = await call('GET', `/v1/admin/ledger/revenue?${PERIOD()}`);
    expect(res.status).toBe(200);
    const by = Object.fromEntries(res.body.currencies.map((c: { currency: string | null }) => [c.currency ?? 'none', c]));
    // usd: A spent 50 at 5 (250), then 50 at 5 + 20 free + 30 at 4 (370); B spent 30 at 5 (150).
    expect(by.usd).toMatchObject({ openingLiability: 0, sold: 500 + 2000 + 500 + 500, spent: 250 + 370 + 150, refunded: 70 * 5, clawedBack: 500, restored: 0, closingLiability: 470 * 4, balances: true });
    expect(by.usd.credits).toMatchObject({ sold: 800, spent: 50 + 80 + 30, refunded: 70, clawedBack: 100, closing: 470 });
    expect(by.cny).toMatchObject({ sold: 9000, clawedBack: 9000, restored: 9000, spent: 3000, closingLiability: 6000, balances: true });
    expect(by.none).toMatchObject({ sold: 0, spent: 0, closingLiability: 0, credits: { grantedFree: 20, spent: 20, closing: 0 } });
    // The identity holds, and ties to the credits people hold per the transfers and to the lots.
    for (const c of res.body.currencies) expect(c.openingLiability + c.sold - c.spent - c.refunded - c.clawedBack + c.restored).toBe(c.closingLiability);
    expect(res.body.trialBalance).toEqual({ outstandingCredits: 470 + 200, heldByPeople: 470 + 200, tiesOut: true });
    expect(res.body.lotsAgree).toBe(true);
    const tb = await call('GET', '/v1/admin/ledger/trial-balance');
    const userCredits = tb.body.lines.filter((l: { scope: string }) => l.scope === 'users').reduce((s: number, l: { balance: number }) => s + l.balance, 0);
    expect(userCredits).toBe(res.body.trialBalance.outstandingCredits);
    expect(res.body.rule).toMatch(/first in, first out/);
  });

  it('lists every movement in pages and as CSV', async () => {
    const seen: { kind: string; amount: number; currency: string | null }[] = [];
    let cursor: string | null = null;
    do {
      const page = await call('GET', `/v1/admin/ledger/revenue/movements?${PERIOD()}&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.items);
      cursor = page.body.nextCursor;
    } while (cursor);
    const revenue = seen.filter((m) => m.kind === 'spent' && m.currency === 'usd').reduce((s, m) => s + m.amount, 0);
    expect(revenue).toBe(770);
    const csv = await call('GET', `/v1/admin/ledger/revenue/movements.csv?${PERIOD()}`);
    expect(csv.type).toBe('text/csv; charset=utf-8');
    const lines = csv.text.split('\r\n');
    expect(lines[0]).toBe('movement_id,created_at,kind,credits,amount,currency,lot_id,transfer_id,reference');
    expect(lines).toHaveLength(seen.length + 2);
    const summary = await call('GET', `/v1/admin/ledger/revenue.csv?${PERIOD()}`);
    expect(summary.text.split('\r\n')[0]).toBe(
      'currency,opening_liability,sold,spent,refunded,clawed_back,restored,closing_liability,credits_opening,credits_sold,credits_granted_free,credits_spent,credits_refunded,credits_clawed_back,credits_restored,credits_closing',
    );
    expect(summary.text).toContain('\r\nusd,0,3500,770,350,500,0,1880,0,800,0,160,70,100,0,470\r\n');
  });

  it('goes from a person, an account or an order to the books and back (ids only)', async () => {
    const byUser = await call('GET', `/v1/admin/ledger/lookup?userId=${people.a}`);
    expect(byUser.status).toBe(200);
    expect(byUser.body.userId).toBe(people.a);
    expect(byUser.body.accounts.map((a: { type: string }) => a.type)).toEqual(['available', 'held']);
    expect(byUser.body.orderIds).toEqual([orders.a1, orders.a2].sort());
    const byOrder = await call('GET', `/v1/admin/ledger/lookup?orderId=${orders.b}`);
    expect(byOrder.body).toMatchObject({ userId: people.b, orderIds: [orders.b] });
    const byAccount = await call('GET', `/v1/admin/ledger/lookup?accountId=${byUser.body.accounts[0].accountId}`);
    expect(byAccount.body.userId).toBe(people.a);
    expect((await call('GET', `/v1/admin/ledger/lookup?userId=${people.a}&orderId=${orders.b}`)).status).toBe(400);
    expect((await call('GET', `/v1/admin/ledger/lookup?orderId=${randomUUID()}`)).body.code).toBe('LEDGER_ACCOUNT_NOT_FOUND');
    expect((await call('GET', `/v1/admin/ledger/lookup?userId=${people.a}`, undefined, ['user'])).status).toBe(403);
  });

  it('downloads the trial balance and an account statement as CSV', async () => {
    const tb = await call('GET', '/v1/admin/ledger/trial-balance.csv');
    expect(tb.status).toBe(200);
    expect(tb.type).toBe('text/csv; charset=utf-8');
    const lines = tb.text.split('\r\n');
    expect(lines[0]).toBe('as_of,account_id,type,scope,accounts,debits,credits,balance');
    const json = (await call('GET', '/v1/admin/ledger/trial-balance')).body;
    expect(lines).toHaveLength(1 + json.lines.length + 1 + 1);
    expect(lines.at(-2)).toMatch(new RegExp(`,,total,,,${json.totals.debits},${json.totals.credits},0$`));
    const account = json.lines.find((l: { type: string }) => l.type === 'consumed').accountId;
    const statement = await call('GET', `/v1/admin/ledger/accounts/${account}/statement.csv?${PERIOD()}`);
    expect(statement.status).toBe(200);
    const rows = statement.text.split('\r\n');
    expect(rows[0]).toBe('transfer_id,created_at,kind,side,amount,counter_account_id,reference');
    // consumed was credited by every capture: A's two, B's and C's.
    expect(rows.filter((r) => /,capture,credit,/.test(r))).toHaveLength(4);
    expect((await call('GET', `/v1/admin/ledger/accounts/${randomUUID()}/statement.csv?${PERIOD()}`)).body.code).toBe('LEDGER_ACCOUNT_NOT_FOUND');
  });

  it('answers problem+json for a bad period, time zone or cursor', async () => {
    const tz = await call('GET', '/v1/admin/ledger/revenue?month=2026-11&tz=Europe%2FNowhere');
    expect(tz.status).toBe(400);
    expect(tz.type).toMatch(/^application\/problem\+json/);
    expect(tz.body.code).toBe('FINANCE_TIMEZONE_INVALID');
    expect((await call('GET', '/v1/admin/ledger/revenue?from=2026-11-02&to=2026-11-01')).body.code).toBe('FINANCE_PERIOD_INVALID');
    expect((await call('GET', `/v1/admin/ledger/revenue/movements?${PERIOD()}&cursor=abc`)).body.code).toBe('INVALID_CURSOR');
  });

  it('a purge leaves the figures as they were, and nothing in them ties the person’s buying and spending together', async () => {
    const before = (await call('GET', `/v1/admin/ledger/revenue?${PERIOD()}`)).body;
    const pool = (await findUserAccounts(L.db as never, people.a))!.availableId;
    const theirLots = (await L.db.selectFrom('revenue_lots').select('id').where('pool', '=', pool).execute()).map((r) => r.id);
    const theirTransfers = (await L.db.selectFrom('transfers').select('id').where('subject_id', '=', pool).execute()).map((r) => r.id);
    const theirMovements = (await L.db.selectFrom('revenue_movements').select('id').where((eb) => eb.or([eb('lot_id', 'in', theirLots), eb('transfer_id', 'in', theirTransfers)])).execute()).map((r) => r.id);
    expect(theirLots.length).toBeGreaterThan(0);
    expect(theirMovements.length).toBeGreaterThan(theirLots.length);
    await L.run((tx) => purgeUser(tx, people.a));
    await caughtUp();
    // the lots and movements stay (the figures below), with no account, order or lot between them
    const lots = await L.db.selectFrom('revenue_lots').select(['pool', 'reference']).where('id', 'in', theirLots).execute();
    expect(lots).toEqual(theirLots.map(() => ({ pool: null, reference: null })));
    const movements = await L.db.selectFrom('revenue_movements').select(['lot_id', 'reference']).where('id', 'in', theirMovements).execute();
    expect(movements).toEqual(theirMovements.map(() => ({ lot_id: null, reference: null })));
    const after = (await call('GET', `/v1/admin/ledger/revenue?${PERIOD()}`)).body;
    expect(after.currencies).toEqual(before.currencies);
    expect(after.trialBalance.tiesOut).toBe(true);
    const { rows } = await sql<{ n: number }>`select count(*)::int8 as n from revenue_lots where pool is not null and pool not in (select id from accounts)`.execute(L.db);
    expect(rows[0]!.n).toBe(0);
    expect(await findUserAccounts(L.db as never, people.a)).toBeUndefined();
  });
});

describe('POST /v1/admin/ledger/periods/close', () => {
  it('freezes a month that is over with the checkpoint of that moment; it cannot be closed twice or changed', async () => {
    const month = '2026-11';
    const first = await call('POST', '/v1/admin/ledger/periods/close', { month, tz: 'Europe/Paris' });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ month, tz: 'Europe/Paris', from: '2026-10-31T23:00:00.000Z', to: '2026-11-30T23:00:00.000Z' });
    expect(first.body.checkpoint).toMatchObject({ id: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const again = await call('POST', '/v1/admin/ledger/periods/close', { month, tz: 'Europe/Paris' });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('FINANCE_PERIOD_CLOSED');
    const open = await call('POST', '/v1/admin/ledger/periods/close', { month: `${now().getUTCFullYear() + 1}-01`, tz: 'UTC' });
    expect(open.body.code).toBe('FINANCE_PERIOD_NOT_OVER');

    // A transfer dated inside the closed month, recognised only now (it committed just before the
    // close), is dated at the start of the next open period: the closed month does not change.
    const { rows } = await sql<{ id: string }>`select id from accounts where owner_id = ${people.c} and type = 'available'`.execute(L.db);
    const promo = await sql<{ id: string }>`select id from accounts where type = 'promo' and owner_id is null`.execute(L.db);
    await sql`insert into transfers (debit_account_id, credit_account_id, amount, kind, subject_id, reference, created_at)
              values (${promo.rows[0]!.id}, ${rows[0]!.id}, 5, 'grant_promo', ${rows[0]!.id}, 'late', '2026-11-20T10:00:00Z')`.execute(L.db);
    await sql`update accounts set balance = balance + 5 where id = ${rows[0]!.id}`.execute(L.db);
    await caughtUp();
    const late = await sql<{ created_at: Date }>`select created_at from revenue_movements where reference = 'late'`.execute(L.db);
    expect(late.rows[0]!.created_at.toISOString()).toBe('2026-11-30T23:00:00.000Z');
    const frozen = await call('GET', `/v1/admin/ledger/revenue?month=${month}&tz=Europe%2FParis`);
    expect(frozen.body.closed).toMatchObject({ checkpoint: first.body.checkpoint });
    expect(frozen.body.currencies).toEqual(first.body.figures.currencies);
    const live = await call('GET', `/v1/admin/ledger/revenue?from=2026-11-01&to=2026-12-01&tz=Europe%2FParis`);
    expect(live.body.currencies).toEqual(first.body.figures.currencies);
    const list = await call('GET', '/v1/admin/ledger/periods');
    expect(list.body.items.map((c: { month: string }) => c.month)).toEqual([month]);
  });
});
