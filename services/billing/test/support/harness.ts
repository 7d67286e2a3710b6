import { randomUUID } from 'node:crypto';
import { createLogger } from '@imlab/logger';
import { type ConsumeOptions } from '@imlab/queue';
import { contextFromConfig, type ServiceContext } from '@imlab/service';
import { sql } from '@imlab/db';
import type { App } from '@imlab/http';
import { createTestDatabase, testPrefix, startTestIssuer, infra, captureLogs, eventually } from '@imlab/testing';
import { loadBillingConfig, type Config } from '../../src/config.js';
import { build } from '../../src/app.js';
import { createStripe } from '../../src/stripe/stripe-client.js';
import { startConsumers } from '../../src/consumers.js';
import type { DB } from '../../src/db.js';
import { startFakeStripe } from './fake-stripe.js';
import { startFakeLedger } from './fake-ledger.js';
import { signature } from './events.js';

export const WEBHOOK_SECRET = 'whsec_test_billing_0123456789abcdef';

export type Harness = Awaited<ReturnType<typeof startBilling>>;

/**
 * The real billing app on its own database and queue prefix, with a real JWKS issuer, a local
 * fake of Stripe reached through the SDK's host/port/protocol, and a fake ledger on the real
 * credits-ledger queue.
 */
export async function startBilling(label: string, env: Record<string, string> = {}, opts: { consume?: ConsumeOptions } = {}) {
  const { databaseUrl, redisUrl } = infra();
  const database = await createTestDatabase(`billing_${label}`);
  const prefix = testPrefix(`billing_${label}`);
  const issuer = await startTestIssuer();
  const stripeFake = await startFakeStripe();
  const logs = captureLogs();
  const config: Config = loadBillingConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: databaseUrl,
    DATABASE_NAME: database.name,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    AUTH_JWKS_URL: issuer.jwksUrl,
    PUBLIC_BASE_URL: 'https://imagemakerlab.test',
    STRIPE_SECRET_KEY: 'sk_test_billing_fake_key',
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_API_BASE: stripeFake.base,
    STRIPE_MAX_NETWORK_RETRIES: '0',
    ...env,
  });
  const logger = createLogger({ service: 'billing', level: 'info', destination: logs.stream });
  const ctx: ServiceContext<DB> = await contextFromConfig<DB>('billing', config, logger, new URL('../../migrations', import.meta.url), { migrate: true, poolSize: 4 });
  const stripe = createStripe(config);
  const app: App = await build({ config, logger, ctx, stripe });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  startConsumers(ctx.bus, stripe, opts.consume);
  const ledger = startFakeLedger(ctx.bus);
  await ctx.bus.startRelay();

  async function token(userId: string, roles: string[] = ['user']) {
    return issuer.sign({ sub: userId, roles, aud: 'billing' });
  }

  async function api(method: string, path: string, opts: { userId?: string; roles?: string[]; body?: unknown; token?: string; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...opts.headers };
    const bearer = opts.token ?? (opts.userId ? await token(opts.userId, opts.roles) : undefined);
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${base}${path}`, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  }

  /** Posts an event to the webhook, signed by the SDK's test helper unless a header is given. */
  async function webhook(event: Record<string, unknown>, opts: { signatureHeader?: string | null; secret?: string; timestamp?: number; rawBody?: string } = {}) {
    const payload = opts.rawBody ?? JSON.stringify(event);
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
    const sig = opts.signatureHeader === undefined ? signature(JSON.stringify(event), opts.secret ?? WEBHOOK_SECRET, opts.timestamp) : opts.signatureHeader;
    if (sig !== null) headers['stripe-signature'] = sig;
    const res = await fetch(`${base}/v1/billing/webhook`, { method: 'POST', headers, body: payload });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  }

  /** Waits until every stored event is applied, the outbox is drained and both inboxes are idle. */
  async function settled(timeoutMs = 15_000) {
    let quietRounds = 0;
    await eventually(async () => {
      const unapplied = await ctx.db.selectFrom('stripe_events').select((eb) => eb.fn.countAll<string>().as('n')).where('status', '=', 'received').executeTakeFirstOrThrow();
      const unsent = await ctx.db.selectFrom('outbox').select((eb) => eb.fn.countAll<string>().as('n')).where('sent_at', 'is', null).executeTakeFirstOrThrow();
      let busy = 0;
      for (const q of ['billing', 'credits-ledger'] as const) {
        const c = await ctx.bus.queue(q).getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        busy += Object.values(c).reduce((a, b) => a + b, 0);
      }
      const idle = Number(unapplied.n) === 0 && Number(unsent.n) === 0 && busy === 0;
      quietRounds = idle ? quietRounds + 1 : 0;
      return quietRounds >= 3;
    }, timeoutMs, 30);
  }

  /** Starts a checkout through the API and returns the order and its fake Stripe session. */
  async function checkout(userId: string, packId = 'starter') {
    const res = await api('POST', '/v1/billing/checkout', { userId, body: { packId } });
    if (res.status !== 201) throw new Error(`checkout failed: ${res.status} ${JSON.stringify(res.body)}`);
    const order = await ctx.db.selectFrom('orders').selectAll().where('id', '=', res.body.orderId).executeTakeFirstOrThrow();
    const session = stripeFake.sessions.get(order.stripe_session_id!)!;
    return { orderId: order.id as string, order, session, url: res.body.url as string };
  }

  async function order(orderId: string) {
    return ctx.db.selectFrom('orders').selectAll().where('id', '=', orderId).executeTakeFirstOrThrow();
  }

  async function count(table: 'orders' | 'stripe_events' | 'order_postings' | 'ledger_postings' | 'outbox', where?: ReturnType<typeof sql>) {
    const row = await sql<{ n: string }>`select count(*) as n from ${sql.table(table)} ${where ? sql`where ${where}` : sql``}`.execute(ctx.db);
    return Number(row.rows[0]!.n);
  }

  return {
    app,
    base,
    config,
    ctx,
    db: ctx.db,
    stripe: stripeFake,
    ledger,
    logs,
    issuer,
    token,
    api,
    webhook,
    settled,
    checkout,
    order,
    count,
    newUser: () => randomUUID(),
    async close() {
      await app.close();
      await ctx.close();
      await stripeFake.close();
      await issuer.close();
    },
  };
}
