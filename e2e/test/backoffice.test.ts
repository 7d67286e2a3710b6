// The back office (issue #20) end to end through the gateway, on its own running system: reports
// hide an image at the threshold, a moderator takes it down, its owner is emailed, the audit log
// holds it for admins; suspension ends sessions at the gateway at once; goodwill credits land in the
// person's history and in the books.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '@imlab/client';
import { eventually } from '@imlab/testing';
import { grantRoles, scanDatabase, startSystem, type E2E } from './system.js';
import { Browser, PASSWORD, generate, mailText, signUpVerified } from './browser.js';
import { loadContract } from './contract.js';

const e2e = { browser: (ip?: string) => new Browser(() => e2e, ip) } as E2E;
const IPS = { owner: '127.0.0.90', moderator: '127.0.0.91', admin: '127.0.0.92', reporterA: '127.0.0.93', reporterB: '127.0.0.94', member: '127.0.0.95' } as const;

/** A signed-in person with roles (a new sign-in carries them). */
async function staff(ip: string, email: string, roles: string[]): Promise<Browser> {
  const b = e2e.browser(ip);
  await signUpVerified(e2e.sys, b, email);
  await grantRoles(e2e.sys, email, roles);
  expect((await b.api.POST('/v1/auth/login', { body: { email, password: PASSWORD } })).response.status).toBe(200);
  return b;
}

const people: { owner?: Browser; ownerId?: string; moderator?: Browser; moderatorId?: string; admin?: Browser; imageId?: string } = {};

beforeAll(async () => {
  e2e.sys = await startSystem('backoffice', { REPORT_HIDE_THRESHOLD: '2', LOCAL_RENDER_MS: '200', SESSION_CACHE_TTL: '30', GOODWILL_MAX_PER_GRANT: '30', GOODWILL_MAX_PER_ADMIN_PER_DAY: '40' });
  e2e.contract = await loadContract(e2e.sys.gatewayUrl, { outside: { '/admin/queues': 'the ops queue board' } });
  people.owner = e2e.browser(IPS.owner);
  await signUpVerified(e2e.sys, people.owner, 'owner@example.com');
  people.ownerId = (await ok(people.owner.api.GET('/v1/me'))).id;
  people.moderator = await staff(IPS.moderator, 'moderator@example.com', ['moderator']);
  people.moderatorId = (await ok(people.moderator.api.GET('/v1/me'))).id;
  people.admin = await staff(IPS.admin, 'admin@example.com', ['admin']);
  await eventually(async () => (await people.owner!.api.GET('/v1/credits/balance')).data?.available === 40, 30_000);
}, 300_000);

afterAll(async () => {
  await e2e.sys?.stop();
});

describe('reports and review, through the gateway', () => {
  it('report → hidden at the threshold → review → takedown → owner emailed in their language, audited', async () => {
    const owner = people.owner!;
    const image = (await generate(owner, 'a lighthouse at dusk')).images[0]!;
    people.imageId = image.id;
    expect((await owner.api.POST('/v1/images/{id}/publish', { params: { path: { id: image.id } } })).response.status).toBe(200);
    const inGallery = async () => (await ok(e2e.browser(IPS.member).api.GET('/v1/gallery'))).items.some((i) => i.id === image.id);
    expect(await inGallery()).toBe(true);

    // two people, signed out, from two networks
    const a = e2e.browser(IPS.reporterA);
    const first = await a.api.POST('/v1/images/{id}/reports', { params: { path: { id: image.id } }, body: { reason: 'violence', note: 'blood everywhere' } });
    expect(first.response.status).toBe(202);
    const again = await a.api.POST('/v1/images/{id}/reports', { params: { path: { id: image.id } }, body: { reason: 'violence' } });
    expect(again.error).toMatchObject({ status: 409, code: 'IMAGE_ALREADY_REPORTED' });
    expect(await inGallery()).toBe(true);
    const b = e2e.browser(IPS.reporterB);
    expect((await b.api.POST('/v1/images/{id}/reports', { params: { path: { id: image.id } }, body: { reason: 'hate' } })).response.status).toBe(202);
    expect(await inGallery()).toBe(false);

    // only moderators review
    expect((await owner.api.GET('/v1/admin/moderation/images')).error).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    const mod = people.moderator!;
    const queue = await ok(mod.api.GET('/v1/admin/moderation/images'));
    expect(queue.items.find((i) => i.imageId === image.id)).toMatchObject({ state: 'hidden', openReports: 2, ownerId: people.ownerId });
    const down = await mod.api.POST('/v1/admin/moderation/images/{id}/takedown', { params: { path: { id: image.id } }, body: { rule: 'violence', reason: 'graphic violence, confirmed on review' } });
    expect(down.data).toMatchObject({ id: image.id, state: 'taken-down' });
    expect(await inGallery()).toBe(false);
    expect((await owner.api.POST('/v1/images/{id}/publish', { params: { path: { id: image.id } } })).error).toMatchObject({ status: 403, code: 'IMAGE_TAKEN_DOWN' });

    // the owner is told, with the rule, in their language
    const mail = await eventually(() => mailText(e2e.sys, 'owner@example.com', 'image-taken-down'), 30_000);
    expect(mail).toContain('graphic violence');

    // the audit log has it, for admins only, naming ids only
    expect((await mod.api.GET('/v1/admin/audit')).error).toMatchObject({ status: 403 });
    const entry = await eventually(async () => (await ok(people.admin!.api.GET('/v1/admin/audit', { params: { query: { action: 'image.taken-down' } } }))).items[0], 30_000);
    expect(entry).toMatchObject({ id: down.data!.auditId, service: 'generation', actorId: people.moderatorId, targetUserId: people.ownerId, targetIds: { image: image.id }, reason: 'graphic violence, confirmed on review' });
  }, 120_000);
});

