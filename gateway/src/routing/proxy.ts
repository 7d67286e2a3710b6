import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PassThrough, type Readable } from 'node:stream';
import type { Agent, Dispatcher } from 'undici';
import { sessionCookieName, type ErrorCode } from '@imlab/contracts';
import { AppError, jsonHoldsNul, nulRefused, problem, rememberAccountLocale, requestLocale, sendDraining, sendProblem, activeTraceparent, instrumentationEnabled, requestSpan, runInContext } from '@imlab/http';
import type { Config } from '../config.js';
import type { GatewayMetrics } from '../metrics.js';
import type { Limiter } from '../rate-limit/limiter.js';
import { bucketsFor, failsOpen, probeBucket, sessionResolveBucket, type Subject } from '../rate-limit/policies.js';
import { rateLimitHeaderValues, refusingPolicy, setRateLimitHeaders } from '../rate-limit/headers.js';
import { csrfVerdictFor } from '../security/csrf.js';
import type { ResolvedSession, SessionResolver, SessionResult } from '../session/sessions.js';
import { sendUpstream } from './forward.js';
import { forwardRequestHeaders, forwardResponseHeaders, readCookieValues, readCookies } from './headers.js';
import { classify, type RouteInfo, type Upstreams } from './routes.js';

/** The session cookie's name: `__Host-imlab_sid` in production, `imlab_sid` in development and tests (as auth sets it). */
export const sessionCookieOf = (config: Pick<Config, 'NODE_ENV'>): string => sessionCookieName(config.NODE_ENV);
/** More distinct session cookies than this in one request are not looked up one by one: refused. */
const MAX_SESSION_COOKIES = 4;
const LOCALE_COOKIE = 'locale';

/** What the edge learned about a request; raw address and user agent are not kept here. */
export interface EdgeState {
  ipHash: string;
  previousIpHash: string | undefined;
  uaHash: string;
  device: string;
  route?: RouteInfo;
  sessionToken?: string;
  session?: ResolvedSession;
  /** The locale cookie, the only other cookie a service may see. */
  locale?: string;
}

/** Who a request counts against: its IP hash, and its user once the session is resolved. */
export function subjectOf(edge: EdgeState): Subject {
  return { ipHash: edge.ipHash, previousIpHash: edge.previousIpHash, userId: edge.session?.userId };
}

declare module 'fastify' {
  interface FastifyRequest {
    edge: EdgeState;
  }
}

