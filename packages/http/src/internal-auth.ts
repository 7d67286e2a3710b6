import { createPublicKey, timingSafeEqual, type JsonWebKey } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyJwt from '@fastify/jwt';
import buildGetJwks from 'get-jwks';
import { INTERNAL_JWT_ISSUER, type InternalClaims, type Role } from '@imlab/contracts';
import { AppError } from './app-error.js';

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: InternalClaims;
    user: InternalClaims;
  }
}

export interface InternalAuthOptions {
  /** This service's name: the `aud` the token must carry. */
  audience: string;
  /** Auth's JWKS endpoint. */
  jwksUrl: string;
}

/** The only algorithm accepted; `none`, HS256 and the rest are refused before any key is looked up. */
export const INTERNAL_JWT_ALGORITHM = 'EdDSA';

/**
 * Verifies the gateway-forwarded internal JWT against auth's JWKS (keys cached, refetched on an
 * unknown kid so rotation works). Adds `request.user` and the `authenticate`/`requireRole` hooks.
 */
export async function registerInternalAuth(app: FastifyInstance, opts: InternalAuthOptions): Promise<void> {
  const jwksUrl = new URL(opts.jwksUrl);
  const getJwks = buildGetJwks({
    max: 100,
    ttl: 5 * 60 * 1000,
    providerDiscovery: false,
    jwksPath: jwksUrl.pathname,
    issuersWhitelist: [jwksUrl.origin],
  } as Parameters<typeof buildGetJwks>[0]);

  await app.register(fastifyJwt, {
    decode: { complete: true },
    secret: async (_request: FastifyRequest, token: unknown) => {
      const { header } = token as { header: { kid?: string; alg?: string } };
      if (header.alg !== INTERNAL_JWT_ALGORITHM) throw new Error('unexpected token algorithm');
      // get-jwks' own PEM conversion (jwk-to-pem) knows no OKP keys, so Ed25519 goes through node:crypto.
      const jwk = await getJwks.getJwk({ kid: header.kid ?? '', alg: header.alg, domain: jwksUrl.origin });
      return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    },
    verify: { algorithms: [INTERNAL_JWT_ALGORITHM], allowedAud: opts.audience, allowedIss: INTERNAL_JWT_ISSUER, maxAge: '5m' },
  } as never);
}

/** preHandler: a valid internal token is required. */
export async function authenticate(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
  if (!request.headers.authorization) throw new AppError('UNAUTHENTICATED');
  try {
    await request.jwtVerify();
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
 * preHandler factory for `/internal/*` routes (gateway → auth session resolution, auth → services
 * for exports): the caller must present INTERNAL_API_TOKEN. Compared in constant time.
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
