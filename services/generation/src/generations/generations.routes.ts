import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { ref } from '@imlab/contracts';
import { authenticate, AppError, errors, JSON_BODY_ERRORS, operation, type App, refuseSuspended, type SuspensionSource } from '@imlab/http';
import type { Config } from '../config.js';
import type { GenerationStatus } from '../db.js';
import { OPEN_STATUSES, TERMINAL_STATUSES } from '../db.js';
import type { GenerationService } from './generations.service.js';
import { options, quote } from './generations.service.js';
import type { StatusEvents } from './status-events.js';
import { Accepted, GenerationOptions, GenerationPage, GenerationRequest, GenerationView, IdParams, IdempotencyHeaders, PageQuery, Quote } from './generations.schemas.js';

const userOf = (req: FastifyRequest) => req.user.sub;
/** What a prompt can be refused for (quote and create alike). */
const REQUEST_REFUSED = [
  'GENERATION_PROMPT_EMPTY',
  'GENERATION_PROMPT_TOO_LONG',
  'GENERATION_CONTENT_POLICY',
  'GENERATION_SIZE_MISMATCH',
  'GENERATION_REFERENCES_UNSUPPORTED',
  'GENERATION_UNSUPPORTED_OPTION',
] as const;
const oneGeneration = { 400: ['VALIDATION_FAILED'], 401: ['UNAUTHENTICATED'], 404: ['GENERATION_NOT_FOUND'] } as const;
const generation = ref(GenerationView, { description: 'The generation' });

/** One `status` event: the generation as `GET /v1/generations/{id}` answers it. */
const SSE_EXAMPLE = `id: running\nevent: status\ndata: {"id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a80","status":"running",…}\n\nevent: progress\ndata: {"id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a80","percent":45}\n\n: ping\n\nid: succeeded\nevent: status\ndata: {"id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a80","status":"succeeded",…,"images":[…]}\n\n`;