export interface ProxyDeps {
  config: Config;
  limiter: Limiter;
  sessions: SessionResolver;
  metrics: GatewayMetrics;
  upstreams: Upstreams;
  dispatcher: Agent;
  allowedOrigins: ReadonlySet<string>;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
/** Answers with a declared length up to this are buffered and sent in one write; larger ones stream. */
const BUFFERED_ANSWER_LIMIT = 64 * 1024;
const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json(?:\s*;.*)?$/i;

/** Answers 404 (or 400 for a refused path) and spends one unit of the IP's 404 budget; 429 once it is gone. */
export async function answerProbe(
  deps: Pick<ProxyDeps, 'config' | 'limiter' | 'metrics'>,
  request: FastifyRequest,
  reply: FastifyReply,
  code: 'NOT_FOUND' | 'GATEWAY_BAD_PATH',
): Promise<FastifyReply> {
  const bucket = probeBucket(deps.config, subjectOf(request.edge));
  const outcome = await deps.limiter.decide([bucket], true);
  deps.metrics.rateLimit.inc({ policy: 'not-found', decision: outcome.allowed ? (outcome.source === 'local' ? 'fail_open_local' : 'allowed') : 'limited' });
  if (!outcome.allowed) {
    reply.header('retry-after', String(Math.max(1, Math.ceil(outcome.retryAfterMs / 1000))));
    setRateLimitHeaders(reply, [bucket], outcome);
    return sendProblem(reply, problem('RATE_LIMITED', requestLocale(request), { extra: { policy: bucket.policy } }));
  }
  return sendProblem(reply, problem(code, requestLocale(request)));
}

/**
 * The session behind a cookie, for `audience`: from the short in-process cache, from a lookup of the
 * same cookie already under way (joined: nothing spent, its answer or its 429 shared), or from auth
 * after spending one unit of the IP's session-resolve budget (429 once it is gone). 503 if auth
 * cannot answer.
 */
export async function resolveSession(
  deps: Pick<ProxyDeps, 'config' | 'limiter' | 'sessions' | 'metrics'>,
  request: FastifyRequest,
  sid: string,
  audience: string,
): Promise<Exclude<SessionResult, { kind: 'unavailable' }>> {
  const known = deps.sessions.resolve(sid, audience, async () => {
    const guard = sessionResolveBucket(deps.config, request.edge);
    const pre = await deps.limiter.decide([guard], true);
    deps.metrics.rateLimit.inc({ policy: guard.policy, decision: !pre.allowed ? 'limited' : pre.source === 'local' ? 'fail_open_local' : 'allowed' });
    if (!pre.allowed) {
      // Joined lookups share this error: the headers travel with it (the error handler sets them).
      throw new AppError('RATE_LIMITED', {
        details: { retryAfter: Math.max(1, Math.ceil(pre.retryAfterMs / 1000)), policy: guard.policy, rateLimit: rateLimitHeaderValues([guard], pre) },
      });
    }
  });
  const result = known instanceof Promise ? await known : known;
  deps.metrics.sessions.inc({ result: result.kind });
  if (result.kind === 'unavailable') {
    throw new AppError('SERVICE_UNAVAILABLE', { message: 'sign-in is temporarily unavailable; try again shortly', details: { retryAfter: 2 } });
  }
  // Problems of this request are answered in the account's language when no locale cookie says otherwise.
  if (result.kind === 'session') rememberAccountLocale(request, result.session.locale);
  return result;
}

/** Several live sessions in one request: none is trusted; the host's own cookie is cleared and the person signs in again. */
function sessionConflict(config: Config, request: FastifyRequest, reply: FastifyReply, count: number): AppError {
  const secure = config.NODE_ENV === 'development' ? '' : '; Secure';
  reply.header('set-cookie', `${sessionCookieOf(config)}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax${secure}`);
  request.log.info({ sessionCookies: count }, 'several session cookies in one request refused');
  return new AppError('GATEWAY_SESSION_COOKIE_CONFLICT');
}

/**
 * Which of a request's session cookies is trusted (cookie tossing: a sibling subdomain, or a
 * plain-http page, can add a cookie of the same name that the browser may send first). One
 * value: that one, resolved when `resolve`. Several: each is resolved, and only one that is a live
 * session is used (its token is what auth sees); none live, the request is anonymous and no
 * session cookie goes on; two live ones, or more values than MAX_SESSION_COOKIES, are refused with
 * GATEWAY_SESSION_COOKIE_CONFLICT and the cookie is cleared.
 */
export async function chooseSession(
  deps: Pick<ProxyDeps, 'config' | 'limiter' | 'sessions' | 'metrics'>,
  request: FastifyRequest,
  reply: FastifyReply,
  values: readonly string[],
  audience: string,
  resolve: boolean,
): Promise<{ token?: string; session?: ResolvedSession }> {
  if (values.length === 0) return {};
  if (values.length === 1) {
    const token = values[0]!;
    if (!resolve) return { token };
    const result = await resolveSession(deps, request, token, audience);
    return result.kind === 'session' ? { token, session: result.session } : { token };
  }
  if (values.length > MAX_SESSION_COOKIES) throw sessionConflict(deps.config, request, reply, values.length);
  const results = await Promise.all(values.map((v) => resolveSession(deps, request, v, audience)));
  const live = results.flatMap((r, i) => (r.kind === 'session' ? [{ token: values[i]!, session: r.session }] : []));
  if (live.length > 1) throw sessionConflict(deps.config, request, reply, values.length);
  if (!live.length) return {};
  return resolve ? live[0]! : { token: live[0]!.token };
}

function bodyLimit(config: Config, request: FastifyRequest): number {
  return request.edge.route?.body === 'upload' ? config.UPLOAD_BODY_LIMIT : config.BODY_LIMIT;
}

/**
 * Bodies that are not JSON are streamed to the service untouched (uploads, webhooks). They must
 * declare their length, so the limit is enforced before a byte is read and the stream cannot grow.
 */
function streamParser(config: Config) {
  return (request: FastifyRequest, payload: NodeJS.ReadableStream, done: (err: Error | null, body?: unknown) => void) => {
    const raw = request.headers['content-length'];
    if (raw === undefined) return done(new AppError('GATEWAY_LENGTH_REQUIRED'));
    const length = Number(raw);
    if (!Number.isSafeInteger(length) || length < 0) return done(new AppError('VALIDATION_FAILED', { message: 'invalid Content-Length' }));
    if (length > bodyLimit(config, request)) return done(new AppError('PAYLOAD_TOO_LARGE', { params: { maxBytes: bodyLimit(config, request) } }));
    done(null, payload);
  };
}

/**
 * JSON is read (bounded) and checked, then the original bytes are forwarded. An empty body is no
 * body (the service's schema decides whether one was needed); text holding U+0000 is refused here,
 * as the services do.
 */
function jsonParser(request: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void): void {
  const text = body.toString('utf8');
  if (text.trim() === '') return done(null, body);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return done(new AppError('VALIDATION_FAILED', { message: 'the body is not valid JSON' }));
  }
  if (jsonHoldsNul(text, parsed)) return done(nulRefused());
  done(null, body);
}