describe('suspension, through the gateway', () => {
  it('suspend → sessions dead at the gateway at once (even its cached one), sign-in refused, the person told; unsuspend lifts it', async () => {
    const member = e2e.browser(IPS.member);
    await signUpVerified(e2e.sys, member, 'member@example.com');
    const memberId = (await ok(member.api.GET('/v1/me'))).id;
    // the gateway now reuses this session for SESSION_CACHE_TTL (30 s here)
    expect((await member.api.GET('/v1/generations')).response.status).toBe(200);
    expect((await member.api.GET('/v1/generations')).response.status).toBe(200);

    const admin = people.admin!;
    expect((await people.moderator!.api.POST('/v1/admin/accounts/{id}/suspend', { params: { path: { id: memberId } }, body: { reason: 'spam' } })).error).toMatchObject({ status: 403 });
    expect((await admin.api.POST('/v1/admin/accounts/{id}/suspend', { params: { path: { id: memberId } }, body: { reason: 'x' } })).error).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    const suspended = await admin.api.POST('/v1/admin/accounts/{id}/suspend', { params: { path: { id: memberId } }, body: { reason: 'spam accounts ring, see ticket 42' } });
    expect(suspended.data).toMatchObject({ userId: memberId, suspended: true });
    // at once: no grace for the session the gateway had cached
    expect((await member.api.GET('/v1/generations')).error).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    expect((await member.api.GET('/v1/me')).response.status).toBe(401);
    const again = await member.api.POST('/v1/auth/login', { body: { email: 'member@example.com', password: PASSWORD } });
    expect(again.error).toMatchObject({ status: 403, code: 'ACCOUNT_SUSPENDED' });
    expect((await admin.api.POST('/v1/admin/accounts/{id}/suspend', { params: { path: { id: memberId } }, body: { reason: 'twice' } })).error).toMatchObject({ status: 409, code: 'ACCOUNT_SUSPENSION_UNCHANGED' });
    expect(await eventually(() => mailText(e2e.sys, 'member@example.com', 'account-suspended'), 30_000)).toContain('suspended');

    const lifted = await admin.api.POST('/v1/admin/accounts/{id}/unsuspend', { params: { path: { id: memberId } }, body: { reason: 'appeal accepted' } });
    expect(lifted.data).toMatchObject({ userId: memberId, suspended: false });
    expect((await member.api.POST('/v1/auth/login', { body: { email: 'member@example.com', password: PASSWORD } })).response.status).toBe(200);
    expect((await member.api.GET('/v1/generations')).response.status).toBe(200);
    await eventually(() => mailText(e2e.sys, 'member@example.com', 'account-reinstated'), 30_000);
    const log = await ok(admin.api.GET('/v1/admin/audit', { params: { query: { targetUserId: memberId } } }));
    expect(log.items.map((i) => i.action)).toEqual(['account.unsuspended', 'account.suspended']);
    expect(log.items[1]).toMatchObject({ service: 'auth', reason: 'spam accounts ring, see ticket 42' });
  }, 120_000);
});

