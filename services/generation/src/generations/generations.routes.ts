import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { authenticate, AppError, type App } from '@imlab/http';
import type { Config } from '../config.js';
import type { GenerationStatus } from '../db.js';
import { TERMINAL_STATUSES } from '../db.js';
import type { GenerationService } from './generations.service.js';
import { quote } from './generations.service.js';
import type { StatusEvents } from './status-events.js';
import { Accepted, GenerationPage, GenerationRequest, GenerationView, IdParams, IdempotencyHeaders, PageQuery, ProblemRef, Quote } from './generations.schemas.js';

const problems = { 400: ProblemRef, 401: ProblemRef, 404: ProblemRef };
const userOf = (req: FastifyRequest) => req.user.sub;

export function generationRoutes(app: App, deps: { config: Config; service: GenerationService; events: StatusEvents }): void {
  // Open event streams end when the service shuts down (the browser's EventSource reconnects to
  // another instance); otherwise close() would wait for them until the grace period ran out.
  const streams = new Set<() => void>();
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    for (const end of [...streams]) end();
  });

  const { config, service, events } = deps;

  app.post(
    '/v1/generations/quote',
    {
      preHandler: authenticate,
      schema: { tags: ['generation'], summary: 'Price a generation without creating it', body: GenerationRequest, response: { 200: Quote, 422: ProblemRef, ...problems } },
    },
    async (req) => quote(config, req.body),
  );

  app.post(
    '/v1/generations',
    {
      preHandler: authenticate,
      schema: {
        tags: ['generation'],
        summary: 'Create a generation: holds its credits and queues the render',
        headers: IdempotencyHeaders,
        body: GenerationRequest,
        response: { 202: Accepted, 402: ProblemRef, 409: ProblemRef, 422: ProblemRef, ...problems },
      },
    },
    async (req, reply) => {
      const outcome = await service.create(userOf(req), req.body, req.headers['idempotency-key'], req.id);
      const g = outcome.generation;
      if (outcome.kind === 'insufficient') {
        throw new AppError('LEDGER_INSUFFICIENT_CREDITS', {
          params: { cost: g.cost, shortfall: g.shortfall ?? 0 },
          details: { shortfall: g.shortfall ?? 0, cost: g.cost, generationId: g.id },
        });
      }
      reply.code(202).header('location', `/v1/generations/${g.id}`);
      return { id: g.id, status: g.status, cost: g.cost };
    },
  );

  app.get(
    '/v1/generations',
    { preHandler: authenticate, schema: { tags: ['generation'], querystring: PageQuery, response: { 200: GenerationPage, ...problems } } },
    async (req) => service.list(userOf(req), req.query.cursor, req.query.limit ?? 20),
  );

  app.get(
    '/v1/generations/:id',
    { preHandler: authenticate, schema: { tags: ['generation'], params: IdParams, response: { 200: GenerationView, ...problems } } },
    async (req) => service.get(userOf(req), req.params.id),
  );

  app.post(
    '/v1/generations/:id/cancel',
    { preHandler: authenticate, schema: { tags: ['generation'], params: IdParams, response: { 200: GenerationView, 409: ProblemRef, ...problems } } },
    async (req) => service.cancel(userOf(req), req.params.id),
  );

  app.get(
    '/v1/generations/:id/events',
    {
      preHandler: authenticate,
      schema: {
        tags: ['generation'],
        summary: 'Server-sent events: one `status` event per change, the last one (succeeded, failed, canceled, rejected) with the images',
        params: IdParams,
        response: { 200: Type.String({ description: 'text/event-stream' }), ...problems },
      },
    },
    async (req, reply) => {
      const userId = userOf(req);
      const first = await service.get(userId, req.params.id);
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': req.id,
      });
      let last: GenerationStatus | undefined;
      let closed = false;
      let chain = Promise.resolve();
      const cleanups: (() => void)[] = [];
      const close = () => {
        if (closed) return;
        closed = true;
        streams.delete(close);
        for (const c of cleanups) c();
        raw.end();
      };
      streams.add(close);
      // Opened while shutdown had already begun (it was authenticating or reading): end it at once.
      if (closing) return close();
      const emit = (view: typeof first) => {
        if (closed || view.status === last) return;
        last = view.status as GenerationStatus;
        raw.write(`event: status\ndata: ${JSON.stringify(view)}\n\n`);
        if (TERMINAL_STATUSES.includes(last)) close();
      };
      const refresh = () => {
        chain = chain
          .then(async () => {
            if (!closed) emit(await service.get(userId, req.params.id));
          })
          .catch(() => close());
      };
      req.raw.on('close', close);
      cleanups.push(await events.listen(first.id, refresh));
      // Pub/sub is a hint; the poll covers a notice lost between subscribe and read.
      const poll = setInterval(refresh, 1000);
      const ping = setInterval(() => raw.write(': ping\n\n'), 15_000);
      cleanups.push(() => clearInterval(poll), () => clearInterval(ping));
      emit(first);
      refresh();
    },
  );
}
