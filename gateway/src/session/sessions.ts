import { hash } from 'node:crypto';
import type { Agent} from 'undici';
import { request } from 'undici';
import { asLocale, type Locale } from '@imlab/contracts';
import { INTERNAL_TOKEN_HEADER } from '@imlab/http';

export interface ResolvedSession {
  /** Internal JWT for the target service (audience-bound, short-lived). */
  token: string;
  userId: string;
  /** The person's roles, as auth knows them now (the queue board needs ops/admin). */
  roles: readonly string[];
  /** The account's language (problems the gateway answers use it when no locale cookie is sent). */
  locale?: Locale | undefined;
}

export type SessionResult = { kind: 'anonymous' } | { kind: 'session'; session: ResolvedSession } | { kind: 'unavailable' };

const ANONYMOUS: SessionResult = Object.freeze({ kind: 'anonymous' });

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
  /** From here until expiresAt the entry is still served, and the first request asks auth again in the background. */
  refreshAt: number;
}

/** The last part of an entry's life in which it is refreshed ahead: a fifth of it, at most 1 s. */
export function refreshLeadMs(ttlMs: number): number {
  return Math.min(1000, Math.floor(ttlMs / 5));
}

/**
 * imlab_sid → auth's POST /internal/sessions/resolve → internal JWT. Auth caches the lookup in
 * Redis and invalidates it on logout; the few seconds of in-process reuse here only spare the
 * round trip on bursts. Entries are keyed by a SHA-256 of the token, never by the token, and are
 * dropped when this gateway sees a logout go through.
 */
export class SessionResolver {
  private readonly cache = new Map<string, CacheEntry>();
  /** Lookups under way at auth, by cache key. */
  private readonly inflight = new Map<string, Promise<SessionResult>>();
  /** Bumped by every forget: a lookup that started before it does not fill the cache. */
  private generation = 0;
  private readonly opts: SessionResolverOptions;
  constructor(opts: SessionResolverOptions) {
    this.opts = opts;
  }

  static tokenKey(token: string, audience: string): string {
    return `${hash('sha256', token, 'base64url')}:${audience}`;
  }

  /**
   * The session behind a token, for `audience`. A cached answer comes back as it is (no promise on
   * the hot path); in the last part of its life (refreshLeadMs) the first request also starts a
   * lookup in the background, so a session in use is refreshed before it runs out and its requests
   * never wait for auth. Otherwise auth is asked, and concurrent lookups of the same token and audience
   * share that one request: when a hot session's cache entry runs out, or a page fires many
   * requests at once, they all wait for one answer instead of each sending its own. `admit` runs
   * first, once per shared lookup (the gateway spends the IP's session-resolve budget there); if it
   * throws, every request waiting on the lookup gets that error.
   */
  resolve(token: string, audience: string, admit?: () => Promise<void>): SessionResult | Promise<SessionResult> {
    // Auth refuses longer tokens anyway; no need to ask.
    if (token.length > 512) return ANONYMOUS;
    const key = SessionResolver.tokenKey(token, audience);
    const hit = this.cache.get(key);
    const now = Date.now();
    if (hit && hit.expiresAt > now) {
      // Refresh ahead: near the end of the entry's life one lookup starts in the background while
      // the entry (never past its expiry) keeps answering; requests no longer stall every TTL.
      if (now >= hit.refreshAt && !this.inflight.has(key)) this.start(key, token, audience, admit).catch(() => undefined);
      return hit.session ? { kind: 'session', session: hit.session } : ANONYMOUS;
    }
    return this.inflight.get(key) ?? this.start(key, token, audience, admit);
  }

  /** One lookup at auth, shared by every request for the same key until it ends. */
  private start(key: string, token: string, audience: string, admit: (() => Promise<void>) | undefined): Promise<SessionResult> {
    const lookup = this.lookup(key, token, audience, admit, this.generation).finally(() => {
      if (this.inflight.get(key) === lookup) this.inflight.delete(key);
    });
    this.inflight.set(key, lookup);
    return lookup;
  }

  private async lookup(key: string, token: string, audience: string, admit: (() => Promise<void>) | undefined, generation: number): Promise<SessionResult> {
    if (admit) await admit();
    const { result, ttlMs } = await this.ask(token, audience);
    // A logout seen while auth was being asked wins: its answer is not kept.
    if (generation === this.generation) this.remember(key, result.kind === 'session' ? result.session : null, ttlMs);
    return result;
  }

  /** Auth's answer, and how long it may be reused (0: not at all). */
  private async ask(token: string, audience: string): Promise<{ result: SessionResult; ttlMs: number }> {
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
      return { result: { kind: 'unavailable' }, ttlMs: 0 };
    }
    // 400: not a well-formed token (e.g. too long); 401: unknown, expired or revoked.
    if (status === 400 || status === 401 || status === 404) return { result: ANONYMOUS, ttlMs: this.opts.cacheTtlMs };
    const b = body as { token?: unknown; userId?: unknown; roles?: unknown; locale?: unknown; expiresIn?: unknown } | undefined;
    if (status !== 200 || typeof b?.token !== 'string' || typeof b.userId !== 'string') return { result: { kind: 'unavailable' }, ttlMs: 0 };
    const roles = Array.isArray(b.roles) ? b.roles.filter((r): r is string => typeof r === 'string') : [];
    // Never reuse a JWT in its last 10 s: it must still be valid when the service checks it.
    const lifetimeMs = typeof b.expiresIn === 'number' ? b.expiresIn * 1000 - 10_000 : 0;
    return { result: { kind: 'session', session: { token: b.token, userId: b.userId, roles, locale: asLocale(b.locale) } }, ttlMs: Math.min(this.opts.cacheTtlMs, lifetimeMs) };
  }

  /** After a logout or password reset seen here: forget that token (every audience). */
  forgetToken(token: string): void {
    const prefix = SessionResolver.tokenKey(token, '');
    for (const key of this.cache.keys()) if (key.startsWith(prefix)) this.cache.delete(key);
    this.forgetLookups();
  }

  /** After logout-all or password reset: forget every cached session of the user. */
  forgetUser(userId: string): void {
    for (const [key, entry] of this.cache) if (entry.session?.userId === userId) this.cache.delete(key);
    this.forgetLookups();
  }

  /**
   * Lookups under way may carry an answer from before the logout: none of them fills the cache,
   * and later requests ask auth afresh instead of joining them.
   */
  private forgetLookups(): void {
    this.generation++;
    this.inflight.clear();
  }

  private remember(key: string, session: ResolvedSession | null, ttlMs: number): void {
    if (ttlMs <= 0) return;
    if (this.cache.size > 50_000) this.cache.clear();
    const expiresAt = Date.now() + ttlMs;
    this.cache.set(key, { session, expiresAt, refreshAt: expiresAt - refreshLeadMs(ttlMs) });
  }
}
