import { createLogger } from '@imlab/logger';
import { runService } from '@imlab/http';
import { contextFromConfig } from '@imlab/service';
import { loadGenerationConfig, workerPoolSize } from './config.js';
import { startRenderWorker } from './render/render.worker.js';
import type { DB } from './db.js';

// The render worker (its entry point is worker.ts): render workers only, scaled by ops on the generation-render queue depth.
const config = loadGenerationConfig();
const logger = createLogger({ service: 'generation-worker', level: config.LOG_LEVEL });
const ctx = await contextFromConfig<DB>('generation-worker', config, logger, new URL('../migrations', import.meta.url), { poolSize: workerPoolSize(config) });
const { app } = await startRenderWorker({ config, logger, ctx });
// Capture and release commands are written to the outbox; this process relays its own.
await ctx.bus.startRelay();
// SIGTERM: stop serving health, let running renders finish (bus.close waits for the worker); a
// render that outlives the grace period is handed back when its lock expires.
await runService({ logger, app, port: config.WORKER_PORT, host: config.HOST, closables: [ctx], graceMs: config.SHUTDOWN_GRACE_MS, metrics: { port: config.WORKER_METRICS_PORT, registry: app.metricsRegistry } });