export function generationRoutes(app: App, deps: { config: Config; service: GenerationService; events: StatusEvents; suspension: SuspensionSource }): void {
  const notSuspended = refuseSuspended(deps.suspension);
  // Open event streams end when the service shuts down (the browser's EventSource reconnects to
  // another instance); otherwise close() would wait for them until the grace period ran out.
  const streams = new Set<() => void>();
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    for (const end of [...streams]) end();
  });

  const { config, service, events } = deps;

  const offered = options(config);
  app.get(
    '/v1/generations/options',
    {
      schema: {
        ...operation('getGenerationOptions', {
          tag: 'generations',
          access: 'public',
          summary: 'What each tier offers',
          description:
            'Per tier (`model`): the sizes it renders and their price, the size each aspect ratio makes, how many images, and whether seed, negative prompt and reference images are taken — with the image service configured now. Offer only these; anything else is refused with 422 `GENERATION_UNSUPPORTED_OPTION`.',
        }),
        response: { 200: ref(GenerationOptions, { description: 'The options' }) },
      },
    },
    async () => offered,
  );

  app.post(
    '/v1/generations/quote',
    {
      preHandler: authenticate,
      schema: {
        ...operation('quoteGeneration', {
          tag: 'generations',
          access: 'session',
          summary: 'Price a generation without creating it',
          description: 'Checks the request as `createGeneration` would and answers its cost; nothing is created or held.',
        }),
        body: ref(GenerationRequest),
        response: { 200: ref(Quote, { description: 'The price' }), ...errors(JSON_BODY_ERRORS, { 401: ['UNAUTHENTICATED'], 422: REQUEST_REFUSED }) },
      },
    },
    async (req) => quote(config, req.body),
  );

  app.post(
    '/v1/generations',
    {
      preHandler: [authenticate, notSuspended],
      schema: {
        ...operation('createGeneration', {
          tag: 'generations',
          access: 'session',
          summary: 'Create a generation',
          description:
            'Holds the credits the generation costs and queues the render. The prompt and the negative prompt are checked against the content policy first (422 `GENERATION_CONTENT_POLICY` names the rule and the `field`; nothing is held); with model moderation on, so are the prompt and the reference images (503 `MODERATION_UNAVAILABLE` when the model cannot answer and the service is set to fail closed). Not enough credits: 402 with `shortfall` (the generation is kept as rejected). With an `Idempotency-Key`, the same request again answers the same generation; the same key with another request is 422 `GENERATION_IDEMPOTENCY_KEY_REUSED`. Follow it with `GET /v1/generations/{id}` or its event stream.',
        }),
        headers: IdempotencyHeaders,
        body: ref(GenerationRequest),
        response: {
          202: ref(Accepted, { description: 'Created; `Location` names the generation', headers: { location: Type.String({ description: '/v1/generations/{id}' }) } }),
          ...errors(JSON_BODY_ERRORS, {
            401: ['UNAUTHENTICATED'],
            402: ['LEDGER_INSUFFICIENT_CREDITS'],
            403: ['ACCOUNT_SUSPENDED'],
            422: [...REQUEST_REFUSED, 'GENERATION_REFERENCE_NOT_FOUND', 'GENERATION_IDEMPOTENCY_KEY_REUSED'],
            503: ['MODERATION_UNAVAILABLE'],
          }),
        },
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
      return { id: g.id, status: g.status, cost: g.cost, size: `${g.width}x${g.height}`, width: g.width, height: g.height };
    },
  );

  app.get(
    '/v1/generations',
    {
      preHandler: authenticate,
      schema: {
        ...operation('listGenerations', { tag: 'generations', access: 'session', summary: 'My generations', description: "The person's generations, newest first, with their images." }),
        querystring: PageQuery,
        response: { 200: ref(GenerationPage, { description: 'One page of generations' }), ...errors({ 400: ['VALIDATION_FAILED', 'INVALID_CURSOR'], 401: ['UNAUTHENTICATED'] }) },
      },
    },
    async (req) => service.list(userOf(req), req.query.cursor, req.query.limit ?? 20),
  );

  app.get(
    '/v1/generations/:id',
    {
      preHandler: authenticate,
      schema: {
        ...operation('getGeneration', { tag: 'generations', access: 'session', summary: 'One generation', description: 'The generation, its status and, once it succeeded, its images.' }),
        params: IdParams,
        response: { 200: generation, ...errors(oneGeneration) },
      },
    },
    async (req) => service.get(userOf(req), req.params.id),
  );

  app.post(
    '/v1/generations/:id/cancel',
    {
      preHandler: authenticate,
      schema: {
        ...operation('cancelGeneration', {
          tag: 'generations',
          access: 'session',
          summary: 'Cancel a generation',
          description: 'Cancels a generation that has not finished; its credits go back. Canceling a canceled one answers it again.',
        }),
        params: IdParams,
        response: { 200: ref(GenerationView, { description: 'The canceled generation' }), ...errors(oneGeneration, { 409: ['GENERATION_NOT_CANCELABLE'] }) },
      },
    },
    async (req) => service.cancel(userOf(req), req.params.id),
  );

  app.get(
    '/v1/generations/:id/events',
    {
      preHandler: authenticate,
      schema: {
        ...operation('streamGenerationEvents', {
          tag: 'generations',
          access: 'session',
          summary: 'Follow a generation (Server-Sent Events)',
          description:
            'A `text/event-stream`. Event `status`: its `data` is the generation (as `getGeneration` answers it, schema `Generation`), sent at once and on every status change; its `id` is that status. A reconnect sending `Last-Event-ID` (the last status seen) is not sent that status again. Event `progress` (no id), while it runs and only from image services that report it (see `getGenerationOptions`): `data` is `{"id","percent"}` with percent 0–100. Lines starting with `:` are keep-alive comments (every 15 s). The stream ends after a final status (succeeded, failed, canceled, rejected), whose event carries the images; when the server shuts down it ends too, and a reconnect starts again with the current status.',
        }),
        params: IdParams,
        response: {
          200: {
            description: 'The event stream',
            content: {
              'text/event-stream': {
                schema: { type: 'string', description: 'Events named `status`, each `data` a `Generation` as JSON, and `progress` (`{"id","percent"}`) while it runs; `:` comment lines keep the connection alive.' },
                example: SSE_EXAMPLE,
              },
            },
          },
          ...errors(oneGeneration),
        },
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
      // A reconnect names the last status it saw (each event's id is its status): that one is not
      // sent again, the stream goes on from the next change (a final one still ends it at once).
      const resumed = req.headers['last-event-id'];
      let last: GenerationStatus | undefined = typeof resumed === 'string' && (OPEN_STATUSES as string[]).includes(resumed) ? (resumed as GenerationStatus) : undefined;
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
        raw.write(`id: ${last}\nevent: status\ndata: ${JSON.stringify(view)}\n\n`);
        if (TERMINAL_STATUSES.includes(last)) close();
      };
      const refresh = () => {
        chain = chain
          .then(async () => {
            if (!closed) emit(await service.get(userId, req.params.id));
          })
          .catch(() => close());
      };
      // Progress of a running render (providers that report it): no id, so a reconnect's
      // Last-Event-ID stays the last status.
      const progress = (percent: number) => {
        if (closed || last !== 'running' || !Number.isFinite(percent)) return;
        raw.write(`event: progress\ndata: ${JSON.stringify({ id: first.id, percent })}\n\n`);
      };
      req.raw.on('close', close);
      cleanups.push(await events.listen(first.id, refresh, progress));
      // Pub/sub is a hint; the poll covers a notice lost between subscribe and read.
      const poll = setInterval(refresh, 1000);
      const ping = setInterval(() => raw.write(': ping\n\n'), 15_000);
      cleanups.push(() => clearInterval(poll), () => clearInterval(ping));
      emit(first);
      refresh();
    },
  );
}
