import { createLogger } from '@imlab/logger';
import { runService } from '@imlab/http';
import { contextFromConfig } from '@imlab/service';
import { loadNotificationConfig } from './config.js';
import { build } from './app.js';
import type { DB } from './db.js';
import { createMailer } from './delivery/providers/index.js';
import { startConsumers } from './inbox/inbox.handlers.js';

const config = loadNotificationConfig();
const logger = createLogger({ service: 'notification', level: config.LOG_LEVEL });
const mailer = createMailer(config, logger);
// Each email job holds its inbox transaction and briefly needs a second connection for the
// delivery state (see delivery.service.ts): the pool must outnumber the concurrency.
const ctx = await contextFromConfig<DB>('notification', config, logger, new URL('../migrations', import.meta.url), { poolSize: config.EMAIL_CONCURRENCY * 2 + 2 });
const app = await build({ config, logger, ctx });
startConsumers({ ctx, config, mailer, metrics: app.metricsRegistry });
await ctx.bus.startRelay();
await runService({ logger, app, port: config.PORT, host: config.HOST, closables: [ctx], graceMs: config.SHUTDOWN_GRACE_MS, metrics: { port: config.METRICS_PORT, registry: app.metricsRegistry } });
