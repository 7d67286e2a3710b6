import { fileURLToPath } from 'node:url';
import { createLogger } from '@imlab/logger';
import { runService } from '@imlab/http';
import { createServiceContext } from '@imlab/queue';
import { loadGenerationConfig } from './config.js';
import { build, startConsumers, startSweeper } from './app.js';
import type { DB } from './db.js';

const config = loadGenerationConfig();
const logger = createLogger({ service: 'generation', level: config.LOG_LEVEL });
const ctx = await createServiceContext<DB>({
  service: 'generation',
  logger,
  databaseUrl: config.DATABASE_URL,
  databaseName: config.DATABASE_NAME,
  redisUrl: config.REDIS_URL,
  queuePrefix: config.QUEUE_PREFIX,
  migrationsFolder: fileURLToPath(new URL('../migrations', import.meta.url)),
  migrate: config.NODE_ENV !== 'production',
  poolSize: config.DB_POOL_SIZE,
});
const app = await build({ config, logger, ctx });
startConsumers(app, ctx);
const sweeper = startSweeper(app, ctx, config.SWEEP_INTERVAL_MS);
await ctx.bus.startRelay();
await runService({ logger, app, port: config.PORT, host: config.HOST, closables: [sweeper, ctx], graceMs: config.SHUTDOWN_GRACE_MS });
