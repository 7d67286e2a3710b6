import { createServer, type Server } from 'node:http';
import { readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unzipSync, strFromU8 } from 'fflate';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { sql } from '@imlab/db';
import { startFakeOidcIssuer, type FakeOidcIssuer } from '@imlab/testing';
import { loadAuthConfig, MAX_PURGE_DELAY_SECONDS } from '../src/config.js';
import { recordAudit } from '../src/audit/index.js';
import { PERSISTENT_RETRY_SPAN_MS } from '@imlab/queue';
import { call, settle, bearer, ipHash, outboxMessages, sentEmails, signedInUser, startAuth, INTERNAL_TOKEN, PUBLIC_BASE_URL, type TestAuth } from './helpers.js';

// a real 1x1 PNG
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

/**
 * Stands in for the ledger's, generation's and billing's /internal/users/:id/export (and
 * generation's files): answers only auth's service token for `service`, checked as the services
 * check it (auth's JWKS, `aud` internal:<service>, `sub` service:auth).
 */
async function fakeExportService(
  service: string,
  body: (userId: string) => unknown,
  files: Record<string, { type: string; bytes: Buffer }> = {},
): Promise<{ url: string; calls: string[]; fail: { status: number | null }; close(): Promise<void> }> {
  const calls: string[] = [];
  const fail = { status: null as number | null };
  const server: Server = createServer(async (req, res) => {
    const m = /^\/internal\/users\/([0-9a-f-]+)\/export$/.exec(req.url ?? '');
    const token = req.headers['x-imlab-internal-token'];
    const valid = await jwtVerify(typeof token === 'string' ? token : '', createRemoteJWKSet(new URL(`${t.url}/.well-known/jwks.json`)), {
      algorithms: ['EdDSA'],
      issuer: 'imlab-auth',
      audience: `internal:${service}`,
    }).then(
      ({ payload }) => payload.sub === 'service:auth',
      () => false,
    );
    if (!valid) return void res.writeHead(403).end();
    const file = files[req.url ?? ''];
    if (file) return void res.writeHead(200, { 'content-type': file.type }).end(file.bytes);
    if (!m) return void res.writeHead(404).end();
    calls.push(m[1]!);
    if (fail.status) return void res.writeHead(fail.status).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body(m[1]!)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    calls,
    fail,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

let t: TestAuth;
let ledger: Awaited<ReturnType<typeof fakeExportService>>;
let generation: Awaited<ReturnType<typeof fakeExportService>>;
let billing: Awaited<ReturnType<typeof fakeExportService>>;
let issuer: FakeOidcIssuer;
const CLIENT = { clientId: 'privacy-client', clientSecret: 'privacy-secret-0123456789' };
const PASSWORD = 'correct horse battery staple';
const setCookieNames = new Set<string>();

/** Every answer passes through here so the cookie promise can be checked at the end. */
async function c(...args: Parameters<typeof call>) {
  const r = await call(...args);
  for (const line of r.setCookies) setCookieNames.add(line.split('=')[0]!);
  return r;
}
const resolve = (token: string) => c(t.url, 'POST', '/internal/sessions/resolve', { body: { token, audience: 'auth' }, headers: { 'x-imlab-internal-token': INTERNAL_TOKEN } });

beforeAll(async () => {
  ledger = await fakeExportService('credits-ledger', (userId) => ({ userId, transactions: [{ id: 't1', amount: 50, kind: 'grant' }] }));
  generation = await fakeExportService(
    'generation',
    (userId) => ({
      userId,
      generations: [{ id: 'g1', prompt: 'a quiet workshop', images: [{ id: 'img1', url: '/internal/images/img1/original', thumbUrl: '/internal/images/img1/thumb' }] }],
      uploads: [{ id: 'up1', mime: 'image/png', url: '/internal/uploads/up1' }],
    }),
    { '/internal/images/img1/original': { type: 'image/png', bytes: PNG }, '/internal/uploads/up1': { type: 'image/png', bytes: PNG } },
  );
  billing = await fakeExportService('billing', (userId) => ({ userId, orders: [{ id: 'o1', packId: 'starter', credits: 100, amount: 500, currency: 'usd', status: 'paid' }] }));
  issuer = await startFakeOidcIssuer(CLIENT);
  t = await startAuth('auth_privacy', {
    LEDGER_URL: ledger.url,
    GENERATION_URL: generation.url,
    BILLING_URL: billing.url,
    GOOGLE_ISSUER: issuer.issuer,
    GOOGLE_CLIENT_ID: CLIENT.clientId,
    GOOGLE_CLIENT_SECRET: CLIENT.clientSecret,
  });
});
afterAll(async () => {
  await t?.close();
  await Promise.all([ledger?.close(), generation?.close(), billing?.close(), issuer?.close()]);
});

describe('DELETE /v1/me', () => {
  it('needs the password, or a recent sign-in', async () => {
    const { sid } = await signedInUser(t, 'stale@example.com');
    await sql`update sessions set authenticated_at = now() - interval '1 hour'`.execute(t.ctx.db);
    const bare = await c(t.url, 'DELETE', '/v1/me', { headers: await bearer(t, sid) });
    expect(bare.status).toBe(403);
    expect(bare.body.code).toBe('AUTH_REAUTH_REQUIRED');
    const wrong = await c(t.url, 'DELETE', '/v1/me', { body: { password: 'not my password' }, headers: await bearer(t, sid) });
    expect(wrong.status).toBe(403);
    const row = await t.ctx.db.selectFrom('users').select('status').where('email', '=', 'stale@example.com').executeTakeFirstOrThrow();
    expect(row.status).toBe('active');
    expect((await resolve(sid)).status).toBe(200);
  });

  it('disables the account at once, mails the schedule, and purges auth\'s rows after the delay with user.purge for everyone else', async () => {
    const email = 'leaving@example.com';
    const { sid, userId } = await signedInUser(t, email);
    await c(t.url, 'PATCH', '/v1/me', { body: { displayName: 'Zhang Wei Leaving' }, headers: await bearer(t, sid) });
    const other = await c(t.url, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD } });

    const del = await c(t.url, 'DELETE', '/v1/me', { body: { password: PASSWORD }, headers: await bearer(t, sid) });
    expect(del.status).toBe(202);
    const purgeAfter = new Date(del.body.purgeAfter).getTime();
    expect(purgeAfter - Date.now()).toBeGreaterThan(6.9 * 86400_000);
    expect(purgeAfter - Date.now()).toBeLessThan(30 * 86400_000);
    expect(del.cookies.imlab_sid).toBe('');
    for (const token of [sid, other.cookies.imlab_sid!]) expect((await resolve(token)).status).toBe(401);
    const mail = (await sentEmails(t, email)).find((m) => m.template === 'account-deletion-scheduled');
    expect(mail?.data.purgeAfter).toBe(del.body.purgeAfter);

    // a wrong password is refused exactly like an unknown address; the right one is offered to keep
    // the account (settings.test.ts) and still signs nothing in
    const wrong = await c(t.url, 'POST', '/v1/auth/login', { body: { email, password: 'not the password at all' } });
    const unknown = await c(t.url, 'POST', '/v1/auth/login', { body: { email: 'never@example.com', password: PASSWORD } });
    expect(wrong.status).toBe(401);
    expect({ ...wrong.body, requestId: 0 }).toEqual({ ...unknown.body, requestId: 0 });
    const right = await c(t.url, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD } });
    expect(right.status).toBe(403);
    expect(right.body).toMatchObject({ code: 'AUTH_DELETION_SCHEDULED', purgeAfter: del.body.purgeAfter });
    expect(right.cookies.imlab_sid).toBeUndefined();

    // nothing happens before the delay
    expect((await t.app.auth.privacy.runOnce()).purged).toBe(0);
    // the relay has long published everything by purge time
    await t.ctx.bus.flush();
    await sql`update users set purge_after = now() - interval '1 second' where id = ${userId}`.execute(t.ctx.db);
    expect((await t.app.auth.privacy.runOnce()).purged).toBe(1);

    expect(await outboxMessages(t, 'user.purge')).toContainEqual({ userId, deletionId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const dump = await sql<{ t: string }>`
      select coalesce(string_agg(x, E'\n'), '') as t from (
        select row_to_json(u)::text as x from users u union all select row_to_json(s)::text from sessions s
        union all select row_to_json(e)::text from email_tokens e union all select row_to_json(o)::text from outbox o
        union all select row_to_json(i)::text from identities i union all select row_to_json(x)::text from exports x
        union all select row_to_json(b)::text from signup_bonus_claims b) all_rows`.execute(t.ctx.db);
    expect(dump.rows[0]!.t).not.toContain(email);
    expect(dump.rows[0]!.t).not.toContain('Zhang Wei Leaving');
    for (const table of ['users', 'sessions', 'email_tokens', 'identities', 'exports'] as const) {
      const rows = await sql`select 1 from ${sql.table(table)} where ${sql.ref(table === 'users' ? 'id' : 'user_id')} = ${userId}`.execute(t.ctx.db);
      expect(rows.rows, table).toEqual([]);
    }
    // the address is free again
    const again = await c(t.url, 'POST', '/v1/auth/signup', { body: { email, password: PASSWORD }, headers: { 'x-imlab-ip-hash': ipHash() } });
    expect(again.status).toBe(202);
    await settle(t);
    expect((await t.ctx.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirstOrThrow()).id).not.toBe(userId);
  });

  it('keeps a receipt under a deletion id naming nobody; the last service\'s report sends the account-deleted email, once', async () => {
    const email = 'receipt@example.com';
    const { sid, userId } = await signedInUser(t, email);
    expect((await c(t.url, 'DELETE', '/v1/me', { body: { password: PASSWORD }, headers: await bearer(t, sid) })).status).toBe(202);
    await sql`update users set purge_after = now() - interval '1 second' where id = ${userId}`.execute(t.ctx.db);
    expect((await t.app.auth.privacy.runOnce()).purged).toBe(1);
    const purge = (await outboxMessages(t, 'user.purge')).find((m) => m.userId === userId)!;
    const deletionId = purge.deletionId as string;
    const receipt = await t.ctx.db.selectFrom('deletion_receipts').selectAll().where('id', '=', deletionId).executeTakeFirstOrThrow();
    // the address waits sealed for the last email; nothing else names the person
    expect(receipt.email_sealed).toMatch(/^sealed:/);
    expect(JSON.stringify(receipt)).not.toContain(userId);
    expect(JSON.stringify(receipt)).not.toContain(email);

    // ops sees it unfinished, with what is missing (ops or admin only)
    const plain = await signedInUser(t, 'plain-person@example.com');
    const refused = await c(t.url, 'GET', '/v1/admin/accounts/deletions', { headers: await bearer(t, plain.sid) });
    expect([refused.status, refused.body.code]).toEqual([403, 'FORBIDDEN']);
    const ops = await signedInUser(t, 'ops-person@example.com');
    await sql`update users set roles = '{user,ops}' where email = 'ops-person@example.com'`.execute(t.ctx.db);
    const asOps = await bearer(t, ops.sid);
    const listed = await c(t.url, 'GET', '/v1/admin/accounts/deletions', { headers: asOps });
    expect(listed.status).toBe(200);
    expect(listed.body.deletions).toContainEqual(expect.objectContaining({ id: deletionId, partsDone: [], partsPending: ['credits-ledger', 'generation', 'billing', 'notification'] }));
    expect((await c(t.url, 'GET', '/v1/admin/accounts/deletions?olderThanDays=2', { headers: asOps })).body.deletions.map((d: { id: string }) => d.id)).not.toContain(deletionId);
    const gauge = async () => (await t.app.metricsRegistry.getSingleMetric('imlab_auth_deletions_incomplete')!.get()).values.find((v) => v.labels.age === 'any')!.value;
    expect(await gauge()).toBeGreaterThanOrEqual(1);

    const report = (service: string) => t.ctx.db.transaction().execute((tx) => t.app.auth.privacy.receipts.partDone(tx, deletionId, service));
    const deleted = async () => (await sentEmails(t, email)).filter((m) => m.template === 'account-deleted');
    for (const service of ['credits-ledger', 'billing', 'notification']) expect(await report(service)).toEqual({ complete: false, emailed: false });
    expect(await report('billing')).toEqual({ complete: false, emailed: false }); // a repeated report changes nothing
    expect(await deleted()).toEqual([]);
    expect(await report('generation')).toEqual({ complete: true, emailed: true });
    const mails = await deleted();
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ to: email, idempotencyKey: `account-deleted:${deletionId}` });
    // no user id: notification forgot the person; the address travelled sealed
    const raw = (await t.ctx.db.selectFrom('outbox').select('payload').where('name', '=', 'email.send').execute()).map((r) => r.payload as Record<string, unknown>).find((p) => p.idempotencyKey === `account-deleted:${deletionId}`)!;
    expect(raw.userId).toBeUndefined();
    expect(String(raw.to)).toMatch(/^sealed:/);
    // the address is gone from the receipt; a late duplicate sends nothing more
    const done = await t.ctx.db.selectFrom('deletion_receipts').selectAll().where('id', '=', deletionId).executeTakeFirstOrThrow();
    expect(done.email_sealed).toBeNull();
    expect(done.completed_at).not.toBeNull();
    expect(Object.keys(done.parts_done).sort()).toEqual(['billing', 'credits-ledger', 'generation', 'notification']);
    expect(await report('generation')).toEqual({ complete: true, emailed: false });
    expect(await deleted()).toHaveLength(1);
    expect((await c(t.url, 'GET', '/v1/admin/accounts/deletions', { headers: asOps })).body.deletions.map((d: { id: string }) => d.id)).not.toContain(deletionId);
  });

  it('deletes sign-up bonus claims once their window is over (no IP hash kept beside a credit history)', async () => {
    const old = { id: uuidv7(), ip_hash: ipHash(), user_id: null, granted_at: new Date(Date.now() - t.config.SIGNUP_BONUS_WINDOW * 1000 - 60_000) };
    const recent = { id: uuidv7(), ip_hash: ipHash(), user_id: null, granted_at: new Date(Date.now() - 60_000) };
    await t.ctx.db.insertInto('signup_bonus_claims').values([old, recent]).execute();
    await t.app.auth.privacy.runOnce();
    const left = (await t.ctx.db.selectFrom('signup_bonus_claims').select('id').where('id', 'in', [old.id, recent.id]).execute()).map((r) => r.id);
    expect(left).toEqual([recent.id]); // the recent one still limits its network to one bonus
  });

  it('lets a Google-only account leave with a recent sign-in, and forgets its subject id', async () => {
    const s = await c(t.url, 'GET', '/v1/auth/google/start');
    const back = new URL(issuer.approve(s.headers.get('location')!, { sub: 'g-leave', email: 'g-leave@gmail.example', email_verified: true }));
    const cb = await c(t.url, 'GET', back.pathname + back.search, { cookies: { imlab_sid: s.cookies.imlab_sid! } });
    const sid = cb.cookies.imlab_sid!;
    const { userId } = (await resolve(sid)).body;
    expect((await c(t.url, 'DELETE', '/v1/me', { headers: await bearer(t, sid) })).status).toBe(202);
    await sql`update users set purge_after = now() - interval '1 second' where id = ${userId}`.execute(t.ctx.db);
    await t.app.auth.privacy.runOnce();
    expect(await t.ctx.db.selectFrom('identities').select('subject').where('subject', '=', 'g-leave').execute()).toEqual([]);
  });

  it('signs nobody in with Google to an account waiting for its purge (it offers to keep it instead)', async () => {
    const first = await c(t.url, 'GET', '/v1/auth/google/start');
    const back = new URL(issuer.approve(first.headers.get('location')!, { sub: 'g-grace', email: 'g-grace@gmail.example', email_verified: true }));
    const sid = (await c(t.url, 'GET', back.pathname + back.search, { cookies: { imlab_sid: first.cookies.imlab_sid! } })).cookies.imlab_sid!;
    expect((await c(t.url, 'DELETE', '/v1/me', { headers: await bearer(t, sid) })).status).toBe(202);
    const again = await c(t.url, 'GET', '/v1/auth/google/start');
    const back2 = new URL(issuer.approve(again.headers.get('location')!, { sub: 'g-grace', email: 'g-grace@gmail.example', email_verified: true }));
    const r = await c(t.url, 'GET', back2.pathname + back2.search, { cookies: { imlab_sid: again.cookies.imlab_sid! } });
    expect(new URL(r.headers.get('location')!).searchParams.get('error')).toBe('deletion_scheduled');
    expect(r.cookies.imlab_sid).toBeUndefined();
  });

  it('refuses at start-up a purge delay that, with the purge retried while a service is down, could end past 30 days', () => {
    // The purge message is retried for about 20 days: a delay of 29 days could remove the data on day 48.
    expect(PERSISTENT_RETRY_SPAN_MS / 86_400_000).toBeGreaterThan(19);
    expect(() => loadAuthConfig({ ...t.env, ACCOUNT_PURGE_DELAY: '29d' })).toThrow(/ACCOUNT_PURGE_DELAY/);
    expect(() => loadAuthConfig({ ...t.env, ACCOUNT_PURGE_DELAY: '11d' })).toThrow(/ACCOUNT_PURGE_DELAY/);
    expect(loadAuthConfig({ ...t.env, ACCOUNT_PURGE_DELAY: '7d' }).ACCOUNT_PURGE_DELAY).toBe(7 * 86400);
    expect(MAX_PURGE_DELAY_SECONDS * 1000 + PERSISTENT_RETRY_SPAN_MS).toBeLessThanOrEqual(30 * 86_400_000);
  });

  it('names every bad variable in one message, the cross-variable rules included', () => {
    let message = '';
    try {
      loadAuthConfig({ ...t.env, PORT: 'abc', ACCOUNT_PURGE_DELAY: '29d', SESSION_TTL: '1h', SESSION_IDLE_TTL: '2h', GOOGLE_CLIENT_ID: 'only-the-id', GOOGLE_CLIENT_SECRET: '' });
    } catch (err) {
      message = (err as Error).message;
    }
    for (const name of ['PORT', 'ACCOUNT_PURGE_DELAY', 'SESSION_IDLE_TTL', 'GOOGLE_CLIENT_SECRET']) expect(message).toContain(name);
  });
});

