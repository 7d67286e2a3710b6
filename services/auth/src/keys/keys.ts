import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, importJWK, jwtVerify, createLocalJWKSet, type JWK, type CryptoKey, type JWTPayload } from 'jose';
import { INTERNAL_JWT_ISSUER, serviceAudience, SERVICE_SUBJECT_PREFIX, SERVICE_TOKEN_TTL_SECONDS, type Locale, type Role } from '@imlab/contracts';
import type { Logger } from '@imlab/logger';

export const ALG = 'EdDSA';

export interface KeyRing {
  /** Public keys of every configured key (current first), as served at /.well-known/jwks.json. */
  jwks: { keys: JWK[] };
  sign(claims: { sub: string; sid: string; roles: Role[]; aud: string; locale?: Locale }, ttlSeconds: number): Promise<string>;
  /**
   * A service token for auth's calls to `service`'s /internal/* routes (`sub` service:auth, `aud`
   * internal:<service>), reused until 15 s before it expires.
   */
  serviceToken(service: string): Promise<string>;
  /** Verifies an internal token addressed to `audience` with the same pinned rules services use. */
  verify(token: string, audience: string): Promise<JWTPayload & { sid?: string; roles?: Role[]; locale?: unknown }>;
}

function publicPart(jwk: JWK): JWK {
  const { kty, crv, x, kid } = jwk;
  return { kty, crv, x, kid, alg: ALG, use: 'sig' };
}

export async function generateSigningJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair(ALG, { crv: 'Ed25519', extractable: true });
  return { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: ALG, use: 'sig' };
}

/** Builds the key ring from a list of JWKs: the first signs, all are published. */
export async function keyRingFrom(jwks: JWK[]): Promise<KeyRing> {
  const [current] = jwks;
  if (!current?.d || !current.kid) throw new Error('the current signing key must be a private JWK with a kid');
  const signingKey = (await importJWK({ ...current, alg: ALG }, ALG)) as CryptoKey;
  const published = { keys: jwks.map(publicPart) };
  const localSet = createLocalJWKSet(published);
  const serviceTokens = new Map<string, { token: string; renewAt: number }>();
  return {
    serviceToken: async (service) => {
      const cached = serviceTokens.get(service);
      if (cached && Date.now() < cached.renewAt) return cached.token;
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: ALG, kid: current.kid!, typ: 'JWT' })
        .setIssuer(INTERNAL_JWT_ISSUER)
        .setSubject(`${SERVICE_SUBJECT_PREFIX}auth`)
        .setAudience(serviceAudience(service))
        .setIssuedAt()
        .setExpirationTime(`${SERVICE_TOKEN_TTL_SECONDS}s`)
        .sign(signingKey);
      serviceTokens.set(service, { token, renewAt: Date.now() + (SERVICE_TOKEN_TTL_SECONDS - 15) * 1000 });
      return token;
    },
    jwks: published,
    sign: ({ sub, sid, roles, aud, locale }, ttl) =>
      new SignJWT({ sid, roles, ...(locale ? { locale } : {}) })
        .setProtectedHeader({ alg: ALG, kid: current.kid!, typ: 'JWT' })
        .setIssuer(INTERNAL_JWT_ISSUER)
        .setSubject(sub)
        .setAudience(aud)
        .setIssuedAt()
        .setExpirationTime(`${ttl}s`)
        .sign(signingKey),
    verify: async (token, audience) => {
      const { payload } = await jwtVerify(token, localSet, { algorithms: [ALG], issuer: INTERNAL_JWT_ISSUER, audience, maxTokenAge: '5m' });
      return payload as JWTPayload & { sid?: string; roles?: Role[]; locale?: unknown };
    },
  };
}

/**
 * Keys from AUTH_SIGNING_KEYS (JSON array, or `{keys: [...]}`; current first). In development
 * and tests, when unset, a key is generated once and kept in `keysFile` so restarts keep
 * tokens and caches of other services valid.
 */
export async function loadKeyRing(opts: { signingKeys: string; keysFile: string; nodeEnv: string; logger: Logger }): Promise<KeyRing> {
  if (opts.signingKeys) {
    const parsed = JSON.parse(opts.signingKeys) as JWK[] | { keys: JWK[] };
    return keyRingFrom(Array.isArray(parsed) ? parsed : parsed.keys);
  }
  if (opts.nodeEnv === 'production') throw new Error('AUTH_SIGNING_KEYS is required in production');
  try {
    const stored = JSON.parse(await readFile(opts.keysFile, 'utf8')) as { keys: JWK[] };
    return await keyRingFrom(stored.keys);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const jwk = await generateSigningJwk();
  await mkdir(dirname(opts.keysFile), { recursive: true });
  await writeFile(opts.keysFile, JSON.stringify({ keys: [jwk] }), { mode: 0o600, flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  // Another process may have won the race to create the file: use whatever is on disk.
  const stored = JSON.parse(await readFile(opts.keysFile, 'utf8')) as { keys: JWK[] };
  opts.logger.warn({ file: opts.keysFile }, 'generated a development signing key (set AUTH_SIGNING_KEYS in production)');
  return keyRingFrom(stored.keys);
}
