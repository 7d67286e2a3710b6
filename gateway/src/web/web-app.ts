import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import { problem, requestLocale, sendProblem } from '@imlab/http';
import type { Logger } from '@imlab/logger';
import { bucketsFor } from '../rate-limit/policies.js';
import { refusingPolicy, setRateLimitHeaders } from '../rate-limit/headers.js';
import { answerProbe, subjectOf, type ProxyDeps } from '../routing/proxy.js';
import { surfaceOf } from '../routing/routes.js';

/**
 * Paths the web app never answers: every surface of the route table (routing/routes.ts, SURFACES)
 * other than `web` — the API, the gateway's own pages and probes, the metrics path and what is
 * never reachable from outside. Unknown paths under them stay 404 problem+json (and spend the 404
 * budget).
 */
export function isReservedPath(pathname: string): boolean {
  return surfaceOf(pathname).surface !== 'web';
}

/** Hosts Google Analytics 4 needs (Google's documented CSP for GA4), only when it is configured. */
const GA_SCRIPT = ['https://*.googletagmanager.com'];
const GA_CONNECT = ['https://*.google-analytics.com', 'https://*.analytics.google.com', 'https://*.googletagmanager.com'];
const GA_IMG = ['https://*.google-analytics.com', 'https://*.googletagmanager.com'];

/**
 * The web app's Content-Security-Policy (HTML answers only): its own scripts and styles and
 * nothing inline, no eval, API calls to this origin, never framed. A Stripe Checkout is reached
 * with `location.assign` (a navigation, which CSP does not restrict), so no Stripe host is needed.
 */
export function webAppCsp(gaMeasurementId: string): string {
  const ga = gaMeasurementId !== '';
  return [
    "default-src 'self'",
    `script-src 'self'${ga ? ` ${GA_SCRIPT.join(' ')}` : ''}`,
    "style-src 'self'",
    `img-src 'self' data: blob:${ga ? ` ${GA_IMG.join(' ')}` : ''}`,
    "font-src 'self'",
    `connect-src 'self'${ga ? ` ${GA_CONNECT.join(' ')}` : ''}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** A browser navigating to a page (not a script, an image or an API client). */
function isNavigation(request: FastifyRequest): boolean {
  const mode = request.headers['sec-fetch-mode'];
  if (mode !== undefined) return mode === 'navigate';
  const dest = request.headers['sec-fetch-dest'];
  if (dest !== undefined) return dest === 'document';
  return /\btext\/html\b/i.test(request.headers.accept ?? '');
}

interface IndexPage {
  body: Buffer;
  etag: string;
  mtimeMs: number;
  size: number;
}

/**
 * index.html, read again whenever the file changes (a rebuild while the gateway runs), with the
 * GA measurement id put in as a <meta> the app reads (no inline script), and an ETag of its bytes.
 */
function indexPage(distDir: string, gaMeasurementId: string) {
  const file = path.join(distDir, 'index.html');
  let cached: IndexPage | undefined;
  return async (): Promise<IndexPage | undefined> => {
    let s;
    try {
      s = await stat(file);
    } catch {
      return undefined;
    }
    if (cached && cached.mtimeMs === s.mtimeMs && cached.size === s.size) return cached;
    let html = await readFile(file, 'utf8');
    if (gaMeasurementId) html = html.replace('</head>', `  <meta name="imlab-ga-id" content="${gaMeasurementId}" />\n  </head>`);
    const body = Buffer.from(html);
    cached = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`, mtimeMs: s.mtimeMs, size: s.size };
    return cached;
  };
}

/**
 * The app's page addresses (`routes.json`, written by the web build from web/src/app/paths.ts),
 * read again when the file changes. `isPage` answers undefined when the build has no manifest
 * (every navigation is then a page, as before).
 */
function pageAddresses(distDir: string) {
  const file = path.join(distDir, 'routes.json');
  let cached: { mtimeMs: number; size: number; patterns: RegExp[] } | undefined;
  const compile = (template: string) =>
    new RegExp(`^/${template.split('/').map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')}$`);
  return async (pathname: string): Promise<boolean | undefined> => {
    let s;
    try {
      s = await stat(file);
    } catch {
      return undefined;
    }
    if (!cached || cached.mtimeMs !== s.mtimeMs || cached.size !== s.size) {
      try {
        const { paths } = JSON.parse(await readFile(file, 'utf8')) as { paths: string[] };
        cached = { mtimeMs: s.mtimeMs, size: s.size, patterns: paths.map(compile) };
      } catch {
        return undefined;
      }
    }
    const p = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
    return cached.patterns.some((re) => re.test(p));
  };
}

export interface WebAppOptions {
  distDir: string;
  gaMeasurementId: string;
  /** Refuse to start without a built app (production); elsewhere pages answer 503 until it is built. */
  required: boolean;
}