function upstreamError(error: Error): { status: 502 | 503 | 504; code: ErrorCode; kind: 'unavailable' | 'timeout' | 'failed' } {
  const codes: string[] = [];
  for (let e: unknown = error; e && codes.length < 6; e = (e as { cause?: unknown }).cause) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string') codes.push(c);
  }
  if (codes.some((c) => ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT'].includes(c))) {
    return { status: 503, code: 'SERVICE_UNAVAILABLE', kind: 'unavailable' };
  }
  if (codes.some((c) => ['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'].includes(c))) {
    return { status: 504, code: 'UPSTREAM_TIMEOUT', kind: 'timeout' };
  }
  return { status: 502, code: 'UPSTREAM_FAILED', kind: 'failed' };
}

/** A success of a route that ends sessions (routes.ts) drops this process's reuse of them at once. */
function forgetSessionsAfter(deps: ProxyDeps, request: FastifyRequest, status: number): void {
  const ends = request.edge.route?.endsSessions;
  if (!ends || status < 200 || status >= 300) return;
  if (ends === 'target') {
    // the suspended person's sessions, not the admin's
    const target = request.edge.route?.target;
    if (target) deps.sessions.forgetUser(target);
    return;
  }
  const { sessionToken, session } = request.edge;
  if (sessionToken) deps.sessions.forgetToken(sessionToken);
  if (ends === 'account' && session) deps.sessions.forgetUser(session.userId);
}

/**
 * The /v1 proxy. Per request, before any body byte is read: classify the canonical path, check
 * CSRF, resolve the session (a cookie not in the short cache first spends from the IP's
 * session-resolve budget), take one rate-limit decision; then forward with keep-alive, the body
 * streamed (or the checked JSON bytes), the answer streamed back.
 */
