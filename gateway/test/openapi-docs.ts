import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@imlab/logger';
import type { ServiceName } from '@imlab/contracts';
import type { App } from '@imlab/http';
import { type QueueTables } from '@imlab/queue';
import { contextFromConfig, type ServiceContext, type StandardServiceConfig } from '@imlab/service';
import { mergeOpenApi } from '../src/openapi/merge.js';
import { build as buildAuth } from '../../services/auth/src/app.js';
import { loadAuthConfig } from '../../services/auth/src/config.js';
import { generateSigningJwk } from '../../services/auth/src/keys/keys.js';
import { build as buildLedger } from '../../services/credits-ledger/src/app.js';
import { loadLedgerConfig } from '../../services/credits-ledger/src/config.js';
import { build as buildGeneration } from '../../services/generation/src/app.js';
import { loadGenerationConfig } from '../../services/generation/src/config.js';
import { build as buildBilling } from '../../services/billing/src/app.js';
import { loadBillingConfig } from '../../services/billing/src/config.js';
import { createStripe } from '../../services/billing/src/stripe/stripe-client.js';
import { build as buildNotification } from '../../services/notification/src/app.js';
import { loadNotificationConfig } from '../../services/notification/src/config.js';

export const PUBLIC_BASE_URL = 'https://app.imagemakerlab.test';

type Doc = Parameters<typeof mergeOpenApi>[0][ServiceName];

/**
 * Every service's own OpenAPI document, from its real `build()` (the route schemas as they are
 * served), merged by the gateway's real `mergeOpenApi`. No service listens and no database is
 * created or queried: each context points at a database that is never connected to; Redis is the
 * test run's (the queue prefix is the run's, so teardown removes whatever a build left there).
 */
export async function buildMergedOpenApi(opts: { redisUrl: string; databaseUrl: string; queuePrefix: string }): Promise<Record<string, unknown>> {
  const logger = createLogger({ service: 'openapi', level: 'silent' });
  const dir = await mkdtemp(join(tmpdir(), 'imlab-openapi-'));
  const closers: (() => Promise<unknown>)[] = [];
  const env = (service: string, extra: Record<string, string> = {}): Record<string, string> => ({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: opts.databaseUrl,
    // never created: building an app reads nothing from its database
    DATABASE_NAME: `imlab_openapi_${service.replace('-', '_')}_unused`,
    REDIS_URL: opts.redisUrl,
    QUEUE_PREFIX: opts.queuePrefix,
    PUBLIC_BASE_URL,
    INTERNAL_API_TOKEN: 'openapi-document-internal-token',
    ...extra,
  });
  const context = async <DB extends QueueTables>(service: string, config: StandardServiceConfig): Promise<ServiceContext<DB>> => {
    const ctx = await contextFromConfig<DB>(service, config, logger, new URL(`../../services/${service}/migrations`, import.meta.url), { migrate: false, poolSize: 1 });
    closers.push(() => ctx.close());
    return ctx;
  };
  const documentOf = async (app: App): Promise<Doc> => {
    closers.unshift(() => app.close());
    await app.ready();
    return structuredClone(app.swagger()) as Doc;
  };
  try {
    const docs: Partial<Record<ServiceName, Doc>> = {};
    {
      const config = loadAuthConfig(env('auth', { AUTH_SIGNING_KEYS: JSON.stringify([await generateSigningJwk()]), EXPORT_DIR: join(dir, 'exports') }));
      docs.auth = await documentOf(await buildAuth({ config, logger, ctx: await context('auth', config) }));
    }
    {
      const config = loadLedgerConfig(env('credits-ledger'));
      docs['credits-ledger'] = await documentOf(await buildLedger({ config, logger, ctx: await context('credits-ledger', config) }));
    }
    {
      const config = loadGenerationConfig(env('generation', { STORAGE_DIR: join(dir, 'generation') }));
      docs.generation = await documentOf(await buildGeneration({ config, logger, ctx: await context('generation', config) }));
    }
    {
      const config = loadBillingConfig(env('billing', { STRIPE_SECRET_KEY: 'sk_test_openapi_document', STRIPE_WEBHOOK_SECRET: 'whsec_openapi_document' }));
      docs.billing = await documentOf(await buildBilling({ config, logger, ctx: await context('billing', config), stripe: createStripe(config) }));
    }
    {
      const config = loadNotificationConfig(env('notification'));
      docs.notification = await documentOf(await buildNotification({ config, logger, ctx: await context('notification', config) }));
    }
    return mergeOpenApi(docs, PUBLIC_BASE_URL, []);
  } finally {
    for (const close of closers) await close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
