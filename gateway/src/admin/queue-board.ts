import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { connectRedis, openAllQueues } from '@imlab/queue';
import { problem, requestLocale, sendProblem } from '@imlab/http';
import type { Logger } from '@imlab/logger';
import { bucketsFor } from '../rate-limit/policies.js';
import { refusingPolicy, setRateLimitHeaders } from '../rate-limit/headers.js';
import { csrfVerdictFor } from '../security/csrf.js';
import { readCookieValues } from '../routing/headers.js';
import { chooseSession, sessionCookieOf, type ProxyDeps } from '../routing/proxy.js';

export const BOARD_PATH = '/admin/queues';
/** Roles that may see the board: job payloads can name a person, so nobody else. */
const BOARD_ROLES = new Set(['ops', 'admin']);
/** The audience the board's session is resolved for; the internal JWT itself is never used. */
const BOARD_AUDIENCE = 'gateway';

// The board is a small single-page app: its own scripts and styles (inline styles in its loading
// screen), JSON from its own API, nothing from elsewhere and never framed.
const BOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

type BoardDeps = Pick<ProxyDeps, 'config' | 'limiter' | 'sessions' | 'metrics' | 'allowedOrigins'> & { logger: Logger };

/**
 * The ops queue board (@bull-board) at /admin/queues, read-only: every queue of the system with
 * its counts and jobs. Only a signed-in person with the ops or admin role gets in (401 without a
 * session, 403 otherwise). Every state-changing call (retry, clean, promote, pause, remove, add)
 * is refused: the CSRF check first, then 405 — the queues are also opened in bull-board's
 * readOnlyMode, so the board offers no such buttons and its API refuses them too.
 */
export async function registerQueueBoard(app: FastifyInstance, deps: BoardDeps): Promise<void> {
  const { config, limiter, metrics } = deps;
  const redis = connectRedis(config.REDIS_URL, 'gateway-queue-board');
  // Logged once per outage, not on every reconnect attempt (the board is not on the request path).
  let down = false;
  redis.on('error', (err) => {
    if (!down) deps.logger.warn({ err: { message: err.message } }, 'queue board redis connection error');
    down = true;
  });
  redis.on('ready', () => {
    down = false;
  });
  const queues = openAllQueues(redis, config.QUEUE_PREFIX);
  // Each queue re-emits its connection's errors; the connection's handler above already logged them.
  for (const q of queues.values()) q.on('error', () => {});

  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: [...queues.values()].map((q) => new BullMQAdapter(q, { readOnlyMode: true, allowRetries: false })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'imagemakerlab queues' } },
  });

  async function admitBoard(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    reply.header('content-security-policy', BOARD_CSP);
    reply.header('cache-control', 'no-store');
    const sids = readCookieValues(request.headers.cookie, sessionCookieOf(config));
    const verdict = csrfVerdictFor(request, sids.length > 0, deps.allowedOrigins);
    if (!verdict.ok) return sendProblem(reply, problem('GATEWAY_CSRF_REJECTED', requestLocale(request)));
    const { session } = await chooseSession(deps, request, reply, sids, BOARD_AUDIENCE, true);
    const result = session ? ({ kind: 'session', session } as const) : ({ kind: 'anonymous' } as const);
    const userId = session?.userId;
    const buckets = bucketsFor(config, 'read', { ipHash: request.edge.ipHash, previousIpHash: request.edge.previousIpHash, userId });
    const outcome = await limiter.decide(buckets, true);
    const policy = buckets[0]!.policy;
    metrics.rateLimit.inc({ policy, decision: !outcome.allowed ? 'limited' : outcome.source === 'local' ? 'fail_open_local' : 'allowed' });
    setRateLimitHeaders(reply, buckets, outcome);
    if (!outcome.allowed) {
      reply.header('retry-after', String(Math.max(1, Math.ceil(outcome.retryAfterMs / 1000))));
      return sendProblem(reply, problem('RATE_LIMITED', requestLocale(request), { extra: { policy: refusingPolicy(buckets, outcome) } }));
    }
    if (result.kind !== 'session') return sendProblem(reply, problem('UNAUTHENTICATED', requestLocale(request)));
    if (!result.session.roles.some((r) => BOARD_ROLES.has(r))) return sendProblem(reply, problem('FORBIDDEN', requestLocale(request)));
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      reply.header('allow', 'GET, HEAD');
      return sendProblem(reply, problem('GATEWAY_READ_ONLY', requestLocale(request)));
    }
    return undefined;
  }

  await app.register(async (scope) => {
    // Bodies of refused writes are never needed: the check above answers before any is read.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
    scope.addHook('onRequest', admitBoard);
    // bull-board registers its write routes too; they must exist so admitBoard answers them (and
    // not the 404 handler), and readOnlyMode refuses them should a request ever get that far.
    await scope.register(serverAdapter.registerPlugin() as never, { prefix: BOARD_PATH });
  });

  app.addHook('onClose', async () => {
    await Promise.all([...queues.values()].map((q) => q.close()));
    redis.disconnect();
  });
}