export async function registerProxy(app: FastifyInstance, deps: ProxyDeps): Promise<void> {
  const { config, limiter, metrics, upstreams } = deps;
  // Event streams passed through end when the gateway shuts down (EventSource reconnects through
  // another instance, with Last-Event-ID); otherwise close() would wait for them until the grace ran out.
  const openStreams = new Set<Readable>();
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    for (const stream of [...openStreams]) stream.destroy();
  });

  async function admit(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const path = request.url.split('?')[0]!;
    const route = classify(request.method, path);
    if (!route) return answerProbe(deps, request, reply, 'NOT_FOUND');
    request.edge.route = route;
    if (route.routeClass !== 'webhook') {
      const sids = readCookieValues(request.headers.cookie, sessionCookieOf(config));
      request.edge.locale = readCookies(request.headers.cookie).get(LOCALE_COOKIE) || undefined;
      const verdict = csrfVerdictFor(request, sids.length > 0, deps.allowedOrigins);
      if (!verdict.ok) throw new AppError('GATEWAY_CSRF_REJECTED', { message: `cross-site request refused: ${verdict.reason}` });
      const chosen = await chooseSession(deps, request, reply, sids, route.service, route.session);
      if (chosen.token) request.edge.sessionToken = chosen.token;
      if (chosen.session) request.edge.session = chosen.session;
    }
    const buckets = bucketsFor(config, route.routeClass, subjectOf(request.edge));
    const outcome = await limiter.decide(buckets, failsOpen(route.routeClass));
    const policy = buckets[0]!.policy;
    if (outcome.source === 'unavailable') {
      metrics.rateLimit.inc({ policy, decision: 'fail_closed' });
      throw new AppError('SERVICE_UNAVAILABLE', { message: 'rate-limit store unavailable', details: { retryAfter: Math.ceil(outcome.retryAfterMs / 1000) } });
    }
    metrics.rateLimit.inc({ policy, decision: !outcome.allowed ? 'limited' : outcome.source === 'local' ? 'fail_open_local' : 'allowed' });
    setRateLimitHeaders(reply, buckets, outcome);
    if (!outcome.allowed) {
      throw new AppError('RATE_LIMITED', {
        details: { retryAfter: Math.max(1, Math.ceil(outcome.retryAfterMs / 1000)), policy: refusingPolicy(buckets, outcome) },
      });
    }
    return undefined;
  }

  async function forward(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const route = request.edge.route!;
    const { session, sessionToken } = request.edge;
    if (route.routeClass === 'sse') request.raw.socket.setTimeout(0);
    const cookies: [string, string][] = [];
    if (route.service === 'auth' && sessionToken) cookies.push([sessionCookieOf(config), sessionToken]);
    if (request.edge.locale) cookies.push([LOCALE_COOKIE, request.edge.locale]);
    const headers = forwardRequestHeaders(request.headers, {
      requestId: request.id,
      traceparent: instrumentationEnabled('undici') ? undefined : activeTraceparent(requestSpan(request.raw).ctx)!,
      ipHash: request.edge.ipHash,
      uaHash: request.edge.uaHash,
      device: request.edge.device,
      bearer: session?.token,
      cookies,
    });
    let body: Buffer | Readable | null = null;
    if (Buffer.isBuffer(request.body)) {
      // Only the JSON parser yields a Buffer, so the client's content-type is there and kept.
      body = request.body;
      headers['content-length'] = String(body.length);
    } else if (request.body) {
      // Through a stream of its own: when the service answers early and undici stops sending, it
      // destroys the stream it was given, and the client's request (with its socket) must survive
      // that to read the answer while the rest of its body is drained (useDrainAnswers).
      const incoming = request.body as Readable;
      const pass = incoming.pipe(new PassThrough());
      // A client that goes away mid-body cuts the service's request short too.
      incoming.once('close', () => {
        if (!request.raw.complete) pass.destroy(new Error('the client closed its request'));
      });
      body = pass;
    }
    let answer;
    try {
      // In the request's span: undici's client span (when instrumented) is its child.
      answer = await runInContext(requestSpan(request.raw).ctx, () => sendUpstream(deps.dispatcher, {
        origin: upstreams[route.service],
        path: request.url,
        method: request.method as Dispatcher.HttpMethod,
        headers,
        body,
        timeoutMs: route.timeoutFactor === 0 ? 0 : config.UPSTREAM_TIMEOUT * 1000 * route.timeoutFactor,
        // An event stream runs as long as it likes, but its service must start it in time.
        headersTimeoutMs: config.UPSTREAM_TIMEOUT * 1000 * Math.max(route.timeoutFactor, 1),
        bufferLimit: BUFFERED_ANSWER_LIMIT,
      }));
    } catch (error) {
      // The client went away mid-request (an upload cut short): nobody to answer, no service fault.
      if (!request.raw.socket || request.raw.socket.destroyed) return reply;
      const mapped = upstreamError(error as Error);
      metrics.upstreamErrors.inc({ service: route.service, kind: mapped.kind });
      request.log.warn({ upstream: route.service, kind: mapped.kind, code: (error as { code?: string }).code }, 'upstream request failed');
      if (mapped.status === 503) reply.header('retry-after', '5');
      return sendProblem(reply, problem(mapped.code, requestLocale(request)));
    }
    if (route.routeClass === 'sse' && !Buffer.isBuffer(answer.body)) {
      const stream = answer.body;
      if (closing) {
        // Shutdown began while this stream was being opened: not passed on (it would never end); the client reconnects elsewhere.
        stream.destroy();
        return sendDraining(reply);
      }
      openStreams.add(stream);
      stream.once('close', () => openStreams.delete(stream));
    }
    reply.code(answer.status).headers(forwardResponseHeaders(answer.headers, route.service));
    // The service answered before the client's body was read to the end: this connection cannot
    // carry another request.
    if (body && !Buffer.isBuffer(body) && !request.raw.complete) reply.header('connection', 'close');
    return reply.send(answer.body);
  }

  // Public /v1 routes: JSON checked and bounded, anything else streamed with a declared length.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(JSON_TYPE, { parseAs: 'buffer', bodyLimit: config.BODY_LIMIT }, jsonParser as never);
    scope.addContentTypeParser('*', streamParser(config));
    // Before the answer leaves: whoever reads it and sends the next request finds the sessions gone.
    scope.addHook('onSend', (request, reply, payload, done) => {
      forgetSessionsAfter(deps, request, reply.statusCode);
      done(null, payload);
    });
    scope.addHook('onResponse', (request, reply, done) => {
      if (reply.statusCode === 404 && request.edge.route) void limiter.charge([probeBucket(config, subjectOf(request.edge))]);
      done();
    });
    scope.route({ method: METHODS, url: '/v1/*', exposeHeadRoute: false, schema: { hide: true } as object, onRequest: admit, handler: forward });
  });

  // Webhooks: signed over their exact bytes, so never parsed, only streamed (Stripe, Resend).
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', streamParser(config));
    for (const url of ['/v1/billing/webhook', '/v1/notifications/webhooks/*']) {
      scope.route({ method: 'POST', url, schema: { hide: true } as object, onRequest: admit, handler: forward });
    }
  });
}

