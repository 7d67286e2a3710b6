import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { eventually, freePort, TS_NODE_ARGS } from '@imlab/testing';
import { createLogger } from '@imlab/logger';
import { createMailer } from '../src/delivery/providers/index.js';
import { startConsumers } from '../src/inbox/inbox.handlers.js';
import { FakeResend } from './fake-resend.js';
import { delivery, sentDelivery, startService, type Service } from './harness.js';

const TIMEOUT_MS = 2500; // the lease on a send is twice this
let resend: FakeResend;
let svc: Service;
let child: ChildProcess | undefined;

beforeAll(async () => {
  resend = await new FakeResend().start();
  // The parent owns the database and queue prefix; the real service process (main.ts) shares them.
  svc = await startService('notif-crash', {
    consumers: false,
    env: { RESEND_API_KEY: resend.apiKey, RESEND_BASE_URL: resend.url, RESEND_TIMEOUT_MS: String(TIMEOUT_MS), EMAIL_CONCURRENCY: '1' },
  });
});

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await svc?.close();
  await resend?.close();
});

async function startServiceProcess(): Promise<ChildProcess> {
  const port = await freePort();
  const c = svc.config;
  const proc = spawn(process.execPath, [...TS_NODE_ARGS, fileURLToPath(new URL('../src/main.ts', import.meta.url))], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      PORT: String(port),
      METRICS_PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: c.DATABASE_URL,
      DATABASE_NAME: c.DATABASE_NAME,
      REDIS_URL: c.REDIS_URL,
      QUEUE_PREFIX: c.QUEUE_PREFIX,
      PUBLIC_BASE_URL: c.PUBLIC_BASE_URL,
      MAIL_FROM: c.MAIL_FROM,
      RESEND_API_KEY: c.RESEND_API_KEY,
      RESEND_BASE_URL: c.RESEND_BASE_URL,
      RESEND_TIMEOUT_MS: String(TIMEOUT_MS),
      EMAIL_CONCURRENCY: '1',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += String(d)));
  await eventually(
    async () => {
      if (proc.exitCode !== null) throw new Error(`service process exited: ${stderr}`);
      return (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok;
    },
    20_000,
    100,
  );
  return proc;
}

describe('a service process killed while Resend is accepting its email', () => {
  it('leaves the send leased, and the retry after the lease reuses the idempotency key: one email', async () => {
    child = await startServiceProcess();
    const key = `verify:${randomUUID()}`;
    const payload = { template: 'verify-email', to: 'kill@example.test', data: { link: '/verify-email?token=k' }, idempotencyKey: key } as const;
    // Resend takes the email, then the answer never reaches the process: it dies first.
    resend.respond({ status: 200, acceptThenHang: true });
    await svc.publish('email.send', payload);
    await eventually(() => resend.requests.length === 1, 15_000, 10);
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    expect(child.signalCode).toBe('SIGKILL');

    const stuck = await delivery(svc, key);
    expect(stuck).toMatchObject({ status: 'sending', attempts: 1 });
    expect(resend.delivered.has(key)).toBe(true); // the recipient has the email already

    // The same email asked for again (e.g. the caller retried) reaches a fresh consumer.
    startConsumers({ ctx: svc.ctx, config: svc.config, mailer: createMailer(svc.config, createLogger({ service: 'notification', level: 'silent' })) });
    await svc.publish('email.send', payload);
    const row = await sentDelivery(svc, key, 25_000);

    const reqs = resend.requests.filter((r) => r.headers['idempotency-key'] === key);
    expect(reqs).toHaveLength(2); // a second POST only after the dead sender's lease ran out…
    expect(JSON.stringify(reqs[1]!.body)).toBe(JSON.stringify(reqs[0]!.body)); // …with the identical email
    expect(resend.delivered.size).toBe(1); // and the provider deduped it: one email
    expect(row).toMatchObject({ attempts: 2, provider_id: resend.delivered.get(key)!.id });
    expect(row.sent_at!.getTime() - stuck!.created_at.getTime()).toBeGreaterThanOrEqual(2 * TIMEOUT_MS - 200);
  }, 60_000);
});
