import { v7 as uuidv7 } from 'uuid';
import { isSuspended } from '../backoffice/suspension.service.js';
import { INTERNAL_AUDIENCES, REVOKED_SESSION_TTL_MS, asLocale, deviceLabel as labelOf, parseDeviceLabel, revokedSessionKey, type Locale, type Role } from '@imlab/contracts';
import { AppError } from '@imlab/http';
import type { Db } from '@imlab/db';
import type { AuthDeps } from '../deps.js';
import type { DB } from '../db.js';
import { hashToken, looksLikeToken, newToken } from '../lib/tokens.js';
import * as repo from './sessions.repository.js';
import { bounded } from '../lib/bounded.js';

interface CachedSession {
  sid: string;
  uid: string;
  roles: Role[];
  /** The account's language (absent in entries cached before it was recorded). */
  locale?: Locale;
  /** absolute expiry, epoch ms */
  exp: number;
  /** last seen, epoch ms */
  seen: number;
}

export interface ResolvedSession {
  token: string;
  userId: string;
  sessionId: string;
  roles: Role[];
  locale?: Locale;
  expiresIn: number;
}

const invalid = () => new AppError('AUTH_SESSION_INVALID');

/**
 * The gateway's coarse label ("Firefox on macOS"), read back into its parts and written again by
 * the same module that made it: anything else is an unknown device, never stored raw.
 */
export function deviceLabel(header: unknown): string {
  return labelOf(parseDeviceLabel(typeof header === 'string' ? header.trim() : ''));
}

