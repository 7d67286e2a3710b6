import type { Config } from '../config.js';
import type { RouteClass } from '../routing/routes.js';
import type { Bucket } from './gcra.js';

/** The /v1 route classes, and `static`: the web app's files (gateway/src/web). */
export type PolicyClass = RouteClass | 'static';

export interface Subject {
  ipHash: string;
  /** The IP hash under IP_HASH_SECRET_PREVIOUS, during a rotation. */
  previousIpHash: string | undefined;
  userId: string | undefined;
}

/**
 * Buckets for one request. The main key is always the hashed IP — never the user-agent hash, so a
 * new user agent is the same client — with the user id added when signed in (people sharing a NAT
 * do not starve each other on reads and writes). Generation creation is limited per IP and,
 * separately, per user, so neither more accounts nor more addresses buy more renders. Every
 * decision also checks, without spending, the 404 budget (the IP's, or the IP's and the user's when
 * signed in): a prober is refused everywhere.
 */
export function bucketsFor(config: Config, routeClass: PolicyClass, s: Subject): Bucket[] {
  const p = config.RATE_LIMIT_PREFIX;
  const user = s.userId ? `:u:${s.userId}` : '';
  switch (routeClass) {
    case 'auth':
      return [ipBucket(p, 'auth', 'auth', s, config.RATE_LIMIT_AUTH, 1), probeCheck(config, s)];
    case 'generation-create':
      return [
        ipBucket(p, 'generation', 'gen', s, config.RATE_LIMIT_GENERATION, 1),
        ...(s.userId ? [{ policy: 'generation-user', key: `${p}:gen:u:${s.userId}`, ...config.RATE_LIMIT_GENERATION, cost: 1 }] : []),
        probeCheck(config, s),
      ];
    case 'webhook':
      return [ipBucket(p, 'webhook', 'hook', s, config.RATE_LIMIT_WEBHOOK, 1)];
    case 'write':
      return [ipBucket(p, 'write', 'write', s, config.RATE_LIMIT_WRITE, 1, user), probeCheck(config, s)];
    case 'read':
    case 'sse':
      return [ipBucket(p, 'read', 'read', s, config.RATE_LIMIT_READ, 1, user), probeCheck(config, s)];
    case 'static':
      // No session is resolved for a file: the IP alone, with a generous budget (a page load is a handful of files).
      return [ipBucket(p, 'static', 'static', s, config.RATE_LIMIT_STATIC, 1), probeCheck(config, s)];
  }
}

/** A bucket keyed by the IP hash (and the previous secret's hash during a rotation). */
function ipBucket(
  prefix: string,
  policy: string,
  keyName: string,
  s: Pick<Subject, 'ipHash' | 'previousIpHash'>,
  limits: { limit: number; windowSeconds: number },
  cost: number,
  suffix = '',
): Bucket {
  const bucket: Bucket = { policy, key: `${prefix}:${keyName}:ip:${s.ipHash}${suffix}`, limit: limits.limit, windowSeconds: limits.windowSeconds, cost };
  if (s.previousIpHash) bucket.alias = `${prefix}:${keyName}:ip:${s.previousIpHash}${suffix}`;
  return bucket;
}

/**
 * The 404 budget: the IP's for anonymous requests, the IP's and the user's together once signed in
 * (like reads and writes). A signed-in person whose library shows a few dozen stale thumbnails
 * then runs out of their own budget, not of everyone's behind the same address, login included;
 * an anonymous prober is still refused everywhere, and accounts to probe with are themselves
 * strictly limited (sign-up).
 */
function notFoundBucket(config: Config, s: Pick<Subject, 'ipHash' | 'previousIpHash' | 'userId'>, cost: number): Bucket {
  return ipBucket(config.RATE_LIMIT_PREFIX, 'not-found', 'nf', s, config.RATE_LIMIT_NOT_FOUND, cost, s.userId ? `:u:${s.userId}` : '');
}

/** The 404 budget, checked without spending. */
function probeCheck(config: Config, s: Pick<Subject, 'ipHash' | 'previousIpHash' | 'userId'>): Bucket {
  return notFoundBucket(config, s, 0);
}

/** The 404 budget alone, spent once (a 404 answer or a refused path). */
export function probeBucket(config: Config, s: Pick<Subject, 'ipHash' | 'previousIpHash' | 'userId'>): Bucket {
  return notFoundBucket(config, s, 1);
}

/**
 * Asking auth about a cookie it has not seen lately is spent from its own IP budget, decided before
 * auth is asked: a flood of made-up cookies costs auth at most that many lookups per address.
 */
export function sessionResolveBucket(config: Config, s: Pick<Subject, 'ipHash' | 'previousIpHash'>): Bucket {
  return ipBucket(config.RATE_LIMIT_PREFIX, 'session-resolve', 'sess', s, config.RATE_LIMIT_SESSION_RESOLVE, 1);
}

/** Auth and generation creation refuse service when Redis cannot decide; everything else degrades to a local limiter. */
export function failsOpen(routeClass: PolicyClass): boolean {
  return routeClass !== 'auth' && routeClass !== 'generation-create';
}
