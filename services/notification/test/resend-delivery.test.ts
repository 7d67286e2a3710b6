import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import { eventually } from '@imlab/testing';
import { seal } from '@imlab/queue';
import { FakeResend } from './fake-resend.js';
import { delivery, sentDelivery, sleep, startService, svixHeaders, type Service } from './harness.js';
import { purgeUser } from '../src/contacts/contacts.service.js';

const WEBHOOK_SECRET = `whsec_${randomBytes(24).toString('base64')}`;
let resend: FakeResend;
let svc: Service;
/** Message ids whose first processing "crashes" just before the inbox transaction commits. */
const crashBeforeCommit = new Set<string>();

const addr = (name: string) => `${name}-${randomUUID().slice(0, 8)}@example.test`;
const requestsFor = (key: string) => resend.requests.filter((r) => r.headers['idempotency-key'] === key);
const jobState = async (id: string) => (await svc.ctx.bus.queue('notification').getJob(id))?.getState();
/** user.registered, applied: notification holds the person's contact. */
async function registered(userId: string, email: string, displayName: string): Promise<void> {
  await svc.publish('user.registered', { userId, email, locale: 'en', displayName });
  await eventually(() => svc.ctx.db.selectFrom('contacts').select('user_id').where('user_id', '=', userId).executeTakeFirst());
}
/** A verification mail as auth sends it (address and account), once sent; its idempotency key. */
async function linkMailSent(to: string, userId: string): Promise<string> {
  const key = `verify-email:${randomUUID()}`;
  await svc.publish('email.send', { template: 'verify-email', to, userId, locale: 'en', data: { link: '/verify-email?token=t' }, idempotencyKey: key });
  await eventually(async () => (await delivery(svc, key))?.status === 'sent');
  return key;
}

beforeAll(async () => {
  resend = await new FakeResend().start();
  svc = await startService('notif-resend', {
    env: { RESEND_API_KEY: resend.apiKey, RESEND_BASE_URL: resend.url, RESEND_WEBHOOK_SECRET: WEBHOOK_SECRET, RESEND_TIMEOUT_MS: '2000' },
    consume: {
      beforeCommit: (message) => {
        if (crashBeforeCommit.delete(message.id)) throw new Error('simulated crash before the inbox commit');
      },
    },
  });
});

afterAll(async () => {
  await svc?.close();
  await resend?.close();
});

describe('sealed addresses (as auth sends them)', () => {
  it('opens a sealed `to` and a sealed contact address just before use', async () => {
    const to = addr('sealed');
    const userId = randomUUID();
    await registered(userId, seal(to, svc.config.MESSAGE_SEAL_KEY), 'Sealy');
    const contact = await svc.ctx.db.selectFrom('contacts').selectAll().where('user_id', '=', userId).executeTakeFirstOrThrow();
    expect(JSON.stringify(contact)).toContain(to);
    const key = await linkMailSent(seal(to, svc.config.MESSAGE_SEAL_KEY), userId);
    expect((requestsFor(key)[0]!.body as { to: string[] | string }).to.toString()).toBe(to);
  });
});

