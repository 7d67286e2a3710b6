import type { Locale } from './messages/common.js';

/** `moderator` reviews reported gallery images (admin may too). */
export const ROLES = ['user', 'admin', 'finance', 'ops', 'moderator'] as const;
export type Role = (typeof ROLES)[number];

/** Claims of the ~60 s internal JWT that auth signs and every service verifies. */
export interface InternalClaims {
  sub: string;
  sid: string;
  roles: Role[];
  /** The account's language; services answer problems and texts in it when no `locale` cookie says otherwise. */
  locale?: Locale;
}
export const INTERNAL_JWT_ISSUER = 'imlab-auth';

/**
 * Service tokens: auth's calls to another service's `/internal/*` routes (the account export)
 * carry a short-lived token auth signs with its own key, `sub` `service:auth`, `aud`
 * `internal:<service>` — an audience no session ever resolves to, so a person's token never opens
 * an internal route and a service token never opens a person's.
 */
export const serviceAudience = (service: string): string => `internal:${service}`;
export const SERVICE_SUBJECT_PREFIX = 'service:';
/** How long a service token lives; callers reuse one until shortly before it expires. */
export const SERVICE_TOKEN_TTL_SECONDS = 60;

/**
 * Redis key auth sets (value `1`) when it ends a session — logout, logout-all, password reset,
 * deletion, a device signed out, a Google sign-in replacing a session — for
 * REVOKED_SESSION_TTL_MS, longer than any internal token lives (services refuse one 5 min after
 * its `iat`). Services refuse a token whose `sid` is marked (registerInternalAuth's revocation
 * check), so a revocation reaches them within their cache bound instead of the token's 60 s.
 * `prefix` is the queue prefix every service shares (hash-tagged).
 */
export const revokedSessionKey = (prefix: string, sid: string): string => `${prefix}auth:session-revoked:${sid}`;
export const REVOKED_SESSION_TTL_MS = 10 * 60 * 1000;

/**
 * Redis key auth sets (value `1`, no expiry) while an admin keeps an account suspended; services
 * refuse creating, publishing and buying for a token whose `sub` is marked (a token minted just
 * before the suspension; the suspension itself ended every session). Postgres (`users.suspended_at`)
 * is the truth; the mark is removed on unsuspension and on purge.
 */
export const suspendedUserKey = (prefix: string, userId: string): string => `${prefix}auth:user-suspended:${userId}`;

/**
 * Redis pub/sub channel on which auth announces a user id whose sessions all ended (suspension):
 * every gateway drops its in-process reuse of that person's sessions at once.
 */
export const sessionsEndedChannel = (prefix: string): string => `${prefix}auth:sessions-ended`;