export function createSessionService(deps: AuthDeps) {
  const { config, redis, keyPrefix, db, keys, logger } = deps;
  const redisMs = config.AUTH_REDIS_TIMEOUT_MS;
  const cacheKey = (tokenHash: string) => `${keyPrefix}auth:session:${tokenHash}`;
  const touchKey = (sid: string) => `${keyPrefix}auth:touch:${sid}`;

  const tombstoneKey = (tokenHash: string) => `${keyPrefix}auth:session-dropped:${tokenHash}`;

  /**
   * Drops cached lookups and leaves a tombstone for one cache lifetime, so a lookup that read
   * Postgres just before the revocation cannot write its stale answer back afterwards.
   */
  async function dropCache(tokenHashes: string[]): Promise<void> {
    if (!tokenHashes.length) return;
    const multi = redis.multi();
    for (const h of tokenHashes) multi.del(cacheKey(h)).set(tombstoneKey(h), '1', 'PX', Math.ceil(config.SESSION_CACHE_TTL * 1000));
    try {
      await bounded('session cache drop', redisMs, multi.exec());
    } catch (err) {
      // Queued: it runs when Redis answers again; meanwhile lookups that reach Redis are stale for ≤ SESSION_CACHE_TTL.
      logger.warn({ err }, 'session cache entries not dropped in time');
    }
  }

  /**
   * Ends sessions for everyone: their cached lookups go, and each is marked revoked for
   * REVOKED_SESSION_TTL_MS, so services refuse internal tokens already minted for them (within
   * their 1 s cache) instead of honouring them until they expire.
   */
  async function forget(revoked: repo.Revoked[]): Promise<void> {
    if (!revoked.length) return;
    const multi = redis.multi();
    for (const r of revoked) multi.set(revokedSessionKey(keyPrefix, r.id), '1', 'PX', REVOKED_SESSION_TTL_MS);
    try {
      await bounded('revocation mark', redisMs, multi.exec());
    } catch (err) {
      // Postgres has the revocation; services learn it only when the tokens expire (≤60 s).
      logger.error({ err, sessions: revoked.length }, 'could not mark ended sessions in Redis');
    }
    await dropCache(revoked.map((r) => r.tokenHash));
  }

  // SET unless a tombstone exists; both keys share the hash-tagged prefix, so one cluster slot.
  const SET_UNLESS_DROPPED = "if redis.call('exists', KEYS[2]) == 0 then return redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) end return false";

  /** Session lookup by token, Redis-cached under the token's hash; idle/absolute expiry enforced. */
  async function lookup(token: unknown): Promise<CachedSession> {
    if (!looksLikeToken(token)) throw invalid();
    const tokenHash = hashToken(token);
    const now = Date.now();
    let s: CachedSession | undefined;
    // Redis stalled: Postgres answers alone (it is the truth; the cache only saves its reads), and
    // nothing is written back until Redis answers again. Signed-in requests stay up, slower.
    let degraded = false;
    let cached: string | null = null;
    try {
      cached = await bounded('session cache', redisMs, redis.get(cacheKey(tokenHash)));
    } catch (err) {
      degraded = true;
      logger.warn({ err }, 'session cache unavailable; reading Postgres');
    }
    if (cached) s = JSON.parse(cached) as CachedSession;
    else {
      const row = await repo.findLiveSessionByHash(db, tokenHash);
      if (!row) throw invalid();
      s = { sid: row.id, uid: row.userId, roles: row.roles, locale: row.locale, exp: row.expiresAt.getTime(), seen: row.lastSeenAt.getTime() };
    }
    if (s.exp <= now || s.seen + config.SESSION_IDLE_TTL * 1000 <= now) {
      if (!degraded) await dropCache([tokenHash]);
      throw invalid();
    }
    if (degraded) return s;
    // last_seen_at is written at most once per interval per session, whatever the request rate.
    let touched = false;
    if (now - s.seen >= config.SESSION_TOUCH_INTERVAL * 1000) {
      const first = await bounded('session touch', redisMs, redis.set(touchKey(s.sid), '1', 'EX', Math.max(1, Math.ceil(config.SESSION_TOUCH_INTERVAL)), 'NX')).catch(() => null);
      if (first) {
        await repo.touchSession(db, s.sid);
        s.seen = now;
        touched = true;
      }
    }
    const ttlMs = Math.min(config.SESSION_CACHE_TTL * 1000, s.exp - now);
    if (ttlMs > 0 && (!cached || touched)) {
      await bounded('session cache fill', redisMs, redis.eval(SET_UNLESS_DROPPED, 2, cacheKey(tokenHash), tombstoneKey(tokenHash), JSON.stringify(s), String(Math.ceil(ttlMs)))).catch(() => undefined);
    }
    return s;
  }

  /** Drops every cached lookup of the user's sessions (logout-all, reset, role change, deletion). */
  async function invalidateUser(userId: string): Promise<void> {
    await dropCache(await repo.tokenHashesOf(db, userId));
  }

  return {
    invalidateUser,
    /** For callers that removed sessions themselves (the purge). */
    dropCached: dropCache,

    /** Starts a session: a fresh 256-bit token (never one the client offered), only its hash stored. */
    async create(dbOrTx: Db<DB>, userId: string, device: string): Promise<{ token: string; sessionId: string; maxAge: number }> {
      // a suspended account gets no session, whichever way it signs in
      if (await isSuspended(dbOrTx, userId)) throw new AppError('ACCOUNT_SUSPENDED');
      const token = newToken();
      const sessionId = uuidv7();
      const expiresAt = new Date(Date.now() + config.SESSION_TTL * 1000);
      await repo.insertSession(dbOrTx, { id: sessionId, userId, tokenHash: hashToken(token), device, expiresAt });
      return { token, sessionId, maxAge: config.SESSION_TTL };
    },

    lookup,

    /** The session the token is, if it is live now (not expired, idle or revoked). */
    async live(token: unknown): Promise<CachedSession | undefined> {
      try {
        return await lookup(token);
      } catch (err) {
        if (err instanceof AppError && err.code === 'AUTH_SESSION_INVALID') return undefined;
        throw err;
      }
    },

    /** The gateway's call: a session token in, a short-lived internal JWT for `audience` out. */
    async resolve(token: unknown, audience: string): Promise<ResolvedSession> {
      if (!INTERNAL_AUDIENCES.includes(audience)) {
        throw new AppError('VALIDATION_FAILED', { message: 'unknown audience' });
      }
      const s = await lookup(token);
      // A revocation that committed while this lookup read the session: its mark is set before
      // the cache is dropped, so either it is seen here or the token minted now is refused by services.
      // Redis stalled: Postgres (read by lookup then) has the revocation; only the race above is left open.
      const marked = await bounded('revocation mark', redisMs, redis.exists(revokedSessionKey(keyPrefix, s.sid))).catch(() => 0);
      if (marked) throw invalid();
      const expiresIn = Math.max(1, Math.min(config.INTERNAL_JWT_TTL, Math.floor((s.exp - Date.now()) / 1000)));
      // The account's locale travels in the token: services answer in it when no locale cookie came along.
      const locale = asLocale(s.locale);
      const jwt = await keys.sign({ sub: s.uid, sid: s.sid, roles: s.roles, aud: audience, ...(locale ? { locale } : {}) }, expiresIn);
      return { token: jwt, userId: s.uid, sessionId: s.sid, roles: s.roles, ...(locale ? { locale } : {}), expiresIn };
    },

    async revokeOne(userId: string, sessionId: string): Promise<boolean> {
      const revoked = await repo.revokeSessions(db, { userId, sessionId });
      await forget(revoked);
      return revoked.length > 0;
    },

    async revokeByToken(token: unknown): Promise<void> {
      if (!looksLikeToken(token)) return;
      await this.revokeByHash(hashToken(token));
    },

    /** Ends the session whose token hashes to `tokenHash` (kept instead of a token wherever one must wait). */
    async revokeByHash(tokenHash: string): Promise<void> {
      const revoked = await repo.revokeSessionByHash(db, tokenHash);
      await forget(revoked);
      await dropCache([tokenHash]);
    },

    /**
     * Revokes every session of a user inside `tx` (all but `keepSessionId` when given: the one
     * that made a change keeps going); call `afterCommit` once it committed.
     */
    async revokeAllIn(tx: Db<DB>, userId: string, keepSessionId?: string): Promise<() => Promise<void>> {
      const revoked = await repo.revokeSessions(tx, { userId, ...(keepSessionId ? { exceptSessionId: keepSessionId } : {}) });
      return async () => {
        await forget(revoked);
        // Every cached lookup of the account goes too (a race may have cached an ended one), except
        // when one session stays: its entries were dropped with the others' by forget.
        if (!keepSessionId) await invalidateUser(userId);
      };
    },

    async revokeAll(userId: string): Promise<void> {
      await forget(await repo.revokeSessions(db, { userId }));
      await invalidateUser(userId);
    },

    list(userId: string) {
      return repo.listLiveSessions(db, userId);
    },

    /** The session behind an internal token, if it is still live (auth's own check; services use the revocation mark). */
    findLive(sessionId: string) {
      return repo.findLiveSessionById(db, sessionId);
    },
  };
}

export type SessionService = ReturnType<typeof createSessionService>;
