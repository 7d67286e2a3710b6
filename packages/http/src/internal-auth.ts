import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createLocalJWKSet, createRemoteJWKSet, errors, jwksCache, jwtVerify, type ExportedJWKSCache, type JWKSCacheInput, type JWTVerifyGetKey } from 'jose';
import { INTERNAL_JWT_ISSUER, revokedSessionKey, serviceAudience, SERVICE_SUBJECT_PREFIX, type InternalClaims, type Role } from '@imlab/contracts';
import { AppError } from './app-error.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Set by registerInternalAuth: the claims of a valid internal token for this service, or a throw. */
    verifyInternalToken(token: string): Promise<InternalClaims>;
    /** Set by registerInternalAuth: the calling service of a valid service token for this service's /internal/* routes, or a throw. */
    verifyServiceToken(token: string): Promise<{ caller: string }>;
  }
  interface FastifyRequest {
    /** The verified internal token's claims, set by `authenticate` (null before). */
    user: InternalClaims;
  }
}

export interface InternalAuthOptions {
  /** This service's name: the `aud` the token must carry. */
  audience: string;
  /** Auth's JWKS endpoint. */
  jwksUrl: string;
  /**
   * Where auth marks ended sessions (the shared Redis and queue prefix). With it, a token of a
   * session that was logged out, reset or deleted is refused within REVOCATION_CACHE_MS; without
   * it (tools, tests of other things), only when the token expires.
   */
  revocation?: RevocationSource;
}

/** What the revocation check needs of a Redis client (ioredis fits). */
export interface RevocationSource {
  redis: { get(key: string): Promise<string | null> };
  keyPrefix: string;
}

/** A session's revocation state is reused this long per process: the bound on how late a revocation reaches a service. */
export const REVOCATION_CACHE_MS = 1000;
/** A revocation read waits no longer than this; past it the last known state (or "not revoked") is used. */
const REVOCATION_READ_TIMEOUT_MS = 250;

/**
 * Per-session revocation state read from Redis, reused for REVOCATION_CACHE_MS (concurrent reads
 * of one session are one). When Redis does not answer in time the last state read is used, or
 * the token is accepted: it expires within 60 s anyway, and refusing every signed-in request
 * while Redis stalls would take the site down with it (fail open, logged).
 */
function revocationCheck(source: RevocationSource, onError: (err: unknown) => void): (sid: string) => Promise<boolean> {
  const known = new Map<string, { revoked: boolean; at: number }>();
  const pending = new Map<string, Promise<boolean>>();
  const read = async (sid: string): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const value = await Promise.race([
        source.redis.get(revokedSessionKey(source.keyPrefix, sid)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('revocation read timed out')), REVOCATION_READ_TIMEOUT_MS);
        }),
      ]);
      const revoked = value !== null;
      if (known.size > 100_000) known.clear();
      known.set(sid, { revoked, at: Date.now() });
      return revoked;
    } catch (err) {
      onError(err);
      return known.get(sid)?.revoked ?? false;
    } finally {
      clearTimeout(timer);
    }
  };
  return (sid) => {
    const hit = known.get(sid);
    // Once revoked, always revoked: no need to ask again.
    if (hit && (hit.revoked || Date.now() - hit.at < REVOCATION_CACHE_MS)) return Promise.resolve(hit.revoked);
    let p = pending.get(sid);
    if (!p) {
      p = read(sid).finally(() => pending.delete(sid));
      pending.set(sid, p);
    }
    return p;
  };
}

/** The only algorithm accepted; `none`, HS256 and the rest are refused before any key is looked up. */
export const INTERNAL_JWT_ALGORITHM = 'EdDSA';

/** Auth's keys are fetched again when the last fetch is older than this. */
const JWKS_MAX_AGE_MS = 5 * 60 * 1000;
/** A token is refused this long after its `iat`, whatever its `exp` says. */
const MAX_TOKEN_AGE_SECONDS = 5 * 60;

/**
 * Auth's public keys, fetched from its JWKS and kept for five minutes (concurrent fetches are
 * one). A kid not in the cached set is asked about again at once (no cooldown), so a key auth
 * starts signing with is learned by the first request carrying it. When the JWKS cannot be
 * fetched, the last keys fetched stay in use for five more minutes; a key auth stops publishing
 * is refused from the first successful fetch without it.
 */
