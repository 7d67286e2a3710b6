import { AppError, buildApp, registerDailyMetrics, registerInternalAuth, type App } from '@imlab/http';
import type { Logger } from '@imlab/logger';
import type { ServiceContext } from '@imlab/service';
import type { Config } from './config.js';
import type { DB } from './db.js';
import { createStorage, type ObjectStorage } from './storage/storage.js';
import { StorageDeletions } from './storage/deletions.js';
import { createMetrics, createSweepMetrics, type GenerationMetrics } from './metrics.js';
import { StatusEvents } from './generations/status-events.js';
import { GenerationService } from './generations/generations.service.js';
import { generationRoutes } from './generations/generations.routes.js';
import { generationHandlers } from './generations/generations.handlers.js';
import { imageRoutes, imageSchemas } from './images/images.routes.js';
import { uploadRoutes, uploadSchemas } from './uploads/uploads.routes.js';
import { generationSchemas } from './generations/generations.schemas.js';
import { sweepExpiredUploads } from './uploads/uploads.service.js';
import { privacyRoutes } from './privacy/privacy.routes.js';
import { Moderation } from './moderation/moderation.js';
import { moderationRoutes, moderationSchemas } from './moderation/index.js';
import { GENERATION_DAILY_METRICS, countRefusal, generationDailyCounts } from './daily/daily.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  ctx: ServiceContext<DB>;
  /** Defaults to the one STORAGE selects. */
  storage?: ObjectStorage;
}

export interface GenerationRuntime {
  service: GenerationService;
  events: StatusEvents;
  storage: ObjectStorage;
  deletions: StorageDeletions;
  metrics: GenerationMetrics;
}

declare module 'fastify' {
  interface FastifyInstance {
    generation: GenerationRuntime;
  }
}

/** Builds the generation API; never listens (main.ts does). */
export async function build({ config, logger, ctx, storage = createStorage(config) }: AppDeps): Promise<App> {
  const app = await buildApp({
    service: 'generation',
    logger,
    readiness: { ...ctx.readiness, storage: () => storage.ping() },
    // Uploads have their own, larger limit on their route.
    bodyLimit: 64 * 1024,
    schemas: [...generationSchemas, ...imageSchemas, ...uploadSchemas, ...moderationSchemas],
  });
  await registerInternalAuth(app as never, { audience: 'generation', jwksUrl: config.AUTH_JWKS_URL, revocation: { redis: ctx.bus.redis, keyPrefix: ctx.bus.prefix } });
  ctx.bus.registerMetrics(app.metricsRegistry, ['generation', 'generation-render']);
  const metrics = createMetrics(app.metricsRegistry);
  const events = new StatusEvents(ctx.bus.redis, ctx.bus.prefix);
  const moderation = new Moderation(config, logger);
  const service = new GenerationService({ db: ctx.db, bus: ctx.bus, config, events, metrics, logger, storage, moderation });
  const deletions = new StorageDeletions({ db: ctx.db, storage, log: logger, metrics, pending: createSweepMetrics(app.metricsRegistry).storageDeletionsPending });
  app.decorate('generation', { service, events, storage, deletions, metrics });
  app.addHook('onClose', async () => events.close());

  const suspension = { redis: ctx.bus.redis, keyPrefix: ctx.bus.prefix };
  generationRoutes(app, { config, service, events, suspension });
  imageRoutes(app, { db: ctx.db, storage, deletions, moderation, metrics, suspension });
  await uploadRoutes(app, { db: ctx.db, storage, deletions, config });
  privacyRoutes(app, { db: ctx.db, storage, config });
  moderationRoutes(app, { db: ctx.db, bus: ctx.bus, redis: ctx.bus.redis, prefix: ctx.bus.prefix, config });
  registerDailyMetrics(app, { service: 'generation', gaugeService: 'generation', metrics: GENERATION_DAILY_METRICS, counts: (from, to) => generationDailyCounts(ctx.db, from, to) });
  // A refused prompt leaves no row: its rule is counted for the daily metrics (never the prompt or the person).
  app.addHook('onError', async (_req, _reply, err) => {
    const rule = err instanceof AppError && err.code === 'GENERATION_CONTENT_POLICY' ? err.details?.rule : undefined;
    if (typeof rule === 'string') await countRefusal(ctx.db, rule).catch((e: unknown) => app.log.warn({ err: e }, 'refusal not counted'));
  });
  return app;
}

/** The generation inbox: ledger hold events, profile updates, purge. */
export function startConsumers(app: App, ctx: ServiceContext<DB>, opts: { concurrency?: number } = {}) {
  const { service, storage, events, deletions } = app.generation;
  return ctx.bus.consume('generation', generationHandlers(service, storage, events), {
    concurrency: opts.concurrency ?? 8,
    // A purge leaves the person's recorded object deletions due: act on them now rather than at
    // the next sweep, so nothing naming the person stays longer than storage takes to answer.
    afterCommit: async (message) => {
      if (message.name !== 'user.purge') return;
      await deletions.sweepUser((message.payload as { userId: string }).userId).catch((err: unknown) => app.log.warn({ err }, 'deletions after a purge left to the sweep'));
    },
  });
}

/** Periodic clean-up: expired holds fail (and release), unused uploads expire, failed object deletions are retried. */
export function startSweeper(app: App, ctx: ServiceContext<DB>, intervalMs: number): { close(): Promise<void> } {
  const { service, deletions } = app.generation;
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) return; // never overlaps itself
    running = (async () => {
      // Each step on its own: one failing (storage down) does not hold up the others (holds expire).
      const steps: [string, () => Promise<unknown>][] = [
        ['holds', () => service.sweepExpired()],
        ['dispatch', () => service.sweepDispatch()],
        ['uploads', () => sweepExpiredUploads(ctx.db, deletions)],
        ['storage-deletions', () => deletions.sweep()],
      ];
      for (const [step, run] of steps) {
        try {
          await run();
        } catch (err) {
          app.log.error({ err, step }, 'sweep failed');
        }
      }
    })().finally(() => {
      running = undefined;
    });
  }, intervalMs);
  timer.unref();
  // Closed before the pool: a sweep under way finishes first.
  return {
    close: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
