import { BlockList, isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { loadConfig, baseEnv, port, str, num, url, secret, optionalSecret, duration, makeValidator, listenPort, internalApiToken } from '@imlab/config';
import { EDGE_PROFILES, type EdgeProfile } from './routing/routes.js';

/** The edge presets of the route table (routing/routes.ts). */
const EDGE_PROFILE_NAMES = Object.keys(EDGE_PROFILES) as EdgeProfile[];

/** `<count>/<window>`, e.g. `10/1m`: a burst of `count`, refilled evenly over `window`. */
export interface RatePolicySpec {
  limit: number;
  windowSeconds: number;
}

export const ratePolicy = makeValidator<RatePolicySpec>((input: string) => {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*(s|m|h|d)?\s*$/.exec(input);
  if (!m) throw new Error('expected <count>/<window>, e.g. 10/1m');
  const limit = Number(m[1]);
  const factor = { s: 1, m: 60, h: 3600, d: 86400 }[m[3] ?? 's'] ?? 1;
  const windowSeconds = Number(m[2]) * factor;
  if (limit < 1 || windowSeconds < 1) throw new Error('count and window must be positive');
  return { limit, windowSeconds };
});

/** Addresses or CIDR ranges (IPv4/IPv6), or proxy-addr's names loopback/linklocal/uniquelocal. */
const proxyList = makeValidator<string[]>((input: string) => {
  const items = input
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const probe = new BlockList();
  for (const item of items) {
    if (['loopback', 'linklocal', 'uniquelocal'].includes(item)) continue;
    const [addr, bits] = item.split('/');
    const family = isIP(addr ?? '');
    if (!family) throw new Error(`"${item}" is not an IP address or CIDR range`);
    if (bits !== undefined) {
      const n = Number(bits);
      if (!/^\d+$/.test(bits) || n > (family === 4 ? 32 : 128)) throw new Error(`"${item}" has an invalid prefix length`);
      probe.addSubnet(addr!, n, family === 4 ? 'ipv4' : 'ipv6');
    }
  }
  return items;
});

/** An origin exactly as browsers send it: scheme://host[:port], no path. */
const originList = makeValidator<string[]>((input: string) => {
  const items = input
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items) {
    let u: URL;
    try {
      u = new URL(item);
    } catch {
      throw new Error(`"${item}" is not an origin`);
    }
    if (u.origin !== item) throw new Error(`"${item}" must be exactly an origin such as https://app.example.com (no path or trailing slash)`);
  }
  return items;
});

const bytes = num;

/** A GA4 measurement id (`G-…`), or empty for no analytics. */
const gaMeasurementId = makeValidator<string>((input: string) => {
  const v = input.trim();
  if (v !== '' && !/^G-[A-Z0-9]{4,20}$/.test(v)) throw new Error('expected a GA4 measurement id such as G-ABC123DEF4, or nothing');
  return v;
});

/** The repository's web/dist, where `pnpm --filter @imlab/web build` puts the web app (development and tests). */
const REPO_WEB_DIST = fileURLToPath(new URL('../../web/dist', import.meta.url));

