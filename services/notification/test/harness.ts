import { createHmac, randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import { createLogger } from '@imlab/logger';
import { type ConsumeOptions } from '@imlab/queue';
import { contextFromConfig, type ServiceContext } from '@imlab/service';
import { createTestDatabase, eventually, infra, testPrefix } from '@imlab/testing';
import type { MessageName, Payload } from '@imlab/contracts';
import type { App } from '@imlab/http';
import { build } from '../src/app.js';
import { loadNotificationConfig, type Config } from '../src/config.js';
import type { DB } from '../src/db.js';
import { createMailer } from '../src/delivery/providers/index.js';
import { startConsumers } from '../src/inbox/inbox.handlers.js';

export const PUBLIC_BASE_URL = 'https://app.imlab.test';

export interface Service {
  config: Config;
  ctx: ServiceContext<DB>;
  app: App;
  /** Puts a message on the notification inbox the way another service would (outbox → relay). */
  publish<N extends MessageName>(name: N, payload: Payload<N>, id?: string): Promise<string>;
  close(): Promise<void>;
}

/** The real service (config, database, queue, app, consumer) on a database and prefix of its own. */
export async function startService(
  label: string,
  opts: { env?: Record<string, string>; logStream?: Writable; consume?: ConsumeOptions; consumers?: boolean } = {},
): Promise<Service> {
  const database = await createTestDatabase(label);
  const { databaseUrl, redisUrl } = infra();
  const config = loadNotificationConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: opts.logStream ? 'info' : 'warn',
    DATABASE_URL: databaseUrl,
    DATABASE_NAME: database.name,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: testPrefix(label),
    PUBLIC_BASE_URL,
    EMAIL_CONCURRENCY: '2',
    MAIL_FROM: 'imagemakerlab <hello@mail.imlab.test>',
    ...opts.env,
  });
  const logger = createLogger({ service: 'notification', level: config.LOG_LEVEL, ...(opts.logStream ? { destination: opts.logStream } : {}) });
  const ctx = await contextFromConfig<DB>('notification', config, logger, new URL('../migrations', import.meta.url), { migrate: true, poolSize: 4 });
  const app = await build({ config, logger, ctx });
  if (opts.consumers !== false) startConsumers({ ctx, config, mailer: createMailer(config, logger), metrics: app.metricsRegistry }, opts.consume);
  await ctx.bus.startRelay();
  return {
    config,
    ctx,
    app,
    async publish(name, payload, id) {
      const messageId = await ctx.bus.send(ctx.db, name, payload, id ? { id } : {});
      ctx.bus.kick();
      return messageId;
    },
    async close() {
      await app.close();
      await ctx.close();
      await database.drop();
    },
  };
}

export const delivery = (svc: Service, key: string) => svc.ctx.db.selectFrom('deliveries').selectAll().where('idempotency_key', '=', key).executeTakeFirst();

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the delivery of `key` is sent and returns its row. */
export async function sentDelivery(svc: Service, key: string, timeoutMs = 10_000) {
  const row = await eventually(async () => {
    const d = await delivery(svc, key);
    return d?.status === 'sent' ? d : undefined;
  }, timeoutMs);
  return row!;
}

/**
 * The headers Resend sends with a webhook, signed as Svix signs them: `v1,` then the base64
 * HMAC-SHA256 of `id.seconds.body` under the base64 key after `whsec_` (written out here, not
 * taken from the library the service verifies with).
 */
export function svixHeaders(secret: string, body: string, at = new Date(), id = `msg_${randomUUID()}`) {
  const seconds = String(Math.floor(at.getTime() / 1000));
  const signature = createHmac('sha256', Buffer.from(secret.replace(/^whsec_/, ''), 'base64')).update(`${id}.${seconds}.${body}`).digest('base64');
  return { 'svix-id': id, 'svix-timestamp': seconds, 'svix-signature': `v1,${signature}` };
}