type WebDeps = Pick<ProxyDeps, 'config' | 'limiter' | 'metrics'> & { logger: Logger };

/**
 * Serves the built web app (web/dist) at `/`:
 * - `/assets/*`: Vite's content-hashed files, cached for a year (`immutable`), precompressed
 *   `.br`/`.gz` when the browser takes them; a missing asset is a 404, never index.html.
 * - Other files at the top of the build (favicon, robots.txt): revalidated (`no-cache`).
 * - `/` and any other GET/HEAD that is a browser's page navigation (and whose last segment has no
 *   file extension): index.html, `no-cache` with an ETag, under the app's CSP; the app's router
 *   shows the page, or its own "page not found" — answered 404 when the build's `routes.json`
 *   lists no page at that address.
 * - Never for `/v1/*`, `/docs`, `/admin/*`, `/metrics`, `/openapi.json`, `/healthz`, `/readyz`:
 *   those keep their routes, and unknown paths under them, like any request that is not a page
 *   navigation, get the usual 404 problem+json.
 * Every answer first spends one unit of the IP's `static` rate-limit budget (RATE_LIMIT_STATIC).
 */
export async function registerWebApp(app: FastifyInstance, deps: WebDeps, options: WebAppOptions): Promise<void> {
  const { config, limiter, metrics } = deps;
  const { distDir, gaMeasurementId } = options;
  const csp = webAppCsp(gaMeasurementId);
  const readIndex = indexPage(distDir, gaMeasurementId);
  const isPage = pageAddresses(distDir);
  if (!existsSync(path.join(distDir, 'index.html'))) {
    if (options.required) throw new Error(`WEB_DIST_DIR (${distDir}) holds no index.html: the web app was not built into this image`);
    deps.logger.warn({ distDir }, 'the web app is not built (no index.html): pages answer 503 until `pnpm --filter @imlab/web build` has run');
  }

  await app.register(fastifyStatic, {
    root: distDir,
    serve: false,
    preCompressed: true,
    index: false,
    dotfiles: 'deny',
    cacheControl: false,
    suppressWarning: true,
    setHeaders(reply: FastifyReply, filePath: string) {
      const hashed = path.relative(distDir, filePath).startsWith(`assets${path.sep}`);
      reply.header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  } as never);

  async function admit(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const buckets = bucketsFor(config, 'static', subjectOf(request.edge));
    const outcome = await limiter.decide(buckets, true);
    metrics.rateLimit.inc({ policy: buckets[0]!.policy, decision: !outcome.allowed ? 'limited' : outcome.source === 'local' ? 'fail_open_local' : 'allowed' });
    setRateLimitHeaders(reply, buckets, outcome);
    if (!outcome.allowed) {
      reply.header('retry-after', String(Math.max(1, Math.ceil(outcome.retryAfterMs / 1000))));
      return sendProblem(reply, problem('RATE_LIMITED', requestLocale(request), { extra: { policy: refusingPolicy(buckets, outcome) } }));
    }
    return undefined;
  }

  /** index.html; `status` 404 for an address no page has (the app then shows its "page not found"). */
  async function sendIndex(request: FastifyRequest, reply: FastifyReply, status = 200): Promise<FastifyReply> {
    const page = await readIndex();
    if (!page) {
      reply.header('retry-after', '5');
      return sendProblem(reply, problem('WEB_APP_NOT_BUILT', requestLocale(request)));
    }
    reply.header('content-security-policy', csp).header('cache-control', 'no-cache').header('etag', page.etag);
    const ifNoneMatch = request.headers['if-none-match'];
    if (status === 200 && ifNoneMatch && ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === page.etag)) return reply.code(304).send();
    return reply.code(status).type('text/html; charset=utf-8').send(page.body);
  }

  const hidden = { schema: { hide: true } as object };
  app.get('/assets/*', { ...hidden, onRequest: admit }, async (request, reply) => {
    const rest = (request.params as { '*': string })['*'];
    return reply.sendFile(`assets/${rest}`);
  });
  app.get('/*', hidden, async (request, reply) => {
    const pathname = request.url.split('?')[0]!;
    if (isReservedPath(pathname)) return answerProbe(deps, request, reply, 'NOT_FOUND');
    const refused = await admit(request, reply);
    if (refused) return refused;
    if (pathname === '/' || pathname === '/index.html') return sendIndex(request, reply);
    const last = pathname.slice(pathname.lastIndexOf('/') + 1);
    // A file at the top of the build (favicon.svg, robots.txt).
    if (!pathname.slice(1).includes('/') && !last.startsWith('.') && last.includes('.') && existsSync(path.join(distDir, last))) return reply.sendFile(last);
    if (!last.includes('.') && isNavigation(request)) return sendIndex(request, reply, (await isPage(pathname)) === false ? 404 : 200);
    return answerProbe(deps, request, reply, 'NOT_FOUND');
  });
}
