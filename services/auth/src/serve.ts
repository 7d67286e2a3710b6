import { createLogger } from '@imlab/logger';
import { runService } from '@imlab/http';
import { contextFromConfig } from '@imlab/service';
import { loadAuthConfig } from './config.js';
import { build } from './app.js';
import { startPrivacyWorker } from './privacy/privacy.service.js';
import type { DB } from './db.js';
import { consumeAuthInbox } from './privacy/inbox.js';

const config = loadAuthConfig();
const logger = createLogger({ service: 'auth', level: config.LOG_LEVEL });
const ctx = await contextFromConfig<DB>('auth', config, logger, new URL('../migrations', import.meta.url));
const app = await build({ config, logger, ctx });
await ctx.bus.startRelay();
// the services' reports that their part of a purge is done (deletion receipts)
consumeAuthInbox(ctx, app.auth.privacy.receipts);
const privacyWorker = startPrivacyWorker(app.auth.privacy, config.PRIVACY_POLL_MS, logger);
await runService({ logger, app, port: config.PORT, host: config.HOST, closables: [privacyWorker, ctx], graceMs: config.SHUTDOWN_GRACE_MS, metrics: { port: config.METRICS_PORT, registry: app.metricsRegistry } });
