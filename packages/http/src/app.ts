import Fastify from 'fastify';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyServerOptions,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { endRequestSpan, requestSpan, runInContext, setupTracing } from './trace.js';
import swagger from '@fastify/swagger';
import type { Logger } from '@imlab/logger';
import { clientErrorHandler, frameworkErrors, registerProblemHandlers } from './problem.js';
import { registerMetrics } from './metrics.js';
import { registerHealth, type ReadinessCheck } from './health.js';
import type { Registry } from 'prom-client';
import { useDrainAnswers } from './drain.js';
import { checkProblemsAgainstDocument } from './contract-check.js';
import { useJsonBodyRules } from './json-body.js';
import { API_TAGS, Problem, UUID_RE } from '@imlab/contracts';
import type { TSchema } from '@sinclair/typebox';
import { OPTIONAL_BODY, SECURITY_SCHEMES } from './openapi.js';
import addFormats from 'ajv-formats';
import { AjvCompiler } from '@fastify/ajv-compiler';

export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

declare module 'fastify' {
  interface FastifyInstance {
    metricsRegistry: Registry;
  }
}

const REQUEST_ID = /^[A-Za-z0-9_-]{8,64}$/;

export interface BuildAppOptions {
  service: string;
  logger: Logger;
  readiness?: Record<string, ReadinessCheck>;
  bodyLimit?: number;
  version?: string;
  /** Extra Fastify options (trustProxy for the gateway, ...). */
  fastify?: Partial<FastifyServerOptions>;
  /**
   * The service's component schemas (each with an `$id`; routes point at them with `ref()`), added
   * before any route. Problem is always added.
   */
  schemas?: readonly TSchema[];
}

/**
 * The shared Fastify factory: request ids (a well-formed x-request-id from the gateway is kept),
 * problem+json errors, /healthz, /readyz, /metrics, body limits and timeouts. Never listens.
 */
type AjvPlugin = NonNullable<NonNullable<FastifyServerOptions['ajv']>['plugins']>[number];
/** ajv-formats is CommonJS: its default import is the plugin function itself at run time. */
const formatsPlugin = addFormats as unknown as AjvPlugin;

/** ajv-formats' date-time, and only values JavaScript's Date can represent. */
const narrowDateTime: AjvPlugin = (ajv) => {
  const original = ajv.formats['date-time'] as { validate: (s: string) => boolean } | undefined;
  if (!original) throw new Error('ajv-formats did not define date-time');
  return ajv.addFormat('date-time', { type: 'string', validate: (s: string) => original.validate(s) && Number.isFinite(Date.parse(s)) });
};

/**
 * Validators: query strings, path parameters and headers arrive as text, so their types are
 * coerced ("20" → 20, one value → an array); a JSON body already has types, and a wrong one is the
 * client's mistake to hear about ({"count": true} is not a count, {"prompt": false} not a prompt).
 */
const validatorPool = AjvCompiler();
type ValidatorFactory = NonNullable<NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator']>;
const buildValidator: ValidatorFactory = (externalSchemas, ajvOptions) => {
  const options = ajvOptions as { customOptions?: Record<string, unknown> };
  const coercing = validatorPool(externalSchemas as never, options as never);
  const exact = validatorPool(externalSchemas as never, { ...options, customOptions: { ...options.customOptions, coerceTypes: false } } as never);
  return (route) => {
    // A body declared as raw bytes (`binaryContent`, an upload) is a Buffer its route inspects
    // itself: the schema documents it, there is no JSON to validate.
    if (route.httpPart === 'body' && (route.schema as { format?: unknown }).format === 'binary') return (() => true) as never;
    return (route.httpPart === 'body' ? exact : coercing)(route as never);
  };
};

export async function buildApp(opts: BuildAppOptions): Promise<App> {
  setupTracing(opts.service);
  const app = Fastify({
    loggerInstance: opts.logger,
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    connectionTimeout: 30_000,
    requestTimeout: 60_000,
    keepAliveTimeout: 72_000,
    // Draining answers come from useDrainAnswers (problem+json, Retry-After).
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false },
      // ajv-formats' uuid also accepts `urn:uuid:…`, which Postgres refuses (a 500 instead of a 400):
      // the formats are added here (so the compiler does not add them after us), then uuid is narrowed.
      // date-time is narrowed the same way: RFC 3339 allows a leap second (…T23:59:60Z), which
      // JavaScript's Date cannot hold (Invalid Date deeper down, a 500).
      plugins: [formatsPlugin, (ajv) => ajv.addFormat('uuid', UUID_RE), narrowDateTime],
    },
    schemaController: { compilersFactory: { buildValidator } },
    frameworkErrors,
    clientErrorHandler,
    // Every log line of a request names its trace (W3C traceparent from the gateway; trace.ts).
    childLoggerFactory: (logger, bindings, options, raw) => logger.child({ ...bindings, traceId: requestSpan(raw as IncomingMessage).span.spanContext().traceId }, options),
    ...opts.fastify,
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  // The handler, and every message it sends, run in the request's span (trace.ts).
  app.addHook('onRequest', (request, _reply, done) => runInContext(requestSpan(request.raw).ctx, done));
  app.addHook('onResponse', async (request, reply) => endRequestSpan(request.raw, request.routeOptions.url, reply.statusCode));
  app.addHook('onRequestAbort', async (request) => endRequestSpan(request.raw, request.routeOptions.url, 499));

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  useDrainAnswers(app as unknown as FastifyInstance);
  checkProblemsAgainstDocument(app as unknown as FastifyInstance);
  registerProblemHandlers(app as unknown as FastifyInstance);
  useJsonBodyRules(app as unknown as FastifyInstance);
  app.decorate('metricsRegistry', registerMetrics(app as unknown as FastifyInstance, opts.service));
  registerHealth(app as unknown as FastifyInstance, opts.readiness ?? {});
  // Every route schema becomes part of the service's OpenAPI document; the gateway merges them.
  // Components keep their `$id` as their name (swagger's default is def-0, def-1, …).
  for (const schema of [Problem, ...(opts.schemas ?? [])]) app.addSchema(schema);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: `imagemakerlab ${opts.service}`, version: opts.version ?? '1.0.0' },
      components: { securitySchemes: structuredClone(SECURITY_SCHEMES) as never },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    // The tags this service's operations use, with their descriptions; optional bodies said so.
    transformObject: (document) => {
      const openapiObject = (document as { openapiObject: { paths?: Record<string, Record<string, unknown>> } }).openapiObject;
      const operations = Object.values(openapiObject.paths ?? {}).flatMap((item) => Object.values(item ?? {}) as { tags?: string[]; requestBody?: { required?: boolean }; [OPTIONAL_BODY]?: boolean }[]);
      for (const op of operations) {
        if (!op[OPTIONAL_BODY]) continue;
        delete op[OPTIONAL_BODY];
        if (op.requestBody) op.requestBody.required = false;
      }
      const used = new Set(operations.flatMap((op) => op.tags ?? []));
      return { ...openapiObject, tags: API_TAGS.filter((t) => used.has(t.name)).map((t) => ({ ...t })) };
    },
  });
  app.get('/openapi.json', { schema: { hide: true } as object }, async () => app.swagger());
  return app;
}
