import { createLogger } from '@imlab/logger';
import { runService } from '@imlab/http';
import { contextFromConfig } from '@imlab/service';
import { loadBillingConfig } from './config.js';
import { build } from './app.js';
import { createStripe } from './stripe/stripe-client.js';
import { startConsumers } from './consumers.js';
import { startSweeper } from './sweeper/sweeper.service.js';
import type { DB } from './db.js';

const config = loadBillingConfig();
const logger = createLogger({ service: 'billing', level: config.LOG_LEVEL });
const ctx = await contextFromConfig<DB>('billing', config, logger, new URL('../migrations', import.meta.url));
const stripe = createStripe(config);
const app = await build({ config, logger, ctx, stripe });
startConsumers(ctx.bus, stripe);
await ctx.bus.startRelay();
const sweeper = startSweeper(
  { db: ctx.db, bus: ctx.bus, stripe, log: logger.child({ component: 'sweeper' }), ageSeconds: config.PENDING_ORDER_SWEEP_AGE },
  config.PENDING_ORDER_SWEEP_INTERVAL,
);
await runService({ logger, app, port: config.PORT, host: config.HOST, closables: [sweeper, ctx], graceMs: config.SHUTDOWN_GRACE_MS, metrics: { port: config.METRICS_PORT, registry: app.metricsRegistry } });
