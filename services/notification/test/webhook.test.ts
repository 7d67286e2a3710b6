import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import { addressHash } from '../src/delivery/address.js';
import { startService, svixHeaders, type Service } from './harness.js';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const URL_PATH = '/v1/notifications/webhooks/resend';
let svc: Service;
let base: string;

beforeAll(async () => {
  // No consumers: only the HTTP side is under test here.
  svc = await startService('notif-webhook', { env: { RESEND_API_KEY: 're_unused', RESEND_WEBHOOK_SECRET: SECRET }, consumers: false });
  base = await svc.app.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await svc?.close();
});

function signed(body: string, opts: { secret?: string; at?: Date } = {}) {
  return { 'content-type': 'application/json', ...svixHeaders(opts.secret ?? SECRET, body, opts.at) };
}

function event(type: string, to: string, extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    type,
    created_at: new Date().toISOString(),
    data: { email_id: randomUUID(), from: 'hello@mail.imlab.test', to: [to], subject: 'Hi', created_at: new Date().toISOString(), ...extra },
  });
}

const post = (body: string, headers: Record<string, string>) => fetch(`${base}${URL_PATH}`, { method: 'POST', headers, body });
const suppression = (address: string) => svc.ctx.db.selectFrom('suppressions').selectAll().where('address_hash', '=', addressHash(address)).executeTakeFirst();

describe('POST /v1/notifications/webhooks/resend', () => {
  it('answers 400 to a bad signature and changes nothing', async () => {
    const to = `forged-${randomUUID()}@example.test`;
    const body = event('email.complained', to);
    const res = await post(body, signed(body, { secret: `whsec_${randomBytes(24).toString('base64')}` }));
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(await res.json()).toMatchObject({ status: 400, code: 'NOTIFICATION_WEBHOOK_SIGNATURE_INVALID' });
    expect(await suppression(to)).toBeUndefined();
  });

  it('answers 400 when the body was altered after signing', async () => {
    const to = `tampered-${randomUUID()}@example.test`;
    const headers = signed(event('email.delivered', to));
    const res = await post(event('email.complained', to), headers);
    expect(res.status).toBe(400);
    expect(await suppression(to)).toBeUndefined();
  });

  it('answers 400 without the svix headers, and to a replayed old signature', async () => {
    const to = `old-${randomUUID()}@example.test`;
    const body = event('email.bounced', to, { bounce: { type: 'Permanent' } });
    expect((await post(body, { 'content-type': 'application/json' })).status).toBe(400);
    const old = await post(body, signed(body, { at: new Date(Date.now() - 10 * 60_000) }));
    expect(old.status).toBe(400);
    expect(await suppression(to)).toBeUndefined();
  });

  it('suppresses an address that bounced permanently, by hash only, and marks the delivery', async () => {
    const to = `Hard-${randomUUID()}@Example.test`;
    const emailId = randomUUID();
    await svc.ctx.db
      .insertInto('deliveries')
      .values({ id: randomUUID(), idempotency_key: `k:${emailId}`, template: 'verify-email', user_id: null, recipient_hash: addressHash(to), locale: 'en', status: 'sent', provider: 'resend', provider_id: emailId, failure_reason: null, lease_until: null, sent_at: new Date() })
      .execute();
    const body = JSON.stringify({
      type: 'email.bounced',
      created_at: new Date().toISOString(),
      data: { email_id: emailId, to: [to], from: 'hello@mail.imlab.test', subject: 'Hi', created_at: new Date().toISOString(), bounce: { type: 'Permanent', subType: 'Suppressed', message: 'gone' } },
    });
    const headers = signed(body);
    const res = await post(body, headers);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, handled: true });
    expect(await suppression(to.toLowerCase())).toMatchObject({ reason: 'bounced', provider_event_id: headers['svix-id'] });
    expect((await svc.ctx.db.selectFrom('deliveries').select('status').where('provider_id', '=', emailId).executeTakeFirst())?.status).toBe('bounced');
    const all = JSON.stringify(await svc.ctx.db.selectFrom('suppressions').selectAll().execute());
    expect(all.toLowerCase()).not.toContain(to.toLowerCase());

    // Resend retries deliveries: the same event again is fine
    expect((await post(body, headers)).status).toBe(200);
  });

  it('suppresses a complaint, but not a transient bounce, and acknowledges other events', async () => {
    const complained = `spam-${randomUUID()}@example.test`;
    const transient = `full-${randomUUID()}@example.test`;
    const delivered = `fine-${randomUUID()}@example.test`;
    let body = event('email.complained', complained);
    expect((await post(body, signed(body))).status).toBe(200);
    body = event('email.bounced', transient, { bounce: { type: 'Transient', subType: 'MailboxFull', message: 'full' } });
    expect(await (await post(body, signed(body))).json()).toEqual({ received: true, handled: false });
    body = event('email.delivered', delivered);
    expect(await (await post(body, signed(body))).json()).toEqual({ received: true, handled: false });
    expect(await suppression(complained)).toMatchObject({ reason: 'complained' });
    expect(await suppression(transient)).toBeUndefined();
    expect(await suppression(delivered)).toBeUndefined();
  });

  it('takes any one of several signatures (Svix sends one per secret while a secret is rotated), and refuses a timestamp from the future', async () => {
    const to = `rotated-${randomUUID()}@example.test`;
    const body = event('email.complained', to);
    const ours = signed(body);
    const other = svixHeaders(`whsec_${randomBytes(24).toString('base64')}`, body, new Date(), ours['svix-id']);
    const both = { ...ours, 'svix-signature': `${other['svix-signature']} ${ours['svix-signature']}` };
    expect((await post(body, { ...ours, 'svix-signature': other['svix-signature'] })).status).toBe(400);
    expect((await post(body, both)).status).toBe(200);
    expect(await suppression(to)).toMatchObject({ reason: 'complained' });
    const ahead = event('email.complained', `ahead-${randomUUID()}@example.test`);
    expect((await post(ahead, signed(ahead, { at: new Date(Date.now() + 10 * 60_000) }))).status).toBe(400);
  });

  it('answers 400 to a signed body that is not JSON', async () => {
    const body = 'not json';
    const res = await post(body, signed(body));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'NOTIFICATION_WEBHOOK_MALFORMED' });
    for (const other of ['', 'null', '{}']) expect(await (await post(other, signed(other))).json()).toMatchObject({ status: 400, code: 'NOTIFICATION_WEBHOOK_MALFORMED' });
  });
});