describe('exports', () => {
  it('collects profile, credits and images into a zip only its owner can download', async () => {
    const { sid, userId } = await signedInUser(t, 'exporter@example.com');
    const auth = await bearer(t, sid);
    // a back-office action that concerned them (and one that did not)
    const takedown = { id: uuidv7(), at: new Date().toISOString(), service: 'generation' as const, actorId: uuidv7(), action: 'image.taken-down' as const, targetUserId: userId, targetIds: { image: uuidv7() }, reason: 'graphic violence' };
    await t.ctx.db.transaction().execute(async (tx) => {
      await recordAudit(tx, takedown);
      await recordAudit(tx, { ...takedown, id: uuidv7(), targetUserId: uuidv7() });
    });
    const req = await c(t.url, 'POST', '/v1/me/exports', { headers: auth });
    expect(req.status).toBe(202);
    expect(req.body.status).toBe('pending');
    // asking again while one is open returns the same job
    expect((await c(t.url, 'POST', '/v1/me/exports', { headers: auth })).body.id).toBe(req.body.id);

    expect((await t.app.auth.privacy.runOnce()).exports).toBe(1);
    expect(ledger.calls).toContain(userId);
    expect(generation.calls).toContain(userId);

    const status = await c(t.url, 'GET', `/v1/me/exports/${req.body.id}`, { headers: auth });
    expect(status.body).toMatchObject({ id: req.body.id, status: 'ready', downloadUrl: `/v1/me/exports/${req.body.id}/download` });
    const mail = (await sentEmails(t, 'exporter@example.com')).find((m) => m.template === 'export-ready');
    expect(mail?.data.link).toBe(`${PUBLIC_BASE_URL}/v1/me/exports/${req.body.id}/download`);

    const res = await fetch(`${t.url}${status.body.downloadUrl}`, { headers: auth });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/zip');
    const files = unzipSync(new Uint8Array(await res.arrayBuffer()));
    expect(Object.keys(files).sort()).toEqual(['README.txt', 'audit.json', 'credits.json', 'images.json', 'images/img1.png', 'orders.json', 'profile.json', 'uploads/up1.png']);
    // the actor was never an account here (no user row): stored without their id
    expect(JSON.parse(strFromU8(files['audit.json']!))).toEqual([{ ...takedown, actorId: null }]);
    expect(JSON.parse(strFromU8(files['orders.json']!))).toEqual({ userId, orders: [{ id: 'o1', packId: 'starter', credits: 100, amount: 500, currency: 'usd', status: 'paid' }] });
    expect(billing.calls).toContain(userId);
    expect(Buffer.from(files['images/img1.png']!)).toEqual(PNG);
    expect(Buffer.from(files['uploads/up1.png']!)).toEqual(PNG);
    expect(JSON.parse(strFromU8(files['profile.json']!))).toMatchObject({ id: userId, email: 'exporter@example.com' });
    expect(JSON.parse(strFromU8(files['credits.json']!))).toEqual({ userId, transactions: [{ id: 't1', amount: 50, kind: 'grant' }] });
    // internal URLs are replaced by the files' places in the archive
    expect(JSON.parse(strFromU8(files['images.json']!))).toEqual({
      userId,
      generations: [{ id: 'g1', prompt: 'a quiet workshop', images: [{ id: 'img1', file: 'images/img1.png' }] }],
      uploads: [{ id: 'up1', mime: 'image/png', file: 'uploads/up1.png' }],
    });

    // someone else sees nothing
    const stranger = await signedInUser(t, 'stranger@example.com');
    const sAuth = await bearer(t, stranger.sid);
    expect((await c(t.url, 'GET', `/v1/me/exports/${req.body.id}`, { headers: sAuth })).status).toBe(404);
    expect((await c(t.url, 'GET', `/v1/me/exports/${req.body.id}/download`, { headers: sAuth })).status).toBe(404);
    expect((await c(t.url, 'GET', `/v1/me/exports/${req.body.id}/download`)).status).toBe(401);
  });

  it('retries when a service is down and reports failed after the last attempt', async () => {
    const { sid } = await signedInUser(t, 'unlucky@example.com');
    const auth = await bearer(t, sid);
    generation.fail.status = 503;
    try {
      const req = await c(t.url, 'POST', '/v1/me/exports', { headers: auth });
      for (let attempt = 1; attempt <= 5; attempt++) {
        await t.app.auth.privacy.runOnce();
        const row = await t.ctx.db.selectFrom('exports').selectAll().where('id', '=', req.body.id).executeTakeFirstOrThrow();
        expect(row.attempts).toBe(attempt);
        expect(row.status).toBe(attempt < 5 ? 'pending' : 'failed');
        // skip the pause before the next attempt
        await sql`update exports set lease_until = now() - interval '1 second' where id = ${req.body.id} and status = 'pending'`.execute(t.ctx.db);
      }
      expect((await c(t.url, 'GET', `/v1/me/exports/${req.body.id}`, { headers: auth })).body.status).toBe('failed');
      expect(await readdir(t.app.auth.privacy.exportDir)).not.toContain(`${req.body.id}.zip`);
    } finally {
      generation.fail.status = null;
    }
  });
});