export const configSpec = {
  NODE_ENV: baseEnv.NODE_ENV,
  LOG_LEVEL: baseEnv.LOG_LEVEL,
  HOST: baseEnv.HOST,
  REDIS_URL: baseEnv.REDIS_URL,
  QUEUE_PREFIX: baseEnv.QUEUE_PREFIX,
  PUBLIC_BASE_URL: baseEnv.PUBLIC_BASE_URL,
  SHUTDOWN_GRACE_MS: baseEnv.SHUTDOWN_GRACE_MS,
  INTERNAL_API_TOKEN: internalApiToken,
  GATEWAY_PORT: port({ default: 8080 }),
  /** The internal listener for /metrics (Prometheus), on HOST; never exposed by the public Service. */
  METRICS_PORT: listenPort({ default: 9464 }),

  AUTH_URL: url({ devDefault: 'http://127.0.0.1:4001' }),
  LEDGER_URL: url({ devDefault: 'http://127.0.0.1:4002' }),
  GENERATION_URL: url({ devDefault: 'http://127.0.0.1:4003' }),
  BILLING_URL: url({ devDefault: 'http://127.0.0.1:4004' }),
  NOTIFICATION_URL: url({ devDefault: 'http://127.0.0.1:4005' }),

  IP_HASH_SECRET: secret({ devDefault: 'dev-ip-hash-secret-change-me', desc: 'HMAC key for client IP and user-agent hashes' }),
  IP_HASH_SECRET_PREVIOUS: optionalSecret({ default: '', desc: 'the secret being rotated out; rate-limit buckets keyed by it still count' }),
  TRUSTED_PROXIES: proxyList({ default: [], desc: 'peers whose X-Forwarded-For is believed (right-most untrusted hop wins)' }),
  /**
   * `cloudflare`: the client address is CF-Connecting-IP when the request came from one of
   * Cloudflare's published ranges (gateway/src/identity/cloudflare.ts), the peer's otherwise.
   */
  EDGE_PROFILE: str({ choices: EDGE_PROFILE_NAMES, default: 'none', desc: 'the CDN in front of the gateway, whose client-address header is believed from its own ranges only' }),
  CORS_ORIGINS: originList({ default: [], devDefault: ['http://localhost:5173', 'http://localhost:3000'] }),

  BODY_LIMIT: bytes({ default: 1024 * 1024, desc: 'bytes, JSON and other small bodies' }),
  UPLOAD_BODY_LIMIT: bytes({ default: 20 * 1024 * 1024, desc: 'bytes, POST /v1/uploads' }),
  UPSTREAM_TIMEOUT: duration({ default: 30, desc: 'per upstream request (headers and body); uploads get 4x; SSE: its headers only' }),
  SESSION_RESOLVE_TIMEOUT: duration({ default: 2 }),
  SESSION_CACHE_TTL: duration({ default: 5, desc: 'how long a resolved session is reused in-process; 0 disables' }),
  OPENAPI_REFRESH: duration({ default: 60 }),

  WEB_DIST_DIR: str({
    default: '',
    devDefault: REPO_WEB_DIST,
    desc: 'the built web app (web/dist) served at /; empty = not served. The image sets /app/dist/web',
  }),
  GA_MEASUREMENT_ID: gaMeasurementId({ default: '', desc: 'Google Analytics 4 for the web app; empty (the default) = no analytics at all' }),

  RATE_LIMIT_PREFIX: str({ default: 'imlab:gw:rl' }),
  RATE_LIMIT_REDIS_TIMEOUT_MS: num({ default: 250, desc: 'a decision waits no longer than this for Redis' }),
  RATE_LIMIT_LEASE_MAX: count({ default: 32, desc: 'requests a busy subject may take ahead from Redis and spend here (gateway/src/rate-limit/leases.ts); 0 = every request asks Redis' }),
  RATE_LIMIT_LEASE_MS: count({ default: 1000, min: 50, desc: 'ms a lease may be spent here before what is left goes back to Redis' }),
  RATE_LIMIT_AUTH: ratePolicy({ default: { limit: 10, windowSeconds: 60 }, desc: 'login, sign-up, password reset, e-mail verification, OAuth, and the signed-in changes of password, email address and Google link' }),
  RATE_LIMIT_GENERATION: ratePolicy({ default: { limit: 20, windowSeconds: 60 }, desc: 'POST /v1/generations, per user and per IP' }),
  RATE_LIMIT_WRITE: ratePolicy({ default: { limit: 120, windowSeconds: 60 } }),
  RATE_LIMIT_READ: ratePolicy({ default: { limit: 1200, windowSeconds: 60 } }),
  RATE_LIMIT_WEBHOOK: ratePolicy({ default: { limit: 1200, windowSeconds: 60 } }),
  RATE_LIMIT_SESSION_RESOLVE: ratePolicy({ default: { limit: 300, windowSeconds: 60 }, desc: 'session cookies an IP may have resolved by auth (cache misses only)' }),
  RATE_LIMIT_STATIC: ratePolicy({ default: { limit: 3000, windowSeconds: 60 }, desc: "the web app's files (index.html, /assets/*) per IP" }),
  RATE_LIMIT_NOT_FOUND: ratePolicy({ default: { limit: 60, windowSeconds: 60 }, desc: '404 answers per IP before every request is refused' }),
};

/** A whole number, `min` (0) or more. */
function count({ min = 0, ...spec }: { default: number; desc: string; min?: number }) {
  return makeValidator<number>((input: string) => {
    const n = Number(input);
    if (!/^\d+$/.test(input.trim()) || !Number.isSafeInteger(n) || n < min) throw new Error(`must be a whole number, ${min} or more`);
    return n;
  })(spec);
}

export type Config = ReturnType<typeof loadGatewayConfig>;

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig('gateway', configSpec, env);
}
