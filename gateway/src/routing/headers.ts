import type { IncomingHttpHeaders } from 'node:http';
import { INTERNAL_HEADERS } from '@imlab/contracts';

/**
 * Request headers never forwarded: credentials the client could forge (Authorization), identity
 * the gateway computes itself (forwarding chains), the raw user agent (replaced by its hash and a
 * coarse label), and hop-by-hop headers undici refuses. Any `x-imlab-*` is dropped separately.
 */
const DROP_REQUEST = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'user-agent',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-real-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'x-client-ip',
  'x-cluster-client-ip',
  'via',
  'x-request-id',
  'host',
  'connection',
  'transfer-encoding',
  'upgrade',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'expect',
]);

const DROP_RESPONSE = new Set(['x-powered-by', 'server', 'connection', 'keep-alive', 'transfer-encoding']);

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

export interface ForwardContext {
  requestId: string;
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
    if (DROP_REQUEST.has(name) || name.startsWith('x-imlab-') || hopByHop?.includes(name)) continue;
    out[name] = headers[name];
  }
  out[INTERNAL_HEADERS.requestId] = ctx.requestId;
  out[INTERNAL_HEADERS.ipHash] = ctx.ipHash;
  out[INTERNAL_HEADERS.uaHash] = ctx.uaHash;
  out[INTERNAL_HEADERS.device] = ctx.device;
  if (ctx.bearer) out.authorization = `Bearer ${ctx.bearer}`;
  if (ctx.cookies.length) out.cookie = ctx.cookies.map(([k, v]) => `${k}=${v}`).join('; ');
  return out;
}

export function forwardResponseHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const name in headers) if (!DROP_RESPONSE.has(name)) out[name] = headers[name];
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
