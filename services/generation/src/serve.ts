import { createLogger } from '@imlab/logger';
import { runService } from '@imlab/http';
import { contextFromConfig } from '@imlab/service';
import { loadGenerationConfig } from './config.js';
import { build, startConsumers, startSweeper } from './app.js';
import type { DB } from './db.js';

const config = loadGenerationConfig();
const logger = createLogger({ service: 'generation', level: config.LOG_LEVEL });
const ctx = await contextFromConfig<DB>('generation', config, logger, new URL('../migrations', import.meta.url));
const app = await build({ config, logger, ctx });
startConsumers(app, ctx);
const sweeper = startSweeper(app, ctx, config.SWEEP_INTERVAL_MS);
await ctx.bus.startRelay();
await runService({ logger, app, port: config.PORT, host: config.HOST, closables: [sweeper, ctx], graceMs: config.SHUTDOWN_GRACE_MS, metrics: { port: config.METRICS_PORT, registry: app.metricsRegistry } });
