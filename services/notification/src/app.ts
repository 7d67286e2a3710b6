import { buildApp, registerInternalAuth, type App } from '@imlab/http';
import type { Logger } from '@imlab/logger';
import type { ServiceContext } from '@imlab/service';
import type { Config } from './config.js';
import type { DB } from './db.js';
import { webhookRoutes, webhookSchemas } from './webhooks/webhooks.routes.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  ctx: ServiceContext<DB>;
}

/** Builds the notification app; never listens (main.ts does). */
export async function build({ config, logger, ctx }: AppDeps): Promise<App> {
  const app = await buildApp({ service: 'notification', logger, readiness: ctx.readiness, schemas: webhookSchemas });
  await registerInternalAuth(app as never, { audience: 'notification', jwksUrl: config.AUTH_JWKS_URL, revocation: { redis: ctx.bus.redis, keyPrefix: ctx.bus.prefix } });
  ctx.bus.registerMetrics(app.metricsRegistry, ['notification']);
  // Its own scope: the raw-body JSON parser must not leak to other routes.
  await app.register(webhookRoutes as never, { db: ctx.db, secret: config.RESEND_WEBHOOK_SECRET });
  return app;
}