describe('email.send through Resend', () => {
  it('sends the exact request Resend expects and logs the delivery without body or token', async () => {
    const to = addr('ada');
    const key = `verify:${randomUUID()}`;
    await svc.publish('email.send', { template: 'verify-email', to, locale: 'en', data: { link: '/verify-email?token=tok_secret_abc123', displayName: 'Ada' }, idempotencyKey: key });

    const row = await sentDelivery(svc, key);
    const [req] = requestsFor(key);
    expect(resend.violations).toEqual([]);
    expect(req).toMatchObject({ method: 'POST', path: '/emails', status: 200 });
    expect(req!.headers.authorization).toBe(`Bearer ${resend.apiKey}`);
    expect(req!.headers['idempotency-key']).toBe(key);
    const body = req!.body as Record<string, string>;
    expect(body.from).toBe('imagemakerlab <hello@mail.imlab.test>');
    expect(body.to).toEqual([to]);
    expect(body.subject).toBe('Confirm your email address');
    expect(body.html).toContain('href="https://app.imlab.test/verify-email?token=tok_secret_abc123"');
    expect(body.text).toContain('https://app.imlab.test/verify-email?token=tok_secret_abc123');

    expect(row).toMatchObject({ template: 'verify-email', status: 'sent', provider: 'resend', provider_id: resend.delivered.get(key)!.id, attempts: 1, locale: 'en' });
    expect(row.sent_at).toBeInstanceOf(Date);
    const stored = JSON.stringify(await svc.ctx.db.selectFrom('deliveries').selectAll().execute());
    expect(stored).not.toContain('tok_secret_abc123');
    expect(stored).not.toContain(to);
    expect(stored).not.toContain('Confirm your email');
  });

  it('sends one email when the same message is delivered twice', async () => {
    const key = `reset:${randomUUID()}`;
    const payload = { template: 'password-reset', to: addr('twice'), data: { link: '/reset-password?token=t1' }, idempotencyKey: key } as const;
    const id = await svc.publish('email.send', payload);
    await eventually(async () => (await jobState(id)) === 'completed');
    // The relay re-publishes after BullMQ has forgotten the job: same message, new job.
    const job = await svc.ctx.bus.queue('notification').getJob(id);
    const again = await svc.ctx.bus.queue('notification').add('email.send', job!.data, { jobId: `${id}-redelivered` });
    await eventually(async () => (await again.getState()) === 'completed');
    expect(requestsFor(key)).toHaveLength(1);
    expect(resend.delivered.has(key)).toBe(true);
  });

  it('sends one email when two messages with the same idempotency key arrive at once', async () => {
    const key = `receipt:${randomUUID()}`;
    const payload = { template: 'low-balance', to: addr('dup'), data: { available: 3, threshold: 10 }, idempotencyKey: key } as const;
    const ids = await Promise.all([svc.publish('email.send', payload), svc.publish('email.send', payload), svc.publish('email.send', payload)]);
    await eventually(async () => (await Promise.all(ids.map(jobState))).every((s) => s === 'completed'), 20_000);
    expect(requestsFor(key)).toHaveLength(1);
    expect((await delivery(svc, key))?.status).toBe('sent');
  });

  it('does not send again when the worker dies after sending but before the inbox commit', async () => {
    const key = `export:${randomUUID()}`;
    const id = randomUUID();
    crashBeforeCommit.add(id);
    await svc.publish('email.send', { template: 'export-ready', to: addr('crash'), data: { link: '/exports/1' }, idempotencyKey: key }, id);
    await eventually(async () => (await jobState(id)) === 'completed');
    const job = await svc.ctx.bus.queue('notification').getJob(id);
    expect(job!.attemptsMade).toBeGreaterThanOrEqual(1); // the first attempt really failed
    expect(crashBeforeCommit.has(id)).toBe(false);
    expect(requestsFor(key)).toHaveLength(1);
    const inbox = await svc.ctx.db.selectFrom('inbox').select('result').where('message_id', '=', id).executeTakeFirst();
    expect(inbox?.result).toMatchObject({ status: 'sent' });
  });

  it('retries a 429 and a 5xx with backoff, then succeeds with the same idempotency key', async () => {
    const key = `low:${randomUUID()}`;
    resend.respond(
      { status: 429, body: { statusCode: 429, name: 'rate_limit_exceeded', message: 'Too many requests. You can only make 2 requests per second.' } },
      { status: 503, body: { statusCode: 503, name: 'internal_server_error', message: 'Service unavailable' } },
    );
    await svc.publish('email.send', { template: 'low-balance', to: addr('busy'), locale: 'zh', data: { available: 5, threshold: 20 }, idempotencyKey: key });
    const row = await sentDelivery(svc, key, 20_000);
    const reqs = requestsFor(key);
    expect(reqs.map((r) => r.status)).toEqual([429, 503, 200]);
    expect(new Set(reqs.map((r) => JSON.stringify(r.body))).size).toBe(1); // the same email each time
    expect(row).toMatchObject({ status: 'sent', attempts: 3, failure_reason: null, locale: 'zh' });
    expect((reqs[2]!.body as { subject: string }).subject).toBe('你的积分余额不足');
  });

  it('waits out the retry-after of a 429 (not the shorter default backoff), then sends once', async () => {
    const key = `ra:${randomUUID()}`;
    resend.respond({
      status: 429,
      headers: { 'retry-after': '2' },
      body: { statusCode: 429, name: 'rate_limit_exceeded', message: 'Too many requests. You can only make 2 requests per second.' },
    });
    await svc.publish('email.send', { template: 'low-balance', to: addr('wait'), data: { available: 5, threshold: 20 }, idempotencyKey: key });
    const row = await sentDelivery(svc, key, 20_000);
    const reqs = requestsFor(key);
    expect(reqs.map((r) => r.status)).toEqual([429, 200]);
    const waited = reqs[1]!.at - reqs[0]!.at;
    expect(waited).toBeGreaterThanOrEqual(2000); // the default first backoff is 500 ms
    expect(waited).toBeLessThan(2000 + 3000);
    expect(row).toMatchObject({ status: 'sent', attempts: 2, failure_reason: null });
    expect(resend.emailsTo((reqs[1]!.body as { to: string[] }).to[0]!)).toHaveLength(1);
  });

  it('records a permanent failure with its reason and does not retry it', async () => {
    const key = `perm:${randomUUID()}`;
    const to = addr('rejected');
    resend.respond({ status: 422, body: { statusCode: 422, name: 'validation_error', message: `Invalid \`to\` field: ${to} is not allowed` } });
    const id = await svc.publish('email.send', { template: 'password-changed', to, data: {}, idempotencyKey: key });
    await eventually(async () => (await jobState(id)) === 'failed');
    const job = await svc.ctx.bus.queue('notification').getJob(id);
    expect(job!.attemptsMade).toBe(1);
    expect(job!.failedReason).toMatch(/NOTIFICATION_PROVIDER_REJECTED: 422 validation_error/);
    const row = await delivery(svc, key);
    expect(row).toMatchObject({ status: 'failed', attempts: 1 });
    expect(row!.failure_reason).toBe('422 validation_error: Invalid `to` field: <recipient> is not allowed');
    await sleep(1500); // longer than the first backoff: nothing comes back
    expect(requestsFor(key)).toHaveLength(1);
  });

  it('marks the delivery failed when Resend is still down on the last attempt', async () => {
    const key = `down:${randomUUID()}`;
    const down = { status: 500, body: { statusCode: 500, name: 'internal_server_error', message: 'Internal server error' } };
    resend.respond(down, down);
    // A job allowed two attempts (the default is eight, about a minute of backoff).
    const id = randomUUID();
    const job = await svc.ctx.bus.queue('notification').add(
      'email.send',
      { id, name: 'email.send', payload: { template: 'low-balance', to: addr('down'), data: { available: 1 }, idempotencyKey: key }, occurredAt: new Date().toISOString() },
      { jobId: id, attempts: 2 },
    );
    await eventually(async () => (await job.getState()) === 'failed');
    expect(requestsFor(key).map((r) => r.status)).toEqual([500, 500]);
    expect(await delivery(svc, key)).toMatchObject({ status: 'failed', attempts: 2, failure_reason: 'gave up after 2 attempts: 500 internal_server_error: Internal server error' });
  });

  it('fails an email whose link does not point to PUBLIC_BASE_URL without calling Resend', async () => {
    const key = `bad:${randomUUID()}`;
    const id = await svc.publish('email.send', { template: 'verify-email', to: addr('phish'), data: { link: 'https://evil.test/verify?token=x' }, idempotencyKey: key });
    await eventually(async () => (await jobState(id)) === 'failed');
    expect(requestsFor(key)).toHaveLength(0);
    expect(await delivery(svc, key)).toMatchObject({ status: 'failed', failure_reason: 'data.link: link must point to PUBLIC_BASE_URL' });
  });
});

