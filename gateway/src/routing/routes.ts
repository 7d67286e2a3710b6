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
  /** What a success ends at this gateway, if anything. */
  endsSessions?: EndsSessions;
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

/**
 * What a successful answer ends at this gateway (its few seconds of session reuse): `token` — the
 * session the request came with (sign-out, a reset or undo that the browser brought a cookie to);
 * `account` — every session of the signed-in account (sign out everywhere, a password change,
 * closing the account). Services refuse ended sessions by their own revocation marks; this only
 * spares the short reuse window.
 */
export type EndsSessions = 'token' | 'account';

/**
 * One line per kind of public route. The first line that matches the method and the canonical
 * path decides everything the gateway does with the request: route class (its rate-limit policy —
 * policies.ts — and how a Redis outage is handled), whether the session cookie is resolved, the
 * body limit, the upstream timeout and what a success ends. The owning service comes from OWNERS.
 */
interface RouteRule {
  /** `safe`: GET and HEAD; `unsafe`: every other method; a list: those; absent: any. */
  methods?: 'safe' | 'unsafe' | readonly string[];
  /** An exact path, or a pattern of paths. */
  path: string | RegExp;
  routeClass: RouteClass;
  session: boolean;
  /** Upstream timeout multiplier (default 1); 0 = none (an event stream's body). */
  timeoutFactor?: number;
  body?: 'default' | 'upload';
  endsSessions?: EndsSessions;
}

/** Credential endpoints and emailed links anyone can hammer to guess passwords or send mail. */
const STRICT_AUTH = /^\/v1\/auth\/(signup|login|verify-email|verify-email\/resend|password\/forgot|google\/start|google\/callback|email\/confirm|account\/restore)$/;
/** Signed-in changes that check a password or mail an address. */
const STRICT_ACCOUNT = /^\/v1\/me\/(email|google\/link|google\/unlink)$/;
/** Public and anonymous: resolving a session there would only cost an auth round trip. */
const ANONYMOUS = /^\/v1\/(pricing|gallery|generations\/options)$/;
const SSE = /^\/v1\/generations\/[^/]+\/events$/;
const WEBHOOKS = /^\/v1\/notifications\/webhooks\//;
const ANY = /^/;

export const ROUTES: readonly RouteRule[] = [
  // Providers' signed webhooks: no session, no CSRF, their own budget, bodies streamed as signed.
  { path: '/v1/billing/webhook', routeClass: 'webhook', session: false },
  { path: WEBHOOKS, routeClass: 'webhook', session: false },
  // The strict per-address budget, no session resolved.
  { path: '/v1/auth/password/reset', routeClass: 'auth', session: false, endsSessions: 'token' },
  { path: '/v1/auth/email/undo', routeClass: 'auth', session: false, endsSessions: 'token' },
  { path: STRICT_AUTH, routeClass: 'auth', session: false },
  // The strict budget too, with the session resolved.
  { methods: ['PUT'], path: '/v1/me/password', routeClass: 'auth', session: true, endsSessions: 'account' },
  { methods: 'unsafe', path: STRICT_ACCOUNT, routeClass: 'auth', session: true },
  // Signing out and closing the account.
  { methods: 'unsafe', path: '/v1/auth/logout', routeClass: 'write', session: true, endsSessions: 'token' },
  { methods: 'unsafe', path: '/v1/auth/logout-all', routeClass: 'write', session: true, endsSessions: 'account' },
  { methods: ['DELETE'], path: '/v1/me', routeClass: 'write', session: true, endsSessions: 'account' },
  // Reads.
  { methods: 'safe', path: SSE, routeClass: 'sse', session: true, timeoutFactor: 0 },
  { methods: 'safe', path: ANONYMOUS, routeClass: 'read', session: false },
  { methods: 'safe', path: ANY, routeClass: 'read', session: true },
  // Writes.
  { methods: ['POST'], path: '/v1/generations', routeClass: 'generation-create', session: true },
  { methods: ['POST'], path: '/v1/uploads', routeClass: 'write', session: true, timeoutFactor: 4, body: 'upload' },
  { path: ANY, routeClass: 'write', session: true },
];

const SAFE = new Set(['GET', 'HEAD']);

function matches(rule: RouteRule, method: string, path: string): boolean {
  const m = rule.methods;
  if (m === 'safe' ? !SAFE.has(method) : m === 'unsafe' ? SAFE.has(method) : m !== undefined && !m.includes(method)) return false;
  return typeof rule.path === 'string' ? rule.path === path : rule.path.test(path);
}

export function isWebhook(path: string): boolean {
  return classify('POST', path)?.routeClass === 'webhook';
}

/** Classifies a canonical path; undefined = not a public route (404). */
export function classify(method: string, path: string): RouteInfo | undefined {
  const owner = ownerOf(path);
  if (!owner) return undefined;
  const rule = ROUTES.find((r) => matches(r, method, path))!;
  return {
    ...owner,
    routeClass: rule.routeClass,
    session: rule.session,
    timeoutFactor: rule.timeoutFactor ?? 1,
    body: rule.body ?? 'default',
    ...(rule.endsSessions ? { endsSessions: rule.endsSessions } : {}),
  };
}

/** Where a service listens, by name. */
export type Upstreams = Record<ServiceName, string>;
