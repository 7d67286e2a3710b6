import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';

/**
 * Stands in for auth's JWKS in other services' tests: a real Ed25519 key, served over real HTTP,
 * signing real internal tokens (and wrong ones, for the attack tests).
 */
export async function startTestIssuer(): Promise<{
  jwksUrl: string;
  sign: (claims: { sub: string; roles?: string[]; sid?: string; aud: string; expiresIn?: string; iss?: string; locale?: string }) => Promise<string>;
  /** A service token as auth signs it for `service`'s /internal/* routes (`caller` and `aud` overridable for the attack tests). */
  signService: (service: string, opts?: { caller?: string; aud?: string; expiresIn?: string }) => Promise<string>;
  close: () => Promise<void>;
}> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const kid = randomUUID();
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
  const server: Server = createServer((req, res) => {
    if (req.url === '/.well-known/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    sign: (c) =>
      new SignJWT({ roles: c.roles ?? ['user'], sid: c.sid ?? randomUUID(), ...(c.locale ? { locale: c.locale } : {}) })
        .setProtectedHeader({ alg: 'EdDSA', kid })
        .setSubject(c.sub)
        .setAudience(c.aud)
        .setIssuer(c.iss ?? 'imlab-auth')
        .setIssuedAt()
        .setExpirationTime(c.expiresIn ?? '60s')
        .sign(privateKey),
    signService: (service, o = {}) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'EdDSA', kid })
        .setSubject(`service:${o.caller ?? 'auth'}`)
        .setAudience(o.aud ?? `internal:${service}`)
        .setIssuer('imlab-auth')
        .setIssuedAt()
        .setExpirationTime(o.expiresIn ?? '60s')
        .sign(privateKey),
    close: () => new Promise((r) => server.close(() => r())),
  };
}
