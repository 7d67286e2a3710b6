import cookie from '@fastify/cookie';
import { buildApp, AppError, type App } from '@imlab/http';
import type { Logger } from '@imlab/logger';
import type { ServiceContext } from '@imlab/service';
import type { Config } from './config.js';
import type { DB } from './db.js';
import type { AuthDeps } from './deps.js';
import { loadKeyRing, type KeyRing } from './keys/keys.js';
import { createSessionService, type SessionService } from './sessions/sessions.service.js';
import { createAccountService, type AccountService } from './accounts/accounts.service.js';
import { createProfileService } from './profile/profile.service.js';
import { createGoogleService } from './google/google.service.js';
import { createPrivacyService, type PrivacyService } from './privacy/privacy.service.js';
import { registerAccountRoutes } from './accounts/accounts.routes.js';
import { accountSchemas } from './accounts/accounts.schemas.js';
import { profileSchemas, registerProfileRoutes } from './profile/profile.routes.js';
import { registerInternalRoutes } from './sessions/internal.routes.js';
import { registerGoogleRoutes } from './google/google.routes.js';
import { privacySchemas, registerPrivacyRoutes } from './privacy/privacy.routes.js';
import { registerSettingsRoutes, settingsSchemas } from './settings/settings.routes.js';
import { createSettingsService } from './settings/settings.service.js';
import { registerDeletionGauges } from './privacy/inbox.js';
import { warmPasswordHasher } from './lib/passwords.js';
import { auditSchemas, registerAuditRoutes } from './audit/index.js';
import { metricsSchemas, registerMetricsRoutes } from './backoffice/metrics.js';
import { fraudSchemas, registerFraudRoutes } from './backoffice/fraud.js';
import { createSupportService, createSuspensionService, registerSupportRoutes, registerSuspensionRoutes, supportSchemas, suspensionSchemas } from './backoffice/index.js';
import { createBackground } from './lib/background.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  ctx: ServiceContext<DB>;
  /** Tests inject a key ring; otherwise it comes from AUTH_SIGNING_KEYS (or the dev key file). */
  keys?: KeyRing;
}

export interface AuthServices {
  deps: AuthDeps;
  sessions: SessionService;
  accounts: AccountService;
  privacy: PrivacyService;
}

declare module 'fastify' {
  interface FastifyInstance {
    auth: AuthServices;
  }
}

/** Builds the auth app; never listens (main.ts does). */
export async function build({ config, logger, ctx, keys }: AppDeps): Promise<App> {
  const app = await buildApp({ service: 'auth', logger, readiness: ctx.readiness, schemas: [...accountSchemas, ...profileSchemas, ...privacySchemas, ...settingsSchemas, ...auditSchemas, ...suspensionSchemas, ...supportSchemas, ...metricsSchemas, ...fraudSchemas] });
  ctx.bus.registerMetrics(app.metricsRegistry, ['auth']);
  await app.register(cookie);
  // 429 answers carry Retry-After (the problem body has it as retryAfter too).
  app.addHook('onError', async (_request, reply, err) => {
    const retryAfter = err instanceof AppError ? err.details?.retryAfter : undefined;
    if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
  });

  const deps: AuthDeps = {
    config,
    logger,
    db: ctx.db,
    bus: ctx.bus,
    redis: ctx.bus.redis,
    keyPrefix: ctx.bus.prefix,
    keys: keys ?? (await loadKeyRing({ signingKeys: config.AUTH_SIGNING_KEYS, keysFile: config.AUTH_KEYS_FILE, nodeEnv: config.NODE_ENV, logger })),
    background: createBackground(logger),
  };
  // in-flight after-the-answer work finishes before the pools close
  app.addHook('onClose', async () => deps.background.drain());
  await warmPasswordHasher();
  const sessions = createSessionService(deps);
  const accounts = createAccountService(deps, sessions);
  const profiles = createProfileService(deps);
  const google = createGoogleService(deps, sessions, accounts);
  const privacy = createPrivacyService(deps, sessions, accounts);
  const settings = createSettingsService(deps, sessions, accounts);
  app.decorate('auth', { deps, sessions, accounts, privacy });
  registerDeletionGauges(app.metricsRegistry, ctx, privacy.receipts, config.DELETION_OVERDUE_AFTER);

  registerInternalRoutes(app, deps, sessions);
  registerAccountRoutes(app, deps, accounts, sessions, profiles);
  registerProfileRoutes(app, deps, profiles, sessions);
  registerGoogleRoutes(app, deps, google);
  registerPrivacyRoutes(app, deps, privacy, sessions);
  registerSettingsRoutes(app, deps, settings, accounts, sessions, profiles);
  registerAuditRoutes(app, deps, sessions);
  registerSuspensionRoutes(app, deps, sessions, createSuspensionService(deps, sessions));
  registerSupportRoutes(app, deps, sessions, createSupportService(deps));
  registerMetricsRoutes(app, deps, sessions);
  registerFraudRoutes(app, deps, sessions);
  return app;
}
