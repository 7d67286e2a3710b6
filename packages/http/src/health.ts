import type { FastifyInstance } from 'fastify';

export type ReadinessCheck = () => Promise<void>;

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** /healthz: the process runs. /readyz: every dependency (Postgres, Redis, ...) answers in time. */
export function registerHealth(app: FastifyInstance, checks: Record<string, ReadinessCheck>): void {
  let closing = false;
  app.addHook('onClose', async () => {
    closing = true;
  });
  app.get('/healthz', { schema: { hide: true } as object }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } as object }, async (_req, reply) => {
    const results: Record<string, string> = {};
    let ok = !closing;
    await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await withTimeout(check(), 2000);
          results[name] = 'ok';
        } catch (err) {
          ok = false;
          results[name] = (err as Error).message.slice(0, 200);
        }
      }),
    );
    reply.code(ok ? 200 : 503);
    return { status: ok ? 'ok' : closing ? 'closing' : 'unavailable', checks: results };
  });
}
