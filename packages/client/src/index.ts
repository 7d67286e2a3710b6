import type { ProblemBody } from '@imlab/contracts';
import { Agent, fetch, type Dispatcher, type RequestInit, type Response } from 'undici';

/**
 * A small typed client for the public API behind the gateway, for tests, scripts and a Node-side
 * frontend. It keeps the two first-party cookies (`imlab_sid`, `locale`) itself, sends the Origin
 * the gateway's CSRF check expects, and turns problem+json answers into `ApiError`.
 */

/** A problem+json answer; `UNKNOWN` when the answer was not one (a proxy's HTML error page). */
export type Problem = Pick<ProblemBody, 'type' | 'title' | 'status' | 'detail' | 'requestId' | 'errors'> & { code: ProblemBody['code'] | 'UNKNOWN'; [extra: string]: unknown };

/** The parsed `RateLimit` / `RateLimit-Policy` headers (IETF draft) of an answer. */
export interface RateLimitInfo {
  policy: string;
  limit: number;
  windowSeconds: number;
  remaining: number;
  resetSeconds: number;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problem: Problem;
  /** Seconds, from Retry-After (429, 503). */
  readonly retryAfter: number | undefined;
  constructor(problem: Problem, retryAfter: number | undefined) {
    super(`${problem.status} ${problem.code}${problem.detail ? `: ${problem.detail}` : ''}`);
    this.name = 'ApiError';
    this.status = problem.status;
    this.code = problem.code;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
}

export interface ClientOptions {
  /** The gateway, e.g. `https://api.imagemakerlab.com`. */
  baseUrl: string;
  /** Sent as Origin on every request (the frontend's origin); required for cookie-authenticated writes. */
  origin?: string;
  userAgent?: string;
  dispatcher?: Dispatcher;
}

export interface Answer<T> {
  status: number;
  data: T;
  headers: Headers;
  rateLimit: RateLimitInfo | undefined;
}

const KEPT_COOKIES = new Set(['imlab_sid', 'locale']);

export function parseRateLimit(headers: Headers): RateLimitInfo | undefined {
  const policy = /^"([^"]+)";q=(\d+);w=(\d+)/.exec(headers.get('ratelimit-policy') ?? '');
  const state = /^"([^"]+)";r=(\d+);t=(\d+)/.exec(headers.get('ratelimit') ?? '');
  if (!policy || !state) return undefined;
  return { policy: policy[1]!, limit: Number(policy[2]), windowSeconds: Number(policy[3]), remaining: Number(state[2]), resetSeconds: Number(state[3]) };
}

export class ImlabClient {
  private readonly cookies = new Map<string, string>();
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;

  constructor(private readonly opts: ClientOptions) {
    this.ownsDispatcher = !opts.dispatcher;
    this.dispatcher = opts.dispatcher ?? new Agent();
  }

