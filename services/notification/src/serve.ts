import { createLogger } from '@imlab/logger';
import { runService } from '@imlab/http';
import { contextFromConfig } from '@imlab/service';
import { loadNotificationConfig, notificationPoolSize } from './config.js';
import { build } from './app.js';
import type { DB } from './db.js';
import { createMailer } from './delivery/providers/index.js';
import { startConsumers } from './inbox/inbox.handlers.js';

const config = loadNotificationConfig();
const logger = createLogger({ service: 'notification', level: config.LOG_LEVEL });
const mailer = createMailer(config, logger);
const ctx = await contextFromConfig<DB>('notification', config, logger, new URL('../migrations', import.meta.url), { poolSize: notificationPoolSize(config) });
const app = await build({ config, logger, ctx });
startConsumers({ ctx, config, mailer, metrics: app.metricsRegistry });
await ctx.bus.startRelay();
await runService({ logger, app, port: config.PORT, host: config.HOST, closables: [ctx], graceMs: config.SHUTDOWN_GRACE_MS, metrics: { port: config.METRICS_PORT, registry: app.metricsRegistry } });
