import { buildApp, registerInternalAuth, type App } from '@imlab/http';
import { registerFraudRoutes } from './fraud/fraud.js';
import type { Logger } from '@imlab/logger';
import type { ServiceContext } from '@imlab/service';
import type { Config } from './config.js';
import type { DB, TaxBehavior } from './db.js';
import type { Stripe } from './stripe/stripe-client.js';
import { pricingSchemas, registerPricingRoutes } from './pricing/pricing.routes.js';
import { checkoutSchemas, registerCheckoutRoutes } from './checkout/checkout.routes.js';
import { orderSchemas, registerOrderRoutes } from './orders/orders.routes.js';
import { registerWebhookRoutes, webhookSchemas } from './webhooks/webhooks.routes.js';
import { reconciliationSchemas, registerReconciliationRoutes } from './reconciliation/reconciliation.routes.js';
import { registerPrivacyRoutes } from './privacy/privacy.routes.js';
import { registerStripeMoneyRoutes, stripeMoneySchemas } from './stripe-money/stripe-money.routes.js';
import { lookupSchemas, registerLookupRoutes } from './lookup/lookup.routes.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  ctx: ServiceContext<DB>;
  stripe: Stripe;
}

/** Builds the billing app; never listens (main.ts does). */
export async function build({ config, logger, ctx, stripe }: AppDeps): Promise<App> {
  const app = await buildApp({
    service: 'billing',
    logger,
    readiness: ctx.readiness,
    schemas: [...pricingSchemas, ...checkoutSchemas, ...orderSchemas, ...webhookSchemas, ...reconciliationSchemas, ...stripeMoneySchemas, ...lookupSchemas],
  });
  await registerInternalAuth(app as never, { audience: 'billing', jwksUrl: config.AUTH_JWKS_URL, revocation: { redis: ctx.bus.redis, keyPrefix: ctx.bus.prefix } });
  ctx.bus.registerMetrics(app.metricsRegistry, ['billing']);

  registerPricingRoutes(app, config.PRICING_PACKS, { behavior: config.PRICES_TAX_BEHAVIOR, automatic: config.STRIPE_AUTOMATIC_TAX });
  registerCheckoutRoutes(app, {
    db: ctx.db,
    stripe,
    packs: config.PRICING_PACKS,
    publicBaseUrl: config.PUBLIC_BASE_URL,
    successPath: config.CHECKOUT_SUCCESS_PATH,
    cancelPath: config.CHECKOUT_CANCEL_PATH,
    sessionTtlSeconds: config.CHECKOUT_SESSION_TTL,
    tax: { automatic: config.STRIPE_AUTOMATIC_TAX, behavior: config.PRICES_TAX_BEHAVIOR as TaxBehavior },
    log: logger,
  }, { redis: ctx.bus.redis, keyPrefix: ctx.bus.prefix });
  registerOrderRoutes(app, ctx.db);
  registerFraudRoutes(app, ctx.db);
  await registerWebhookRoutes(app, {
    db: ctx.db,
    bus: ctx.bus,
    stripe,
    webhookSecret: config.STRIPE_WEBHOOK_SECRET,
    toleranceSeconds: config.STRIPE_WEBHOOK_TOLERANCE,
  });
  registerReconciliationRoutes(app, ctx.db);
  registerStripeMoneyRoutes(app, { db: ctx.db, stripe, log: logger });
  registerLookupRoutes(app, ctx.db);
  registerPrivacyRoutes(app, ctx.db);
  return app;
}
