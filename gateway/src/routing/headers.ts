import type { IncomingHttpHeaders } from 'node:http';
import { INTERNAL_HEADERS } from '@imlab/contracts';

/**
 * The only client request headers a service receives: what its routes read (bodies, caching,
 * idempotency, event-stream resumption, provider signatures, the Fetch Metadata auth checks) and
 * content negotiation. Everything else stays at the edge: forged credentials and forwarding chains,
 * the raw user agent and its client hints (sec-ch-ua*: browser, version, platform), address headers
 * that proxies in front add (x-original-forwarded-for, cf-connecting-ipv6, fastly-client-ip...),
 * and whatever a client invents. `authorization`, `cookie` and the identity headers are the
 * gateway's own, set after.
 */
const FORWARD_REQUEST = new Set([
  'accept',
  'accept-encoding',
  'accept-language',
  'content-type',
  'content-length',
  'content-encoding',
  'if-none-match',
  'if-modified-since',
  'idempotency-key',
  'last-event-id',
  'stripe-signature',
  'svix-id',
  'svix-timestamp',
  'svix-signature',
  'sec-fetch-site',
  'sec-fetch-mode',
  'sec-fetch-dest',
]);

/**
 * Response headers never passed on: hop-by-hop ones (RFC 9110 7.6.1), the service's software,
 * and CORS (the gateway answers that for every route itself).
 */
const DROP_RESPONSE = new Set(['x-powered-by', 'server', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'trailer', 'te', 'proxy-authenticate', 'proxy-connection']);

/** `a=1; imlab_sid=xyz` → Map of raw (undecoded) values. */
export function readCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    if (name && !out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

/**
 * Every non-empty value a cookie named `name` has in the header, without repeats, in order. A
 * browser sends several when several were set for the request's host with different Domain or
 * Path attributes (one may have been tossed in by a sibling subdomain), so no one of them is
 * more trustworthy than another by its position.
 */
export function readCookieValues(header: string | undefined, name: string): string[] {
  const out: string[] = [];
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    if (value && !out.includes(value)) out.push(value);
  }
  return out;
}

export interface ForwardContext {
  requestId: string;
  /**
   * W3C traceparent naming the gateway's span of the request: the service continues the trace.
   * Undefined when OpenTelemetry's undici instrumentation is on: it adds the traceparent of its own
   * client span (a child of the gateway's), and a second header would make both unreadable.
   */
  traceparent: string | undefined;
  ipHash: string;
  uaHash: string;
  device: string;
  bearer: string | undefined;
  /** Cookies this upstream may see (raw name=value pairs). */
  cookies: [string, string][];
}

/**
 * The headers a service receives: the client's, minus the dropped ones and any the client named
 * in Connection (hop-by-hop by declaration, so a client cannot strip a header the gateway adds),
 * plus the gateway's identity headers. Host is set by the HTTP client from the service's address.
 */
export function forwardRequestHeaders(headers: IncomingHttpHeaders, ctx: ForwardContext): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  // The usual `keep-alive` / `close` name no other header: no list to build on those requests.
  const connection = headers.connection;
  const hopByHop =
    connection && connection !== 'keep-alive' && connection !== 'close' ? connection.toLowerCase().split(',').map((n) => n.trim()) : undefined;
  for (const name in headers) {
    if (!FORWARD_REQUEST.has(name) || hopByHop?.includes(name)) continue;
    out[name] = headers[name];
  }
  out[INTERNAL_HEADERS.requestId] = ctx.requestId;
  // The client's own traceparent and tracestate are not forwarded: the gateway's span is the parent.
  if (ctx.traceparent) out.traceparent = ctx.traceparent;
  out[INTERNAL_HEADERS.ipHash] = ctx.ipHash;
  out[INTERNAL_HEADERS.uaHash] = ctx.uaHash;
  out[INTERNAL_HEADERS.device] = ctx.device;
  if (ctx.bearer) out.authorization = `Bearer ${ctx.bearer}`;
  if (ctx.cookies.length) out.cookie = ctx.cookies.map(([k, v]) => `${k}=${v}`).join('; ');
  return out;
}

/**
 * What the client receives of a service's answer headers. Only auth sets cookies (the session and
 * the locale): a cookie from any other service is dropped, so no service can set `imlab_sid`.
 */
export function forwardResponseHeaders(headers: Record<string, string | string[] | undefined>, service: string): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  const connection = headers.connection === undefined ? [] : String(headers.connection).toLowerCase().split(',').map((n) => n.trim());
  for (const name in headers) {
    if (DROP_RESPONSE.has(name) || connection.includes(name) || name.startsWith('access-control-')) continue;
    if (name === 'set-cookie' && service !== 'auth') continue;
    out[name] = headers[name];
  }
  // The CORS answer depends on Origin: keep it in Vary when the service sends a Vary of its own.
  const vary = out.vary === undefined ? undefined : String(out.vary);
  if (vary !== undefined && vary !== '*' && !/(^|,)\s*origin\s*(,|$)/i.test(vary)) out.vary = `${vary}, Origin`;
  if (String(out['content-type'] ?? '').startsWith('text/event-stream')) {
    // Tell any buffering proxy in front of us (nginx) to pass events through as they come.
    out['x-accel-buffering'] = 'no';
    out['cache-control'] ??= 'no-cache';
  }
  return out;
}
