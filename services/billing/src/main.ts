import { fileURLToPath } from 'node:url';
import { createLogger } from '@imlab/logger';
import { runService } from '@imlab/http';
import { createServiceContext } from '@imlab/queue';
import { loadBillingConfig } from './config.js';
import { build } from './app.js';
import { createStripe } from './stripe/stripe-client.js';
import { startConsumers } from './consumers.js';
import { startSweeper } from './sweeper/sweeper.service.js';
import type { DB } from './db.js';

const config = loadBillingConfig();
const logger = createLogger({ service: 'billing', level: config.LOG_LEVEL });
const ctx = await createServiceContext<DB>({
  service: 'billing',
  logger,
  databaseUrl: config.DATABASE_URL,
  databaseName: config.DATABASE_NAME,
  redisUrl: config.REDIS_URL,
  queuePrefix: config.QUEUE_PREFIX,
  poolSize: config.DB_POOL_SIZE,
  migrationsFolder: fileURLToPath(new URL('../migrations', import.meta.url)),
  migrate: config.NODE_ENV !== 'production',
});
const stripe = createStripe(config);
const app = await build({ config, logger, ctx, stripe });
startConsumers(ctx.bus);
await ctx.bus.startRelay();
const sweeper = startSweeper(
  { db: ctx.db, bus: ctx.bus, stripe, log: logger.child({ component: 'sweeper' }), ageSeconds: config.PENDING_ORDER_SWEEP_AGE },
  config.PENDING_ORDER_SWEEP_INTERVAL,
);
await runService({ logger, app, port: config.PORT, host: config.HOST, closables: [sweeper, ctx], graceMs: config.SHUTDOWN_GRACE_MS });