describe('export jobs survive crashes and expire', () => {
  it('an export whose worker died mid-way (lease ran out) is picked up again and finished', async () => {
    const { sid } = await signedInUser(t, 'crashed@example.com');
    const auth = await bearer(t, sid);
    const req = await c(t.url, 'POST', '/v1/me/exports', { headers: auth });
    // what a worker leaves behind when killed while building: running, attempt counted, lease held
    await sql`update exports set status = 'running', attempts = 1, lease_until = now() + interval '5 minutes' where id = ${req.body.id}`.execute(t.ctx.db);
    expect((await t.app.auth.privacy.runOnce()).exports).toBe(0); // the lease still protects it
    await sql`update exports set lease_until = now() - interval '1 second' where id = ${req.body.id}`.execute(t.ctx.db);
    expect((await t.app.auth.privacy.runOnce()).exports).toBe(1);
    const status = await c(t.url, 'GET', `/v1/me/exports/${req.body.id}`, { headers: auth });
    expect(status.body.status).toBe('ready');
    const row = await t.ctx.db.selectFrom('exports').select('attempts').where('id', '=', req.body.id).executeTakeFirstOrThrow();
    expect(row.attempts).toBe(2);
  });

  it('a ready export is deleted, file and all, once it expires', async () => {
    const { sid } = await signedInUser(t, 'expiring@example.com');
    const auth = await bearer(t, sid);
    const req = await c(t.url, 'POST', '/v1/me/exports', { headers: auth });
    await t.app.auth.privacy.runOnce();
    expect(await readdir(t.app.auth.privacy.exportDir)).toContain(`${req.body.id}.zip`);
    await sql`update exports set expires_at = now() - interval '1 second' where id = ${req.body.id}`.execute(t.ctx.db);
    await t.app.auth.privacy.runOnce();
    expect(await readdir(t.app.auth.privacy.exportDir)).not.toContain(`${req.body.id}.zip`);
    expect((await c(t.url, 'GET', `/v1/me/exports/${req.body.id}/download`, { headers: auth })).status).toBe(404);
  });

  it('removes archive files no ready export points at (a crash between row and file), but not a build in progress', async () => {
    const { sid } = await signedInUser(t, 'orphans@example.com');
    const req = await c(t.url, 'POST', '/v1/me/exports', { headers: await bearer(t, sid) });
    await t.app.auth.privacy.runOnce();
    const dir = t.app.auth.privacy.exportDir;
    const old = new Date(Date.now() - 3600_000);
    const stray = [`${uuidv7()}.zip`, `${uuidv7()}.zip.part`];
    for (const name of stray) {
      await writeFile(join(dir, name), 'profile, prompts and images of someone gone');
      await utimes(join(dir, name), old, old);
    }
    const building = `${uuidv7()}.zip.part`; // written just now: a live build
    await writeFile(join(dir, building), 'in progress');
    await utimes(join(dir, `${req.body.id}.zip`), old, old); // old, but its export is ready: kept
    expect(await t.app.auth.privacy.sweepOrphanFiles()).toBe(2);
    const left = await readdir(dir);
    for (const name of stray) expect(left).not.toContain(name);
    expect(left).toContain(building);
    expect(left).toContain(`${req.body.id}.zip`);
    await rm(join(dir, building));
  });
});

describe('cookies', () => {
  it('only imlab_sid and locale were ever set across every flow in this file', () => {
    expect(setCookieNames.size).toBeGreaterThan(0);
    expect([...setCookieNames].sort()).toEqual(['imlab_sid', 'locale']);
  });
});