describe('goodwill credits, through the gateway', () => {
  it('an admin grants credits with a reason: capped, in the person\'s history as goodwill (in their language), in the books, audited', async () => {
    const owner = people.owner!;
    const admin = people.admin!;
    const before = await ok(owner.api.GET('/v1/credits/balance'));
    const tbBefore = await ok(admin.api.GET('/v1/admin/ledger/trial-balance'));
    const body = { userId: people.ownerId!, amount: 15, reason: 'render outage on 5 December, ticket 77' };
    const key = (k: string = randomUUID()) => ({ header: { 'idempotency-key': k } });
    expect((await people.moderator!.api.POST('/v1/admin/ledger/goodwill', { body, params: key() })).error).toMatchObject({ status: 403 });
    expect((await admin.api.POST('/v1/admin/ledger/goodwill', { body: { ...body, amount: 31 }, params: key() })).error).toMatchObject({ status: 422, code: 'LEDGER_GOODWILL_CAP' });
    // without a key, a lost answer could not be retried safely: refused, nothing granted
    const keyless = await admin.api.POST('/v1/admin/ledger/goodwill', { body } as never);
    expect(keyless.error).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect(keyless.response.headers.get('content-type')).toContain('application/problem+json');
    const once = randomUUID();
    const granted = await admin.api.POST('/v1/admin/ledger/goodwill', { body, params: key(once) });
    expect(granted.response.status).toBe(201);
    expect(granted.data).toMatchObject({ userId: people.ownerId, amount: 15, grantedTodayByYou: 15 });
    // the same request again (its answer lost): the first grant, 200, nothing granted
    const replay = await admin.api.POST('/v1/admin/ledger/goodwill', { body, params: key(once) });
    expect(replay.response.status).toBe(200);
    expect(replay.data).toEqual(granted.data);
    expect((await admin.api.POST('/v1/admin/ledger/goodwill', { body: { ...body, amount: 14 }, params: key(once) })).error).toMatchObject({ status: 409, code: 'LEDGER_IDEMPOTENCY_CONFLICT' });
    // the day's cap (40 here) counts what this admin already gave
    expect((await admin.api.POST('/v1/admin/ledger/goodwill', { body: { ...body, amount: 30 }, params: key() })).error).toMatchObject({ status: 422, code: 'LEDGER_GOODWILL_CAP' });
    expect((await ok(owner.api.GET('/v1/credits/balance'))).available).toBe(before.available + 15);
    const history = await ok(owner.api.GET('/v1/credits/transactions'));
    expect(history.items[0]).toMatchObject({ kind: 'goodwill', amount: 15 });
    expect(history.items[0]!.description).toMatch(/goodwill/i);
    owner.cookies.set('locale', 'zh');
    const zh = await ok(owner.api.GET('/v1/credits/transactions'));
    owner.cookies.delete('locale');
    expect(zh.items[0]!.description).toContain('客服补偿积分');
    // the books: the goodwill account gave exactly that, and everything still balances
    const tb = await ok(admin.api.GET('/v1/admin/ledger/trial-balance'));
    const goodwill = (t: typeof tb) => t.lines.find((l) => l.type === 'goodwill')?.balance ?? 0;
    expect(goodwill(tb) - goodwill(tbBefore)).toBe(-15);
    expect(tb.totals.balance).toBe(0);
    const entry = await eventually(async () => (await ok(admin.api.GET('/v1/admin/audit', { params: { query: { action: 'credits.goodwill-granted' } } }))).items[0], 30_000);
    expect(entry).toMatchObject({ service: 'credits-ledger', targetUserId: people.ownerId, reason: '15 credits: render outage on 5 December, ticket 77' });
  }, 120_000);
});

describe('support look-up, through the gateway', () => {
  it('finds an account by email or id with a written reason; prompts only when asked, each look-up audited', async () => {
    const admin = people.admin!;
    expect((await people.moderator!.api.POST('/v1/admin/support/lookup', { body: { email: 'owner@example.com', reason: 'ticket 88' } })).error).toMatchObject({ status: 403 });
    expect((await admin.api.POST('/v1/admin/support/lookup', { body: { email: 'owner@example.com', userId: people.ownerId!, reason: 'ticket 88' } })).error).toMatchObject({ status: 400 });
    expect((await admin.api.POST('/v1/admin/support/lookup', { body: { email: 'nobody@example.com', reason: 'ticket 88' } })).error).toMatchObject({ status: 404, code: 'ACCOUNT_NOT_FOUND' });
    const plain = await ok(admin.api.POST('/v1/admin/support/lookup', { body: { email: 'OWNER@example.com', reason: 'ticket 88: missing credits' } }));
    expect(plain.account).toMatchObject({ id: people.ownerId, email: 'owner@example.com', suspended: false });
    expect(plain.balance.available).toBeGreaterThan(0);
    expect(plain.generations.length).toBeGreaterThan(0);
    expect(plain.generations.every((g) => g.prompt === null)).toBe(true);
    expect(JSON.stringify(plain)).not.toContain('lighthouse');
    const withPrompts = await ok(admin.api.POST('/v1/admin/support/lookup', { body: { userId: people.ownerId!, reason: 'ticket 89: a prompt refused wrongly?', showPrompts: true } }));
    expect(withPrompts.generations.map((g) => g.prompt)).toContain('a lighthouse at dusk');
    const log = await ok(admin.api.GET('/v1/admin/audit', { params: { query: { targetUserId: people.ownerId! } } }));
    const actions = log.items.map((i) => `${i.action} ${i.reason}`);
    expect(actions).toEqual(expect.arrayContaining(['support.account-viewed ticket 88: missing credits', 'support.prompts-viewed ticket 89: a prompt refused wrongly?']));
    expect(actions.filter((a) => a.startsWith('support.prompts-viewed'))).toHaveLength(1);
  }, 120_000);
});