describe('metrics', () => {
  it('counts emails by template and outcome', async () => {
    const res = { body: await svc.app.metricsRegistry.metrics() };
    expect(res.body).toMatch(/imlab_notification_emails_total\{[^}]*template="verify-email"[^}]*outcome="sent"[^}]*\} [1-9]/);
    expect(res.body).toMatch(/imlab_notification_emails_total\{[^}]*template="low-balance"[^}]*outcome="retry"[^}]*\} [1-9]/);
    expect(res.body).toMatch(/imlab_notification_emails_total\{[^}]*template="password-changed"[^}]*outcome="failed"[^}]*\} [1-9]/);
  });
});

describe('contacts and events', () => {
  it('escapes HTML in a display name and mails the receipt to the registered contact', async () => {
    const userId = randomUUID();
    const orderId = randomUUID();
    const email = addr('mallory');
    await registered(userId, email, '<script>alert("x")</script> & Co');
    await svc.publish('order.paid', { orderId, userId, credits: 500, amount: 999, currency: 'EUR' });
    const sent = (await eventually(() => resend.delivered.get(`purchase-receipt:${orderId}`)?.body))!;
    expect(sent.to).toEqual([email]);
    expect(sent.html).not.toContain('<script>');
    expect(sent.html).toContain('Hi &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co,');
    expect(sent.text).toContain('Hi <script>alert("x")</script> & Co,');
    expect(sent.text).toContain('Amount paid: €9.99');
  });

  it('mails low-balance and refunds in the contact\'s locale, and ignores generations that were not refunded', async () => {
    const userId = randomUUID();
    const email = addr('mei');
    await svc.publish('user.registered', { userId, email, locale: 'en', displayName: 'Mei' });
    await svc.publish('user.updated', { userId, email, locale: 'zh', displayName: '美' });
    await eventually(async () => (await svc.ctx.db.selectFrom('contacts').select('locale').where('user_id', '=', userId).executeTakeFirst())?.locale === 'zh');
    const refunded = randomUUID();
    const ok = randomUUID();
    await svc.publish('generation.finished', { generationId: ok, userId, status: 'succeeded', refunded: false });
    await svc.publish('generation.finished', { generationId: refunded, userId, status: 'failed', refunded: true, errorCode: 'PROVIDER_TIMEOUT' });
    const low = await svc.publish('ledger.low-balance', { userId, available: 4, threshold: 10 });
    const refundMail = (await eventually(() => resend.delivered.get(`generation-refunded:${refunded}`)?.body))!;
    const lowMail = (await eventually(() => resend.delivered.get(`low-balance:${low}`)?.body))!;
    expect(refundMail.subject).toBe('一次生成的积分已退回');
    expect(refundMail.text).toContain('美，你好：');
    expect(refundMail.html).toContain(`https://app.imlab.test/generations/${refunded}`);
    expect(lowMail.to).toEqual([email]);
    expect(resend.delivered.has(`generation-refunded:${ok}`)).toBe(false);
  });

  it('keeps the newest contact when user.updated overtakes user.registered', async () => {
    const userId = randomUUID();
    const newer = await svc.publish('user.updated', { userId, email: addr('new'), locale: 'zh', displayName: 'New' });
    await eventually(() => svc.ctx.db.selectFrom('inbox').select('message_id').where('message_id', '=', newer).executeTakeFirst());
    // an older event published late: its occurredAt is before the update's
    const older = randomUUID();
    const job = await svc.ctx.bus.queue('notification').add(
      'user.registered',
      { id: older, name: 'user.registered', payload: { userId, email: addr('old'), locale: 'en', displayName: 'Old' }, occurredAt: new Date(Date.now() - 60_000).toISOString() },
      { jobId: older },
    );
    await eventually(async () => (await job.getState()) === 'completed');
    expect(await svc.ctx.db.selectFrom('contacts').select(['display_name', 'locale']).where('user_id', '=', userId).executeTakeFirst()).toEqual({
      display_name: 'New',
      locale: 'zh',
    });
  });

  it('waits for the contact when email.send names only a userId that is not known yet', async () => {
    const userId = randomUUID();
    const key = `changed:${randomUUID()}`;
    const email = addr('late');
    await svc.publish('email.send', { template: 'password-changed', userId, data: {}, idempotencyKey: key });
    await sleep(300);
    expect(requestsFor(key)).toHaveLength(0);
    await svc.publish('user.registered', { userId, email, locale: 'en', displayName: 'Late' });
    const sent = (await eventually(() => resend.delivered.get(key)?.body, 15_000))!;
    expect(sent.to).toEqual([email]);
    expect((await delivery(svc, key))?.user_id).toBe(userId);
  });

  it('user.purge deletes the contact, scrubs the delivery log and stops later emails', async () => {
    const userId = randomUUID();
    const email = addr('gone');
    await svc.publish('user.registered', { userId, email, locale: 'en', displayName: 'Gone' });
    const low = await svc.publish('ledger.low-balance', { userId, available: 1, threshold: 10 });
    // a verification email sent by address only, before the purge
    const byAddress = `verify:${randomUUID()}`;
    await svc.publish('email.send', { template: 'verify-email', to: email, data: { link: '/verify-email?token=a' }, idempotencyKey: byAddress });
    await eventually(async () => (await delivery(svc, `low-balance:${low}`))?.status === 'sent' && (await delivery(svc, byAddress))?.status === 'sent');

    const purge = await svc.publish('user.purge', { userId });
    await eventually(() => svc.ctx.db.selectFrom('inbox').select('message_id').where('message_id', '=', purge).executeTakeFirst());
    expect(await svc.ctx.db.selectFrom('contacts').selectAll().where('user_id', '=', userId).executeTakeFirst()).toBeUndefined();
    for (const key of [`low-balance:${low}`, byAddress]) {
      expect(await delivery(svc, key)).toMatchObject({ status: 'sent', user_id: null, recipient_hash: null, provider_id: null });
    }

    // a late update does not bring the address back; a later event finds nobody to mail
    const late = await svc.publish('user.updated', { userId, email, locale: 'en', displayName: 'Gone' });
    const after = await svc.publish('ledger.low-balance', { userId, available: 0, threshold: 10 });
    await eventually(async () => (await jobState(late)) === 'completed' && (await jobState(after)) === 'completed');
    expect(await svc.ctx.db.selectFrom('contacts').selectAll().where('user_id', '=', userId).executeTakeFirst()).toBeUndefined();
    expect(requestsFor(`low-balance:${after}`)).toHaveLength(0);
  });
});

