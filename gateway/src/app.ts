import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Agent, request as undiciRequest } from 'undici';
import { lazyChildLogger, type Logger } from '@imlab/logger';
import { clientErrorHandler, closeMetrics, createMetricsServer, endRequestSpan, frameworkErrors, requestSpan, runInContext, setupTracing, useDrainAnswers } from '@imlab/http';
import type { IncomingMessage } from 'node:http';
import type { ServiceName } from '@imlab/contracts';
import type { Config } from './config.js';
import { registerErrorHandler } from './errors.js';
import { createMetrics, forwardedRouteLabel } from './metrics.js';
import { normalizeClientAddress } from './identity/client-address.js';
import { createHasher } from './identity/hash.js';
import { createDeviceLabeler } from './identity/device.js';
import { staticSecurityHeaders } from './security/headers.js';
import { registerCors } from './security/cors.js';
import { normalizeUrl } from './routing/normalize-path.js';
import { answerProbe, registerProxy } from './routing/proxy.js';
import { clientAddress, clientHeaderOf, METRICS_PATH, type Upstreams } from './routing/routes.js';
import { createLimiter, type Limiter } from './rate-limit/limiter.js';
import { SessionResolver } from './session/sessions.js';
import { listenForEndedSessions } from './session/sessions-ended.js';
import { OpenApiAggregator } from './openapi/merge.js';
import { registerQueueBoard } from './admin/queue-board.js';
import { registerWebApp } from './web/web-app.js';

export interface GatewayDeps {
  config: Config;
  logger: Logger;
  /** Start the periodic OpenAPI refresh (main does; tests call `openapi.refresh()` themselves). */
  refreshOpenApi?: boolean;
}

export interface Gateway {
  app: FastifyInstance;
  /** /metrics, for main.ts to listen on METRICS_PORT (not listening yet); closed with the app. */
  metricsServer: Server;
  limiter: Limiter;
  openapi: OpenApiAggregator;
}

/** Set on the raw request by rewriteUrl when the path was refused, answered by BAD_PATH_ROUTE. */
const BAD_PATH = Symbol('imlab.badPath');
const BAD_PATH_ROUTE = '/__gateway/refused-path';

export function upstreamsFrom(config: Config): Upstreams {
  return {
    auth: config.AUTH_URL,
    'credits-ledger': config.LEDGER_URL,
    generation: config.GENERATION_URL,
    billing: config.BILLING_URL,
    notification: config.NOTIFICATION_URL,
  } satisfies Record<ServiceName, string>;
}

