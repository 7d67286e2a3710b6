import { fileURLToPath } from 'node:url';
import { createLogger } from '@imlab/logger';
import { runService } from '@imlab/http';
import { createServiceContext } from '@imlab/queue';
import { loadNotificationConfig } from './config.js';
import { build } from './app.js';
import type { DB } from './db.js';

const config = loadNotificationConfig();
const logger = createLogger({ service: 'notification', level: config.LOG_LEVEL });
const ctx = await createServiceContext<DB>({
  service: 'notification',
  logger,
  databaseUrl: config.DATABASE_URL,
  databaseName: config.DATABASE_NAME,
  redisUrl: config.REDIS_URL,
  queuePrefix: config.QUEUE_PREFIX,
  migrationsFolder: fileURLToPath(new URL('../migrations', import.meta.url)),
  migrate: config.NODE_ENV !== 'production',
});
const app = await build({ config, logger, ctx });
await ctx.bus.startRelay();
await runService({ logger, app, port: config.PORT, host: config.HOST, closables: [ctx], graceMs: config.SHUTDOWN_GRACE_MS });
