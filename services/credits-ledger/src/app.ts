import { buildApp, registerDailyMetrics, registerInternalAuth, type App } from '@imlab/http';
import { LEDGER_DAILY_METRICS, ledgerDailyCounts } from './daily/daily.js';
import type { Logger } from '@imlab/logger';
import type { ServiceContext } from '@imlab/service';
import type { Config } from './config.js';
import type { DB } from './db.js';
import { creditSchemas, creditsRoutes } from './credits/credits.routes.js';
import { financeRoutes } from './finance/finance.routes.js';
import { financeSchemas } from './finance/finance.schemas.js';
import { privacyRoutes } from './privacy/privacy.routes.js';
import { revenueRoutes, revenueSchemas } from './revenue/revenue.routes.js';
import { goodwillRoutes, goodwillSchemas } from './goodwill/goodwill.routes.js';
import { ledgerDeps } from './inbox.js';
import type { LedgerDeps } from './ledger/ledger.service.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  ctx: ServiceContext<DB>;
}

/** Builds the credits-ledger app; never listens (main.ts does). */
export async function build({ config, logger, ctx }: AppDeps): Promise<App> {
  const app = await buildApp({ service: 'credits-ledger', logger, readiness: ctx.readiness, schemas: [...creditSchemas, ...financeSchemas, ...revenueSchemas, ...goodwillSchemas] });
  await registerInternalAuth(app as never, { audience: 'credits-ledger', jwksUrl: config.AUTH_JWKS_URL, revocation: { redis: ctx.bus.redis, keyPrefix: ctx.bus.prefix } });
  ctx.bus.registerMetrics(app.metricsRegistry, ['credits-ledger']);
  creditsRoutes(app, ctx.db);
  financeRoutes(app, ctx.db, config.LEDGER_SEAL_SECRET);
  revenueRoutes(app, ctx.db, config.LEDGER_SEAL_SECRET);
  privacyRoutes(app, ctx.db);
  registerDailyMetrics(app, { service: 'credits-ledger', gaugeService: 'ledger', metrics: LEDGER_DAILY_METRICS, counts: (from, to) => ledgerDailyCounts(ctx.db, from, to) });
  // the system account ids are read once, when the first grant needs them
  let deps: Promise<LedgerDeps> | undefined;
  goodwillRoutes(app, ctx.db, () => (deps ??= ledgerDeps(ctx, config)), { perGrant: config.GOODWILL_MAX_PER_GRANT, perActorPerDay: config.GOODWILL_MAX_PER_ADMIN_PER_DAY });
  return app;
}
