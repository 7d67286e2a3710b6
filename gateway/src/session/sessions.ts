import { hash } from 'node:crypto';
import type { Agent} from 'undici';
import { request } from 'undici';
import { INTERNAL_TOKEN_HEADER } from '@imlab/http';

export interface ResolvedSession {
  /** Internal JWT for the target service (audience-bound, short-lived). */
  token: string;
  userId: string;
  /** The person's roles, as auth knows them now (the queue board needs ops/admin). */
  roles: readonly string[];
}

export type SessionResult = { kind: 'anonymous' } | { kind: 'session'; session: ResolvedSession } | { kind: 'unavailable' };

export interface SessionResolverOptions {
  authUrl: string;
  internalToken: string;
  timeoutMs: number;
  /** In-process reuse of a resolved session, in ms; 0 disables. */
  cacheTtlMs: number;
  dispatcher: Agent;
}

interface CacheEntry {
  session: ResolvedSession | null;
  expiresAt: number;
}

/**
 * imlab_sid → auth's POST /internal/sessions/resolve → internal JWT. Auth caches the lookup in
 * Redis and invalidates it on logout; the few seconds of in-process reuse here only spare the
 * round trip on bursts. Entries are keyed by a SHA-256 of the token, never by the token, and are
 * dropped when this gateway sees a logout go through.
 */
export class SessionResolver {
  private readonly cache = new Map<string, CacheEntry>();
  constructor(private readonly opts: SessionResolverOptions) {}

  static tokenKey(token: string, audience: string): string {
    return `${hash('sha256', token, 'base64url')}:${audience}`;
  }

  /** The reusable answer for this token, if any, without asking auth. */
  peek(token: string, audience: string): SessionResult | undefined {
    if (token.length > 512) return { kind: 'anonymous' };
    const hit = this.cache.get(SessionResolver.tokenKey(token, audience));
    if (!hit || hit.expiresAt <= Date.now()) return undefined;
    return hit.session ? { kind: 'session', session: hit.session } : { kind: 'anonymous' };
  }

  async resolve(token: string, audience: string): Promise<SessionResult> {
    // Auth refuses longer tokens anyway; no need to ask.
    if (token.length > 512) return { kind: 'anonymous' };
    const key = SessionResolver.tokenKey(token, audience);
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.expiresAt > now) return hit.session ? { kind: 'session', session: hit.session } : { kind: 'anonymous' };
    let status: number;
    let body: unknown;
    try {
      const res = await request(new URL('/internal/sessions/resolve', this.opts.authUrl), {
        method: 'POST',
        dispatcher: this.opts.dispatcher,
        headers: { 'content-type': 'application/json', [INTERNAL_TOKEN_HEADER]: this.opts.internalToken },
        body: JSON.stringify({ token, audience }),
        headersTimeout: this.opts.timeoutMs,
        bodyTimeout: this.opts.timeoutMs,
      });
      status = res.statusCode;
      body = status === 200 ? await res.body.json() : await res.body.dump();
    } catch {
      return { kind: 'unavailable' };
    }
    // 400: not a well-formed token (e.g. too long); 401: unknown, expired or revoked.
    if (status === 400 || status === 401 || status === 404) {
      this.remember(key, null, this.opts.cacheTtlMs);
      return { kind: 'anonymous' };
    }
    const b = body as { token?: unknown; userId?: unknown; roles?: unknown; expiresIn?: unknown } | undefined;
    if (status !== 200 || typeof b?.token !== 'string' || typeof b.userId !== 'string') return { kind: 'unavailable' };
    const roles = Array.isArray(b.roles) ? b.roles.filter((r): r is string => typeof r === 'string') : [];
    const session = { token: b.token, userId: b.userId, roles };
    // Never reuse a JWT in its last 10 s: it must still be valid when the service checks it.
    const lifetimeMs = typeof b.expiresIn === 'number' ? b.expiresIn * 1000 - 10_000 : 0;
    this.remember(key, session, Math.min(this.opts.cacheTtlMs, lifetimeMs));
    return { kind: 'session', session };
  }

  /** After a logout or password reset seen here: forget that token (every audience). */
  forgetToken(token: string): void {
    const prefix = SessionResolver.tokenKey(token, '');
    for (const key of this.cache.keys()) if (key.startsWith(prefix)) this.cache.delete(key);
  }

  /** After logout-all or password reset: forget every cached session of the user. */
  forgetUser(userId: string): void {
    for (const [key, entry] of this.cache) if (entry.session?.userId === userId) this.cache.delete(key);
  }

  private remember(key: string, session: ResolvedSession | null, ttlMs: number): void {
    if (ttlMs <= 0) return;
    if (this.cache.size > 50_000) this.cache.clear();
    this.cache.set(key, { session, expiresAt: Date.now() + ttlMs });
  }
}