describe('the last email of a deleted account', () => {
  it('goes, and its log row keeps neither a hash of the address nor the provider id that leads to the mail', async () => {
    const email = addr('deleted');
    const key = `account-deleted:${randomUUID()}`;
    await svc.publish('email.send', { template: 'account-deleted', to: email, data: {}, idempotencyKey: key });
    await eventually(async () => (await delivery(svc, key))?.status === 'sent');
    expect(requestsFor(key)).toHaveLength(1);
    expect(await delivery(svc, key)).toMatchObject({ status: 'sent', user_id: null, recipient_hash: null, provider_id: null });
  });
});

describe('a link mail to an address whose owner has not confirmed the account', () => {
  it('carries none of the sign-up name notification holds for the account (someone else may have typed it)', async () => {
    const userId = randomUUID();
    const email = addr('unconfirmed');
    await registered(userId, email, 'Claim your prize at evil.example');
    // auth sends the address and the account, and leaves the name out until the address is confirmed
    const key = await linkMailSent(email, userId);
    const body = requestsFor(key)[0]!.body as Record<string, string>;
    expect(`${body.subject}\n${body.html}\n${body.text}`).not.toContain('evil.example');
  });
});

describe('a person whose registration never reached notification', () => {
  it('has the emails auth sent them (address and user id) scrubbed by their purge all the same', async () => {
    const userId = randomUUID(); // no user.registered: notification holds no contact for them
    const email = addr('never-registered');
    const key = await linkMailSent(email, userId);
    expect(await delivery(svc, key)).toMatchObject({ user_id: userId, provider_id: expect.any(String) });
    const purge = await svc.publish('user.purge', { userId });
    await eventually(() => svc.ctx.db.selectFrom('inbox').select('message_id').where('message_id', '=', purge).executeTakeFirst());
    expect(await delivery(svc, key)).toMatchObject({ status: 'sent', user_id: null, recipient_hash: null, provider_id: null });
  });
});

