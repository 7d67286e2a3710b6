import type { ServiceName } from '@imlab/contracts';

/**
 * Route classes decide the rate-limit policy, whether a session is resolved, how the body is read
 * and how long the upstream may take.
 */
export type RouteClass = 'auth' | 'generation-create' | 'write' | 'read' | 'webhook' | 'sse';

export interface RouteInfo {
  service: ServiceName;
  /** The public prefix the path falls under (`/v1/images`): the metrics label of answers that did not succeed. */
  prefix: string;
  routeClass: RouteClass;
  /** Resolve the imlab_sid cookie into an internal JWT for this request. */
  session: boolean;
  /** Upstream timeout multiplier; 0 = none (SSE). */
  timeoutFactor: number;
  /** Body limit class. */
  body: 'default' | 'upload';
}

/** Owners of the public /v1 prefixes (services serve the same paths). */
const OWNERS: readonly { prefix: string; service: ServiceName }[] = (
  [
    ['/v1/auth', 'auth'],
    ['/v1/me', 'auth'],
    ['/v1/credits', 'credits-ledger'],
    ['/v1/admin/ledger', 'credits-ledger'],
    ['/v1/uploads', 'generation'],
    ['/v1/generations', 'generation'],
    ['/v1/images', 'generation'],
    ['/v1/gallery', 'generation'],
    ['/v1/pricing', 'billing'],
    ['/v1/billing', 'billing'],
    ['/v1/admin/billing', 'billing'],
    ['/v1/admin/accounts', 'auth'],
    ['/v1/admin/audit', 'auth'],
    ['/v1/admin/support', 'auth'],
    ['/v1/admin/metrics', 'auth'],
    ['/v1/admin/fraud', 'auth'],
    ['/v1/admin/moderation', 'generation'],
    ['/v1/notifications/webhooks', 'notification'],
  ] as const
).map(([prefix, service]) => ({ prefix, service }));

function ownerOf(path: string): { prefix: string; service: ServiceName } | undefined {
  return OWNERS.find(({ prefix }) => path === prefix || path.startsWith(`${prefix}/`));
}

/** Auth endpoints anyone can hammer to guess passwords or send mail: the strict policy, IP-keyed. */
const STRICT_AUTH = /^\/v1\/auth\/(signup|login|verify-email|verify-email\/resend|password\/forgot|password\/reset|google\/start|google\/callback|email\/confirm|email\/undo|account\/restore)$/;
/** Signed-in changes that check a password or mail an address: the strict policy too, with the session resolved. */
const STRICT_ACCOUNT = /^\/v1\/me\/(password|email|google\/link|google\/unlink)$/;
/** Public and anonymous: resolving a session there would only cost an auth round trip. */
const ANONYMOUS = /^\/v1\/(pricing|gallery|generations\/options)$/;
const SSE = /^\/v1\/generations\/[^/]+\/events$/;

export function isWebhook(path: string): boolean {
  return path === '/v1/billing/webhook' || path.startsWith('/v1/notifications/webhooks/');
}

/** Classifies a canonical path; undefined = not a public route (404). */
export function classify(method: string, path: string): RouteInfo | undefined {
  const owner = ownerOf(path);
  if (!owner) return undefined;
  const safe = method === 'GET' || method === 'HEAD';
  const base = { ...owner, session: true, timeoutFactor: 1, body: 'default' as const };
  if (isWebhook(path)) return { ...base, routeClass: 'webhook', session: false };
  if (STRICT_AUTH.test(path)) return { ...base, routeClass: 'auth', session: false };
  if (!safe && STRICT_ACCOUNT.test(path)) return { ...base, routeClass: 'auth' };
  if (safe && SSE.test(path)) return { ...base, routeClass: 'sse', timeoutFactor: 0 };
  if (safe) return { ...base, routeClass: 'read', session: !ANONYMOUS.test(path) };
  if (method === 'POST' && path === '/v1/generations') return { ...base, routeClass: 'generation-create' };
  if (method === 'POST' && path === '/v1/uploads') return { ...base, routeClass: 'write', timeoutFactor: 4, body: 'upload' };
  return { ...base, routeClass: 'write' };
}

/** Where a service listens, by name. */
export type Upstreams = Record<ServiceName, string>;