/** Builds the gateway; never listens (main.ts does). */
export async function build({ config, logger, refreshOpenApi = false }: GatewayDeps): Promise<Gateway> {
  setupTracing('gateway');
  const upstreams = Object.fromEntries(Object.entries(upstreamsFrom(config)).map(([k, v]) => [k, v.replace(/\/+$/, '')])) as Upstreams;
  // Headers for answers Fastify makes before any hook runs (set below, with the security headers).
  let frameworkAnswerHeaders: Record<string, string> = {};
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: config.BODY_LIMIT,
    // Only these peers may speak for the client in X-Forwarded-For; the right-most untrusted hop wins.
    trustProxy: config.TRUSTED_PROXIES.length ? [...config.TRUSTED_PROXIES] : false,
    requestTimeout: 120_000,
    keepAliveTimeout: 72_000,
    // Draining answers come from useDrainAnswers (problem+json, Retry-After).
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // A request id from the internet is not trusted: every request gets a fresh one here.
    requestIdHeader: false,
    genReqId: () => randomUUID(),
    // Per-request loggers are built only when a request actually logs (most never do at info+).
    // Every log line of a request names its trace: the client's traceparent continued, or a new one.
    childLoggerFactory: (parent, bindings, options, raw) => lazyChildLogger(parent as Logger, { ...bindings, traceId: requestSpan(raw as IncomingMessage).span.spanContext().traceId }, options) as never,
    // What Fastify's router or Node's parser refuse before any hook runs: problem+json too, with
    // the security headers the onRequest hook would have set.
    frameworkErrors: (error, request, reply) => frameworkErrors(error, request, reply.headers(frameworkAnswerHeaders)),
    clientErrorHandler,
    rewriteUrl(req) {
      const n = normalizeUrl(req.url ?? '/');
      if (n.ok) return n.url;
      (req as unknown as Record<symbol, string>)[BAD_PATH] = n.reason;
      return BAD_PATH_ROUTE;
    },
  }) as unknown as FastifyInstance;

  const metrics = createMetrics();
  const dispatcher = new Agent({ connections: 256, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000, connect: { timeout: 2000 } });
  const limiter = createLimiter(config.REDIS_URL, config.RATE_LIMIT_REDIS_TIMEOUT_MS, logger, (n) => metrics.rateLimitBatch.observe(n), {
    max: config.RATE_LIMIT_LEASE_MAX,
    ttlMs: config.RATE_LIMIT_LEASE_MS,
  });
  const sessions = new SessionResolver({
    authUrl: upstreams.auth,
    internalToken: config.INTERNAL_API_TOKEN,
    timeoutMs: config.SESSION_RESOLVE_TIMEOUT * 1000,
    cacheTtlMs: config.SESSION_CACHE_TTL * 1000,
    dispatcher,
  });
  const openapi = new OpenApiAggregator(upstreams, config.PUBLIC_BASE_URL, dispatcher, logger);
  const hasher = createHasher(config.IP_HASH_SECRET, config.IP_HASH_SECRET_PREVIOUS || undefined);
  const allowedOrigins = new Set([...config.CORS_ORIGINS, new URL(config.PUBLIC_BASE_URL).origin]);
  const deps = { config, limiter, sessions, metrics, upstreams, dispatcher, allowedOrigins };

  // An API: nothing here is meant to be framed or to run scripts; /docs sets its own policy.
  const securityHeaders = staticSecurityHeaders({
    // Only what a JSON answer needs: helmet's page defaults (script, style, font sources...) add
    // ~300 bytes to every answer and nothing once default-src is 'none'.
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    crossOriginResourcePolicy: { policy: 'same-site' },
    // Headers that only matter to HTML documents or legacy browsers, on a JSON API: left out.
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    originAgentCluster: false,
    xXssProtection: false,
  });
  frameworkAnswerHeaders = securityHeaders;
  const deviceLabel = createDeviceLabeler();
  const edgeHeader = clientHeaderOf(config.EDGE_PROFILE);

  app.decorateRequest('edge', null as never);
  // Identity first: the raw address and user agent are turned into hashes and a coarse label,
  // and only those are kept on the request.
  app.addHook('onRequest', (request, reply, done) => {
    const address = normalizeClientAddress(clientAddress(config.EDGE_PROFILE, request.ip ?? '', edgeHeader ? request.headers[edgeHeader] : undefined));
    const ua = request.headers['user-agent'] ?? '';
    request.edge = {
      ipHash: hasher.ip(address),
      previousIpHash: hasher.previousIp(address),
      uaHash: hasher.ua(ua),
      device: deviceLabel(ua),
    };
    reply.headers(securityHeaders);
    reply.header('x-request-id', request.id);
    // The rest of the request runs in its span (the caller's trace continued, or a new one).
    runInContext(requestSpan(request.raw).ctx, done);
  });
  app.addHook('onResponse', (request, reply, done) => {
    const forwarded = request.edge?.route;
    const route = forwarded ? forwardedRouteLabel(request.url.split('?')[0]!, reply.statusCode, forwarded.prefix) : (request.routeOptions.url ?? 'unmatched');
    metrics.duration.labels(request.method, route === '/v1/*' ? 'unmatched' : route, String(reply.statusCode)).observe(reply.elapsedTime / 1000);
    endRequestSpan(request.raw, route, reply.statusCode);
    done();
  });
  app.addHook('onRequestAbort', (request, done) => {
    endRequestSpan(request.raw, undefined, 499);
    done();
  });

  registerErrorHandler(app);
  app.setNotFoundHandler((request, reply) => answerProbe(deps, request, reply, 'NOT_FOUND'));

  registerCors(app, {
    origins: config.CORS_ORIGINS,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['content-type', 'idempotency-key', 'last-event-id'],
    exposedHeaders: ['x-request-id', 'retry-after', 'ratelimit', 'ratelimit-policy'],
    maxAgeSeconds: 600,
  });
  // After identity and CORS (a draining answer carries the usual headers, and a browser can read it), before any other work.
  useDrainAnswers(app);

  app.all(BAD_PATH_ROUTE, { schema: { hide: true } as object }, async (request, reply) => {
    const reason = (request.raw as unknown as Record<symbol, string | undefined>)[BAD_PATH];
    if (!reason) return answerProbe(deps, request, reply, 'NOT_FOUND');
    request.log.debug({ reason }, 'refused request path');
    return answerProbe(deps, request, reply, 'GATEWAY_BAD_PATH');
  });

  app.get('/healthz', { schema: { hide: true } as object }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } as object }, async (_request, reply) => {
    const checks: Record<string, string> = {};
    const probe = async (name: string, fn: () => Promise<void>) => {
      try {
        await fn();
        checks[name] = 'ok';
      } catch {
        // The reason would name internal hosts and ports; this endpoint faces the internet.
        checks[name] = 'unavailable';
      }
    };
    await Promise.all([
      probe('redis', () => limiter.ping()),
      ...Object.entries(upstreams).map(([name, base]) =>
        probe(name, async () => {
          const res = await undiciRequest(`${base}/healthz`, { dispatcher, headersTimeout: 1000, bodyTimeout: 1000 });
          await res.body.dump();
          if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
        }),
      ),
    ]);
    // Redis is required; services are reported, and only all of them down makes the edge unready
    // (one failing service must not take the whole site out of the load balancer).
    const servicesUp = Object.keys(upstreams).some((s) => checks[s] === 'ok');
    const ok = checks.redis === 'ok' && servicesUp;
    reply.code(ok ? 200 : 503);
    return { status: ok ? 'ok' : 'unavailable', checks };
  });
  // The route table's `metrics` surface: on its own listener (main.ts), never on this one.
  const metricsServer = createMetricsServer(metrics.registry, METRICS_PATH);

  app.get('/openapi.json', { schema: { hide: true } as object }, async () => openapi.document());
  await app.register(swagger, { openapi: { openapi: '3.1.0', info: { title: 'imagemakerlab API', version: '1.0.0' } } });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    transformSpecificationClone: false,
    transformSpecification: () => openapi.document(),
  });

  const endedSessions = listenForEndedSessions({ redisUrl: config.REDIS_URL, queuePrefix: config.QUEUE_PREFIX, sessions, logger });
  await registerQueueBoard(app, { ...deps, logger });
  await registerProxy(app, deps);
  // The web app at / (its files and client-side routes); every path above keeps its own answer.
  if (config.WEB_DIST_DIR) await registerWebApp(app, { ...deps, logger }, { distDir: config.WEB_DIST_DIR, gaMeasurementId: config.GA_MEASUREMENT_ID, required: config.NODE_ENV === 'production' });

  if (!(await limiter.waitReady(2000))) logger.warn('rate-limit Redis not reachable at start-up; auth and generation routes answer 503 until it is');
  if (refreshOpenApi) openapi.start(config.OPENAPI_REFRESH);
  app.addHook('onClose', async () => {
    openapi.stop();
    await closeMetrics(metricsServer);
    await limiter.close();
    await endedSessions.close();
    await dispatcher.close();
  });
  return { app, metricsServer, limiter, openapi };
}