describe('an email racing the purge of its person', () => {
  it('writes no delivery row naming them once the purge has committed (the email is skipped)', async () => {
    const userId = randomUUID();
    const email = addr('racing');
    await registered(userId, email, 'Racing');
    // The purge is under way (contact deleted, delivery log scrubbed, not committed yet) when the email is processed.
    let commit: () => void = () => undefined;
    const held = new Promise<void>((r) => (commit = r));
    let purgeStarted: () => void = () => undefined;
    const started = new Promise<void>((r) => (purgeStarted = r));
    const purging = svc.ctx.db.transaction().execute(async (tx) => {
      await purgeUser(tx, userId);
      purgeStarted();
      await held;
    });
    await started;
    const low = await svc.publish('ledger.low-balance', { userId, available: 1, threshold: 10 });
    await sleep(700); // the email reads the (still committed) contact and reaches its write
    commit();
    await purging;
    await eventually(async () => (await jobState(low)) === 'completed');
    expect(await delivery(svc, `low-balance:${low}`)).toBeUndefined();
    expect(requestsFor(`low-balance:${low}`)).toHaveLength(0);
    expect(await svc.ctx.db.selectFrom('deliveries').select('id').where('user_id', '=', userId).execute()).toEqual([]);
  });
});

describe('suppression', () => {
  const sign = (body: string) => svixHeaders(WEBHOOK_SECRET, body);

  it('sends nothing to an address that bounced', async () => {
    const email = addr('Bounced');
    const body = JSON.stringify({
      type: 'email.bounced',
      created_at: new Date().toISOString(),
      data: { email_id: randomUUID(), to: [email], from: 'x@mail.imlab.test', subject: 's', created_at: new Date().toISOString(), bounce: { type: 'Permanent', subType: 'General', message: 'no such user' } },
    });
    const res = await svc.app.inject({ method: 'POST', url: '/v1/notifications/webhooks/resend', headers: { 'content-type': 'application/json', ...sign(body) }, payload: body });
    expect(res.statusCode).toBe(200);

    const key = `after-bounce:${randomUUID()}`;
    const id = await svc.publish('email.send', { template: 'low-balance', to: email.toLowerCase(), data: { available: 1, threshold: 5 }, idempotencyKey: key });
    await eventually(async () => (await jobState(id)) === 'completed');
    expect(await delivery(svc, key)).toMatchObject({ status: 'suppressed', attempts: 0 });
    expect(resend.requests.filter((r) => JSON.stringify(r.body).toLowerCase().includes(email.toLowerCase()))).toHaveLength(0);
  });
});
