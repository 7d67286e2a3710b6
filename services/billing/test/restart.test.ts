import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { createLogger } from '@imlab/logger';
import { createServiceContext, type ServiceContext } from '@imlab/service';
import { createTestDatabase, testPrefix, startTestIssuer, infra, freePort, eventually, TS_NODE_ARGS } from '@imlab/testing';
import type { DB } from '../src/db.js';
import { startFakeStripe } from './support/fake-stripe.js';
import { startFakeLedger } from './support/fake-ledger.js';
import { stripeEvent, sessionObject, signature, newPaymentIntentId } from './support/events.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const SECRET = 'whsec_test_restart_0123456789abcdef';

let env: Record<string, string>;
let issuer: Awaited<ReturnType<typeof startTestIssuer>>;
let stripe: Awaited<ReturnType<typeof startFakeStripe>>;
let side: ServiceContext<DB>;
let ledger: ReturnType<typeof startFakeLedger>;
const children: ChildProcess[] = [];

/** Starts billing's real entry point as its own process and waits until it is ready. */
async function startProcess(): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [...TS_NODE_ARGS, MAIN], { cwd: ROOT, env: { ...process.env, ...env, PORT: String(port), METRICS_PORT: '0' }, stdio: 'ignore' });
  children.push(child);
  const base = `http://127.0.0.1:${port}`;
  await eventually(async () => (await fetch(`${base}/readyz`)).ok, 30_000, 100);
  return { child, base };
}

const exited = (child: ChildProcess) => new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));

beforeAll(async () => {
  const { databaseUrl, redisUrl } = infra();
  const database = await createTestDatabase('billing_restart');
  const prefix = testPrefix('billing_restart');
  issuer = await startTestIssuer();
  stripe = await startFakeStripe();
  env = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    DATABASE_NAME: database.name,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    AUTH_JWKS_URL: issuer.jwksUrl,
    STRIPE_API_BASE: stripe.base,
    STRIPE_SECRET_KEY: 'sk_test_restart_fake_key',
    STRIPE_WEBHOOK_SECRET: SECRET,
    STRIPE_MAX_NETWORK_RETRIES: '0',
    // the killed process's job comes back within seconds instead of BullMQ's 30 s + 30 s default
    QUEUE_LOCK_MS: '3000',
    QUEUE_STALLED_INTERVAL_MS: '1000',
  };
  // The test's side of the system: a fake ledger on the same queues (and the same database, as its store).
  side = await createServiceContext<DB>({
    service: 'billing-restart-test',
    logger: createLogger({ service: 'billing-restart-test', level: 'silent' }),
    databaseUrl,
    databaseName: database.name,
    redisUrl,
    queuePrefix: prefix,
    migrationsFolder: fileURLToPath(new URL('../migrations', import.meta.url)),
    migrate: true,
    poolSize: 2,
  });
  ledger = startFakeLedger(side.bus);
  await side.bus.startRelay();
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(children.map(exited));
  await side?.close();
  await stripe?.close();
  await issuer?.close();
});

describe('billing process killed right after acknowledging webhooks', () => {
  it('loses no acknowledged payment and grants each order exactly once after a restart', async () => {
    const first = await startProcess();
    const orders: { orderId: string; event: Record<string, unknown> }[] = [];
    for (let i = 0; i < 12; i++) {
      const token = await issuer.sign({ sub: randomUUID(), aud: 'billing' });
      const res = await fetch(`${first.base}/v1/billing/checkout`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ packId: 'starter' }),
      });
      expect(res.status).toBe(201);
      const { orderId, url } = (await res.json()) as { orderId: string; url: string };
      const session = stripe.sessions.get(url.split('/').pop()!)!;
      const event = stripeEvent('checkout.session.completed', sessionObject(session, { status: 'complete', payment_status: 'paid', payment_intent: newPaymentIntentId() }));
      orders.push({ orderId, event });
    }

    const post = (base: string, event: Record<string, unknown>) => {
      const body = JSON.stringify(event);
      return fetch(`${base}/v1/billing/webhook`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature(body, SECRET) }, body });
    };
    const replies = await Promise.all(orders.map((o) => post(first.base, o.event)));
    expect(replies.map((r) => r.status)).toEqual(orders.map(() => 200));
    first.child.kill('SIGKILL');
    await exited(first.child);

    const second = await startProcess();
    // Stripe retries what it believes undelivered; those are duplicates now.
    await Promise.all(orders.slice(0, 4).map((o) => post(second.base, o.event)));
    await eventually(async () => {
      const paid = await side.db.selectFrom('orders').select('id').where('status', '=', 'paid').execute();
      return paid.length === orders.length && ledger.applied.filter((c) => c.kind === 'grant').length === orders.length;
      // A job the killed process held stays locked until BullMQ's stall check hands it back (QUEUE_LOCK_MS + QUEUE_STALLED_INTERVAL_MS).
    }, 80_000, 200);
    await new Promise((r) => setTimeout(r, 500)); // room for any stray duplicate to show up

    const grants = ledger.applied.filter((c) => c.kind === 'grant').map((c) => c.idempotencyKey).sort();
    expect(grants).toEqual(orders.map((o) => `order:${o.orderId}`).sort());
    expect(ledger.conflicts).toEqual([]);
    expect(ledger.duplicates).toEqual([]);

    second.child.kill('SIGTERM');
    await exited(second.child);
    expect(second.child.exitCode ?? second.child.signalCode).toBe(0);
  }, 150_000);
});
