import { buildApp, type App } from '@imlab/http';
import type { Logger } from '@imlab/logger';
import type { Worker } from '@imlab/queue';
import type { ServiceContext } from '@imlab/service';
import type { Config } from '../config.js';
import type { DB } from '../db.js';
import { createMetrics } from '../metrics.js';
import { StatusEvents } from '../generations/status-events.js';
import { createStorage, type ObjectStorage } from '../storage/storage.js';
import { StorageDeletions } from '../storage/deletions.js';
import { createProvider, type ImageProvider } from './providers/index.js';
import { RenderService } from './render.service.js';

export interface RenderWorker {
  /** Health and metrics only. */
  app: App;
  worker: Worker;
  events: StatusEvents;
}

/**
 * The render worker: consumes `generation-render` with RENDER_CONCURRENCY jobs at a time. It is
 * the raw BullMQ variant because a render must not hold a database transaction open; the
 * generation row's conditional updates make it idempotent instead.
 */
export async function startRenderWorker(deps: {
  config: Config;
  logger: Logger;
  ctx: ServiceContext<DB>;
  storage?: ObjectStorage;
  provider?: ImageProvider;
}): Promise<RenderWorker> {
  const { config, logger, ctx } = deps;
  const storage = deps.storage ?? createStorage(config);
  const provider = deps.provider ?? createProvider(config);
  const app = await buildApp({ service: 'generation-worker', logger, readiness: { ...ctx.readiness, storage: () => storage.ping() } });
  ctx.bus.registerMetrics(app.metricsRegistry, ['generation-render']);
  const metrics = createMetrics(app.metricsRegistry);
  const events = new StatusEvents(ctx.bus.redis, ctx.bus.prefix);
  const deletions = new StorageDeletions({ db: ctx.db, storage, log: logger, metrics });
  const render = new RenderService({ db: ctx.db, bus: ctx.bus, config, events, metrics, storage, deletions, provider, logger });
  const worker = ctx.bus.worker(
    'generation-render',
    async ({ message, job, token, log }) => {
      const { generationId, userId } = message.payload as { generationId: string; userId?: string };
      return render.process(generationId, job, token, log, userId);
    },
    { concurrency: config.RENDER_CONCURRENCY, lockDuration: config.RENDER_LOCK_MS, stalledInterval: config.RENDER_STALLED_INTERVAL_MS },
  );
  worker.on('failed', (job, err) => {
    // finishedOn is set only when the job failed for good (a retry leaves it unset).
    if (!job?.finishedOn) return;
    const { generationId } = ((job.data as { payload?: { generationId?: string } }).payload ?? {}) as { generationId?: string };
    if (!generationId) return;
    render.gaveUp(generationId, err.message, logger).catch((e: unknown) =>
      // The hold-expiry sweep ends it later.
      logger.warn({ generationId, err: { message: (e as Error).message } }, 'could not end a generation whose render job failed'),
    );
  });
  app.addHook('onClose', async () => events.close());
  return { app, worker, events };
}