describe('daily metrics, through the gateway', () => {
  it('an admin reads aggregated daily counts of every service; small counts are suppressed, no person is named', async () => {
    const day = new Date().toISOString().slice(0, 10);
    expect((await people.moderator!.api.GET('/v1/admin/metrics/daily', { params: { query: { from: day, to: day } } })).error).toMatchObject({ status: 403 });
    expect((await people.admin!.api.GET('/v1/admin/metrics/daily', { params: { query: { from: day, to: '2000-01-01' } } })).error).toMatchObject({ status: 400 });
    const m = await ok(people.admin!.api.GET('/v1/admin/metrics/daily', { params: { query: { from: day, to: day } } }));
    const find = (service: string, metric: string, labels: Record<string, string> = {}) =>
      m.items.find((i) => i.service === service && i.metric === metric && Object.entries(labels).every(([k, v]) => i.labels[k] === v));
    // four people signed up and verified today here, two reports: counts 1–4 are suppressed
    expect(find('auth', 'signups')).toMatchObject({ value: null });
    expect(find('auth', 'verified')).toMatchObject({ value: null });
    expect(find('generation', 'reports', { reason: 'violence' })).toMatchObject({ value: null });
    expect(find('credits-ledger', 'credits', { flow: 'goodwill' })?.value).toBe(15);
    // four sign-up bonuses of 40
    expect(find('credits-ledger', 'credits', { flow: 'bonus' })?.value).toBe(160);
    const text = JSON.stringify(m);
    for (const id of [people.ownerId!, people.moderatorId!]) expect(text).not.toContain(id);
    expect(text).not.toMatch(/@example\.com/);
    // and Prometheus has today's counts as gauges
    const scrape = (await (await fetch(e2e.sys.metricsUrls['auth']!)).text()).split('\n').filter((l) => l.startsWith('imlab_')).join('\n');
    // prom-client writes NaN as "Nan" (Prometheus parses either)
    expect(scrape).toMatch(/^imlab_auth_signups_today_accounts\{[^}]*\} nan$/im);
    const ledger = (await (await fetch(e2e.sys.metricsUrls['credits-ledger']!)).text()).split('\n').filter((l) => l.startsWith('imlab_')).join('\n');
    expect(ledger).toMatch(/^imlab_ledger_credits_today_credits\{[^}]*flow="goodwill"[^}]*\} 15$/m);
  }, 60_000);
});

describe('fraud signals, through the gateway', () => {
  it('are for admins, ids only', async () => {
    expect((await people.moderator!.api.GET('/v1/admin/fraud/signals')).error).toMatchObject({ status: 403 });
    const signals = await ok(people.admin!.api.GET('/v1/admin/fraud/signals'));
    // nobody here signed up five times from one address, failed three payments or disputed
    expect(signals.items).toEqual([]);
  });
});

describe('after all of it', () => {
  it('no back-office, report or metrics table names a person beyond ids: no address, email, display name or prompt', async () => {
    const needles = [...Object.values(IPS), 'owner@example.com', 'member@example.com', 'moderator@example.com', 'admin@example.com', 'a lighthouse at dusk'];
    const db = e2e.sys.databases;
    // generation and the ledger hold the reports, takedowns, daily counts and goodwill grants (the prompt lives in generations, the owner's own row)
    expect(await scanDatabase(db.generation!, needles, ['generations'])).toEqual([]);
    expect(await scanDatabase(db.ledger!, needles)).toEqual([]);
    // auth: the audit log (users and the outbox hold what they always held)
    const authHits = await scanDatabase(db.auth!, [...needles, 'Mei <b>Ling</b>'], ['users', 'outbox', 'identities', 'sessions', 'email_tokens', 'exports', 'deletion_receipts', 'signup_bonus_claims', 'inbox']);
    expect(authHits).toEqual([]);
  }, 60_000);
});

describe('the API document, after all of it', () => {
  it('declared every answer: status, content type, headers and body', () => {
    const { mismatches } = e2e.contract;
    expect([...new Set(mismatches)]).toEqual([]);
  });
});
