import type { FastifyReply, FastifyRequest } from 'fastify';
import { INTERNAL_HEADERS, type Role } from '@imlab/contracts';
import { AppError, rememberAccountLocale } from '@imlab/http';
import type { KeyRing } from '../keys/keys.js';
import type { SessionService } from '../sessions/sessions.service.js';

export interface Caller {
  userId: string;
  sessionId: string;
  roles: Role[];
  /** When this session signed in (password or Google): DELETE /me accepts a recent one. */
  authenticatedAt: Date;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}

const unauthenticated = () => new AppError('UNAUTHENTICATED');

/**
 * preHandler for /v1/me*: the gateway's internal JWT (EdDSA only, iss imlab-auth, aud auth),
 * verified against auth's own key ring, and its session still live — so a revoked session stops
 * working here at once, not when its 60 s token expires.
 */
export function requireCaller(keys: KeyRing, sessions: SessionService) {
  return async function authenticateCaller(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const header = request.headers.authorization;
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) throw unauthenticated();
    let claims;
    try {
      claims = await keys.verify(header.slice(7), 'auth');
    } catch {
      throw unauthenticated();
    }
    if (typeof claims.sub !== 'string' || typeof claims.sid !== 'string') throw unauthenticated();
    const session = await sessions.findLive(claims.sid);
    if (!session || session.user_id !== claims.sub) throw unauthenticated();
    request.caller = { userId: claims.sub, sessionId: claims.sid, roles: claims.roles ?? [], authenticatedAt: session.authenticated_at };
    rememberAccountLocale(request, claims.locale);
  };
}

export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw unauthenticated();
  return request.caller;
}

/** The gateway's HMAC of the client IP; anything not shaped like one is ignored. */
export function ipHashOf(request: FastifyRequest): string | undefined {
  const v = request.headers[INTERNAL_HEADERS.ipHash];
  return typeof v === 'string' && /^[0-9a-f]{64}$/.test(v) ? v : undefined;
}