  /** Whether a session cookie is held (not whether it is still valid). */
  get signedIn(): boolean {
    return this.cookies.has('imlab_sid');
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, query?: Record<string, string | number | undefined>): Promise<Answer<T>> {
    const url = new URL(path, this.opts.baseUrl);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.opts.origin) headers.origin = this.opts.origin;
    if (this.opts.userAgent) headers['user-agent'] = this.opts.userAgent;
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const init: RequestInit = { method, headers, dispatcher: this.dispatcher };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(url, init);
    this.keepCookies(res);
    const text = await res.text();
    const isJson = /json/.test(res.headers.get('content-type') ?? '');
    const data = (isJson && text ? JSON.parse(text) : text) as unknown;
    if (res.status >= 400) {
      const problem: Problem = isJson && data && typeof data === 'object' ? (data as Problem) : { type: 'about:blank', title: res.statusText, status: res.status, code: 'UNKNOWN' };
      const retry = res.headers.get('retry-after');
      throw new ApiError(problem, retry ? Number(retry) : undefined);
    }
    return { status: res.status, data: data as T, headers: res.headers as unknown as Headers, rateLimit: parseRateLimit(res.headers as unknown as Headers) };
  }

  /** Opens `GET /v1/generations/:id/events` and yields each server-sent event as it arrives. */
  async *generationEvents(id: string, signal?: AbortSignal): AsyncGenerator<{ event: string; data: string }> {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(new URL(`/v1/generations/${encodeURIComponent(id)}/events`, this.opts.baseUrl), { headers, dispatcher: this.dispatcher, signal });
    if (res.status >= 400 || !res.body) throw new ApiError((await res.json().catch(() => ({ status: res.status, code: 'UNKNOWN' }))) as Problem, undefined);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length) yield { event, data: data.join('\n') };
      }
    }
  }

  // The public API (see the gateway's /openapi.json for every field).
  readonly auth = {
    signup: (body: { email: string; password: string; locale?: 'en' | 'zh'; displayName?: string }) => this.request('POST', '/v1/auth/signup', body),
    login: (body: { email: string; password: string }) => this.request('POST', '/v1/auth/login', body),
    logout: () => this.request('POST', '/v1/auth/logout'),
    logoutAll: () => this.request('POST', '/v1/auth/logout-all'),
    verifyEmail: (token: string) => this.request('POST', '/v1/auth/verify-email', { token }),
    forgotPassword: (email: string) => this.request('POST', '/v1/auth/password/forgot', { email }),
    resetPassword: (token: string, password: string) => this.request('POST', '/v1/auth/password/reset', { token, password }),
  };

  readonly me = {
    get: () => this.request('GET', '/v1/me'),
    update: (body: Record<string, unknown>) => this.request('PATCH', '/v1/me', body),
    sessions: () => this.request('GET', '/v1/me/sessions'),
    delete: () => this.request('DELETE', '/v1/me'),
    requestExport: () => this.request('POST', '/v1/me/exports'),
    export: (id: string) => this.request('GET', `/v1/me/exports/${encodeURIComponent(id)}`),
  };

  readonly credits = {
    balance: () => this.request('GET', '/v1/credits/balance'),
    transactions: (page: { cursor?: string; limit?: number } = {}) => this.request('GET', '/v1/credits/transactions', undefined, page),
  };

  readonly generations = {
    quote: (body: Record<string, unknown>) => this.request('POST', '/v1/generations/quote', body),
    create: (body: Record<string, unknown>) => this.request('POST', '/v1/generations', body),
    list: (page: { cursor?: string; limit?: number } = {}) => this.request('GET', '/v1/generations', undefined, page),
    get: (id: string) => this.request('GET', `/v1/generations/${encodeURIComponent(id)}`),
    cancel: (id: string) => this.request('POST', `/v1/generations/${encodeURIComponent(id)}/cancel`),
  };

  readonly images = {
    get: (id: string) => this.request('GET', `/v1/images/${encodeURIComponent(id)}`),
    publish: (id: string) => this.request('POST', `/v1/images/${encodeURIComponent(id)}/publish`),
    unpublish: (id: string) => this.request('DELETE', `/v1/images/${encodeURIComponent(id)}/publish`),
    delete: (id: string) => this.request('DELETE', `/v1/images/${encodeURIComponent(id)}`),
  };

  readonly gallery = (page: { cursor?: string; limit?: number } = {}) => this.request('GET', '/v1/gallery', undefined, page);
  readonly pricing = () => this.request('GET', '/v1/pricing');

  readonly billing = {
    checkout: (body: Record<string, unknown>) => this.request('POST', '/v1/billing/checkout', body),
    orders: (page: { cursor?: string; limit?: number } = {}) => this.request('GET', '/v1/billing/orders', undefined, page),
  };

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private keepCookies(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      if (eq === -1) continue;
      const name = pair!.slice(0, eq).trim();
      if (!KEPT_COOKIES.has(name)) continue;
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a) || (/^\s*expires\s*=/i.test(a) && Date.parse(a.split('=')[1]!) <= Date.now()));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}
