import closeWithGrace from 'close-with-grace';
import type { Registry } from 'prom-client';
import type { Logger } from '@imlab/logger';
import { closeMetrics, createMetricsServer, listenMetrics } from './metrics.js';
import { flushTracing } from './trace.js';

export interface Closable {
  close(): Promise<unknown> | unknown;
  /**
   * Stop taking new work (queue jobs) while the HTTP side drains; close() then finishes what runs.
   * Called at the start of the shutdown, side by side with the app's close.
   */
  stopIntake?(): Promise<unknown> | unknown;
}

export interface RunOptions {
  logger: Logger;
  /** Started first; closed first (stop accepting, finish in-flight work). */
  app?: Closable & { listen(opts: { port: number; host: string }): Promise<string> };
  port?: number;
  host?: string;
  /** Closed after the app, in order: workers, relays, then pools. */
  closables?: Closable[];
  graceMs?: number;
  /** /metrics on its own internal listener (METRICS_PORT; 0 = any free port, logged), never on `port`. */
  metrics?: { port: number; registry: Registry };
}

/**
 * Process entry helper: listen, then on SIGTERM/SIGINT close the app (stops accepting, lets
 * in-flight requests finish) and, side by side, stop every closable's intake (no new queue job
 * starts while the requests drain, and the jobs running finish in the same time), then close every
 * closable in order, then the metrics listener, then exit. A second signal or the grace period
 * running out exits at once.
 */
export async function runService(opts: RunOptions): Promise<void> {
  const { logger } = opts;
  const metricsServer = opts.metrics ? createMetricsServer(opts.metrics.registry) : undefined;
  closeWithGrace({ delay: opts.graceMs ?? 10_000, logger: logger as never }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'shutting down after an error');
    else logger.info({ signal }, 'shutting down');
    const intake = (opts.closables ?? []).map(async (c) => {
      try {
        await c.stopIntake?.();
      } catch (e) {
        logger.error({ err: e }, 'error while stopping intake');
      }
    });
    await Promise.all([opts.app?.close(), ...intake]);
    for (const c of opts.closables ?? []) {
      try {
        await c.close();
      } catch (e) {
        logger.error({ err: e }, 'error while closing');
      }
    }
    // Last: a worker finishing its jobs (a render worker drains for minutes) can still be scraped.
    if (metricsServer) await closeMetrics(metricsServer);
    await flushTracing().catch((e: unknown) => logger.warn({ err: e }, 'could not export the last spans'));
    logger.info('stopped');
  });
  if (metricsServer && opts.metrics) {
    const port = await listenMetrics(metricsServer, opts.metrics.port, opts.host ?? '127.0.0.1');
    logger.info({ port }, 'metrics listener up');
  }
  if (opts.app && opts.port !== undefined) {
    const address = await opts.app.listen({ port: opts.port, host: opts.host ?? '127.0.0.1' });
    logger.info({ address }, 'listening');
  }
}