function authKeys(jwksUrl: URL): JWTVerifyGetKey {
  const lastFetch: Partial<ExportedJWKSCache> = {}; // jose records every successful fetch here
  const remote = createRemoteJWKSet(jwksUrl, { cacheMaxAge: JWKS_MAX_AGE_MS, cooldownDuration: 0, [jwksCache]: lastFetch as JWKSCacheInput });
  let stale: { uat: number; keys: JWTVerifyGetKey } | undefined;
  return async (header, token) => {
    // Auth names its key in every token; a token without a kid is not one of its tokens.
    if (!header.kid) throw new errors.JWKSNoMatchingKey();
    try {
      return await remote(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
      // The JWKS could not be fetched (auth down, timeout, not a JWKS).
      if (!lastFetch.jwks || !lastFetch.uat || Date.now() - lastFetch.uat > 2 * JWKS_MAX_AGE_MS) throw err;
      if (stale?.uat !== lastFetch.uat) stale = { uat: lastFetch.uat, keys: createLocalJWKSet(lastFetch.jwks) };
      return stale.keys(header, token);
    }
  };
}

/**
 * Verifies the gateway-forwarded internal JWT against auth's JWKS (see authKeys for how keys are
 * kept and rotated): EdDSA only, `iss` imlab-auth, `aud` this service, not expired (no clock
 * tolerance) and issued at most five minutes ago. Adds `request.user` and what the
 * `authenticate`/`requireRole` hooks check with.
 */
export async function registerInternalAuth(app: FastifyInstance, opts: InternalAuthOptions): Promise<void> {
  const keys = authKeys(new URL(opts.jwksUrl));
  let lastRevocationError = 0;
  const isRevoked = opts.revocation
    ? revocationCheck(opts.revocation, (err) => {
        if (Date.now() - lastRevocationError < 10_000) return;
        lastRevocationError = Date.now();
        app.log.warn({ err }, 'session revocation state unavailable; accepting internal tokens by their signature alone');
      })
    : undefined;
  app.decorateRequest('user', null as unknown as InternalClaims);
  app.decorate('verifyInternalToken', async (token: string): Promise<InternalClaims> => {
    const { payload } = await jwtVerify<InternalClaims>(token, keys, {
      algorithms: [INTERNAL_JWT_ALGORITHM],
      issuer: INTERNAL_JWT_ISSUER,
      audience: opts.audience,
      requiredClaims: ['exp', 'iat'],
    });
    // Not jose's maxTokenAge: that also refuses an iat ahead of this host's clock, and auth's
    // clock may be a little ahead.
    if (Date.now() / 1000 - payload.iat! > MAX_TOKEN_AGE_SECONDS) {
      throw new errors.JWTExpired('"iat" claim timestamp check failed (too far in the past)', payload, 'iat', 'check_failed');
    }
    if (isRevoked && (typeof payload.sid !== 'string' || (await isRevoked(payload.sid)))) {
      throw new errors.JWTClaimValidationFailed('the session was ended', payload, 'sid', 'check_failed');
    }
    return payload;
  });
  app.decorate('verifyServiceToken', async (token: string): Promise<{ caller: string }> => {
    const { payload } = await jwtVerify(token, keys, {
      algorithms: [INTERNAL_JWT_ALGORITHM],
      issuer: INTERNAL_JWT_ISSUER,
      audience: serviceAudience(opts.audience),
      requiredClaims: ['exp', 'iat', 'sub'],
    });
    if (Date.now() / 1000 - payload.iat! > MAX_TOKEN_AGE_SECONDS) {
      throw new errors.JWTExpired('"iat" claim timestamp check failed (too far in the past)', payload, 'iat', 'check_failed');
    }
    if (!payload.sub!.startsWith(SERVICE_SUBJECT_PREFIX)) throw new errors.JWTClaimValidationFailed('not a service token', payload, 'sub', 'check_failed');
    return { caller: payload.sub!.slice(SERVICE_SUBJECT_PREFIX.length) };
  });
}

/** "Bearer <token>", the scheme in any case, one space, no other. */
const BEARER = /^Bearer ([^ ]+)$/i;

/** preHandler: a valid internal token is required. */
export async function authenticate(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
  const token = BEARER.exec(request.headers.authorization ?? '')?.[1];
  if (!token) throw new AppError('UNAUTHENTICATED');
  try {
    request.user = await request.server.verifyInternalToken(token);
  } catch (err) {
    throw new AppError('UNAUTHENTICATED', { cause: err });
  }
}

/** preHandler factory: a valid token carrying one of `roles`. */
export function requireRole(...roles: Role[]) {
  return async function checkRole(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    await authenticate(request, reply);
    if (!request.user.roles.some((r) => roles.includes(r))) {
      throw new AppError('FORBIDDEN', { message: `requires role ${roles.join(' or ')}` });
    }
  };
}

/** Header carrying the shared service-to-service token on `/internal/*` routes (never forwarded from clients). */
export const INTERNAL_TOKEN_HEADER = 'x-imlab-internal-token';

/**
 * preValidation factory for a service's `/internal/*` routes (auth → services, for the account
 * export): the caller presents a service token (INTERNAL_TOKEN_HEADER) that auth signed for this
 * service (`aud` internal:<this service>), short-lived, naming a caller in `callers`. There is no
 * shared secret: a leak of one service's configuration opens no other service's internal routes.
 */
export function requireServiceToken(...callers: string[]) {
  return async function checkServiceToken(request: FastifyRequest): Promise<void> {
    const given = request.headers[INTERNAL_TOKEN_HEADER];
    const token = typeof given === 'string' ? given : '';
    let caller: string | undefined;
    try {
      if (token) caller = (await request.server.verifyServiceToken(token)).caller;
    } catch (err) {
      throw new AppError('FORBIDDEN', { message: 'internal endpoint', cause: err });
    }
    if (!caller || !callers.includes(caller)) throw new AppError('FORBIDDEN', { message: 'internal endpoint' });
  };
}

/**
 * preHandler factory for auth's `/internal/sessions/resolve`, the gateway's one internal call: the
 * gateway presents INTERNAL_API_TOKEN, a secret only the gateway and auth hold (no other service
 * has it). Compared in constant time.
 */
export function requireInternalToken(expected: string) {
  const want = Buffer.from(expected);
  return async function checkInternalToken(request: FastifyRequest): Promise<void> {
    const given = request.headers[INTERNAL_TOKEN_HEADER];
    const got = Buffer.from(typeof given === 'string' ? given : '');
    if (got.length !== want.length || !timingSafeEqual(got, want)) {
      throw new AppError('FORBIDDEN', { message: 'internal endpoint' });
    }
  };
}
