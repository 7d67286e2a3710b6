import { isIP } from 'node:net';
import type { ServiceName } from '@imlab/contracts';
import { CLOUDFLARE_RANGES_AS_OF, isCloudflareAddress } from '../identity/cloudflare.js';

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
  /** For `target`: the account whose sessions end (from the canonical path). */
  target?: string;
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
 * closing the account); `target` — every session of the account the path names (an admin's
 * suspension: the gateway that relays it forgets them before the admin sees the answer; the others
 * hear it on auth's sessions-ended channel). Services refuse ended sessions by their own revocation
 * marks; this only spares the short reuse window.
 */
export type EndsSessions = 'token' | 'account' | 'target';

/** The account a `target` route names: /v1/admin/accounts/<id>/suspend. */
const SUSPEND_PATH = /^\/v1\/admin\/accounts\/([0-9a-f-]{36})\/suspend$/;

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
const STRICT_AUTH = /^\/v1\/auth\/(signup|login|verify-email|verify-email\/resend|password\/forgot|google\/start|google\/callback|email\/confirm|email\/(?:confirm|undo)\/preview|account\/restore)$/;
/** Signed-in changes that check a password or mail an address. */
const STRICT_ACCOUNT = /^\/v1\/me\/(email|google\/link|google\/unlink)$/;
/** Public and anonymous: resolving a session there would only cost an auth round trip. */
const ANONYMOUS = /^\/v1\/(pricing|gallery|generations\/options|auth\/methods)$/;
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
  { methods: ['POST'], path: SUSPEND_PATH, routeClass: 'write', session: true, endsSessions: 'target' },
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
    // a `target` rule's path names the account in its first group
    ...(rule.endsSessions === 'target' && typeof rule.path !== 'string' ? { target: rule.path.exec(path)?.[1] } : {}),
  };
}

/** Where a service listens, by name. */
export type Upstreams = Record<ServiceName, string>;

/**
 * Every surface of the gateway, in the same table as the routes: the first rule whose prefix is the
 * path (or a parent of it) says who answers and on which listener. `api` is the proxied /v1 space
 * (ROUTES and OWNERS above decide the rest); `gateway` the gateway's own pages and probes; `metrics`
 * the Prometheus endpoint, served only on the internal metrics listener (METRICS_PORT) — on the
 * public one it is a 404 like any unknown path; `hidden` what is never answered from outside (a
 * 404 problem); `web` the web app (web/dist), which takes every path no other rule claims.
 */
export type Surface = 'api' | 'gateway' | 'metrics' | 'hidden' | 'web';
export type Listener = 'public' | 'metrics';
export interface SurfaceRule {
  prefix: string;
  surface: Surface;
  listener: Listener;
}

export const SURFACES: readonly SurfaceRule[] = [
  { prefix: '/v1', surface: 'api', listener: 'public' },
  { prefix: '/docs', surface: 'gateway', listener: 'public' },
  { prefix: '/openapi.json', surface: 'gateway', listener: 'public' },
  { prefix: '/admin', surface: 'gateway', listener: 'public' },
  { prefix: '/healthz', surface: 'gateway', listener: 'public' },
  { prefix: '/readyz', surface: 'gateway', listener: 'public' },
  { prefix: '/metrics', surface: 'metrics', listener: 'metrics' },
  { prefix: '/internal', surface: 'hidden', listener: 'public' },
  { prefix: '/.well-known', surface: 'hidden', listener: 'public' },
  { prefix: '/__gateway', surface: 'hidden', listener: 'public' },
  { prefix: '/', surface: 'web', listener: 'public' },
];

/** The surface a path belongs to (the `web` rule takes whatever no other rule claims). */
export function surfaceOf(pathname: string): SurfaceRule {
  return SURFACES.find(({ prefix }) => prefix === '/' || pathname === prefix || pathname.startsWith(`${prefix}/`))!;
}

/** The path the metrics listener answers (the table's `metrics` rule). */
export const METRICS_PATH = SURFACES.find((s) => s.surface === 'metrics')!.prefix;

/**
 * What sits in front of the gateway (EDGE_PROFILE), as presets of the same table: which request
 * header names the client, and which peers are believed when they do. `none`: the socket's address
 * (or the right-most untrusted X-Forwarded-For hop, TRUSTED_PROXIES). `cloudflare`: CF-Connecting-IP,
 * from Cloudflare's published ranges only (identity/cloudflare.ts, dated `asOf`).
 */
export type EdgeProfile = 'none' | 'cloudflare';
export interface EdgePreset {
  /** The header the edge names the client's address in. */
  clientHeader?: string;
  /** Whether `peer` is one of the edge's own servers (only they are believed). */
  isEdge?: (peer: string) => boolean;
  /** When the edge's address ranges were taken. */
  asOf?: string;
}
export const EDGE_PROFILES: Readonly<Record<EdgeProfile, EdgePreset>> = {
  none: {},
  cloudflare: { clientHeader: 'cf-connecting-ip', isEdge: isCloudflareAddress, asOf: CLOUDFLARE_RANGES_AS_OF },
};

/**
 * The client's address. `peer` is what the socket and TRUSTED_PROXIES establish (the right-most
 * untrusted X-Forwarded-For hop: with Cloudflare in front of the ingress, a Cloudflare edge server).
 * Behind an edge with a preset, that edge server names the client in the preset's header: believed
 * only when the peer really is the edge. A request sent around the edge to the origin is keyed by
 * its own address, whatever header it carries.
 */
export function clientAddress(profile: EdgeProfile, peer: string, claimedHeader: string | string[] | undefined): string {
  const { clientHeader, isEdge } = EDGE_PROFILES[profile];
  if (!clientHeader || !isEdge || typeof claimedHeader !== 'string' || !isEdge(peer)) return peer;
  const claimed = claimedHeader.trim();
  return isIP(claimed) ? claimed : peer;
}

/** The header of the request `clientAddress` reads for `profile` (none for `none`). */
export const clientHeaderOf = (profile: EdgeProfile): string | undefined => EDGE_PROFILES[profile].clientHeader;
