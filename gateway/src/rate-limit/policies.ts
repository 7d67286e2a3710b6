import type { Config } from '../config.js';
import type { RouteClass } from '../routing/routes.js';
import type { Bucket } from './gcra.js';

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
 * decision also checks, without spending, the IP's 404 budget: a prober is refused everywhere.
 */
export function bucketsFor(config: Config, routeClass: RouteClass, s: Subject): Bucket[] {
  const p = config.RATE_LIMIT_PREFIX;
  const ip = (policy: string, suffix = '') => ({
    key: `${p}:${policy}:ip:${s.ipHash}${suffix}`,
    ...(s.previousIpHash ? { alias: `${p}:${policy}:ip:${s.previousIpHash}${suffix}` } : {}),
  });
  const user = s.userId ? `:u:${s.userId}` : '';
  const probe: Bucket = { policy: 'not-found', ...ip('nf'), ...config.RATE_LIMIT_NOT_FOUND, cost: 0 };
  switch (routeClass) {
    case 'auth':
      return [{ policy: 'auth', ...ip('auth'), ...config.RATE_LIMIT_AUTH, cost: 1 }, probe];
    case 'generation-create':
      return [
        { policy: 'generation', ...ip('gen'), ...config.RATE_LIMIT_GENERATION, cost: 1 },
        ...(s.userId ? [{ policy: 'generation-user', key: `${p}:gen:u:${s.userId}`, ...config.RATE_LIMIT_GENERATION, cost: 1 }] : []),
        probe,
      ];
    case 'webhook':
      return [{ policy: 'webhook', ...ip('hook'), ...config.RATE_LIMIT_WEBHOOK, cost: 1 }];
    case 'write':
      return [{ policy: 'write', ...ip('write', user), ...config.RATE_LIMIT_WRITE, cost: 1 }, probe];
    case 'read':
    case 'sse':
      return [{ policy: 'read', ...ip('read', user), ...config.RATE_LIMIT_READ, cost: 1 }, probe];
  }
}

/** The 404 budget alone, spent once (a 404 answer or a refused path). */
export function probeBucket(config: Config, s: Pick<Subject, 'ipHash' | 'previousIpHash'>): Bucket {
  const p = config.RATE_LIMIT_PREFIX;
  return {
    policy: 'not-found',
    key: `${p}:nf:ip:${s.ipHash}`,
    ...(s.previousIpHash ? { alias: `${p}:nf:ip:${s.previousIpHash}` } : {}),
    ...config.RATE_LIMIT_NOT_FOUND,
    cost: 1,
  };
}

/**
 * Asking auth about a cookie it has not seen lately is spent from its own IP budget, decided before
 * auth is asked: a flood of made-up cookies costs auth at most that many lookups per address.
 */
export function sessionResolveBucket(config: Config, s: Pick<Subject, 'ipHash' | 'previousIpHash'>): Bucket {
  const p = config.RATE_LIMIT_PREFIX;
  return {
    policy: 'session-resolve',
    key: `${p}:sess:ip:${s.ipHash}`,
    ...(s.previousIpHash ? { alias: `${p}:sess:ip:${s.previousIpHash}` } : {}),
    ...config.RATE_LIMIT_SESSION_RESOLVE,
    cost: 1,
  };
}

/** Auth and generation creation refuse service when Redis cannot decide; everything else degrades to a local limiter. */
export function failsOpen(routeClass: RouteClass): boolean {
  return routeClass !== 'auth' && routeClass !== 'generation-create';
}
