import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

/** The person who "signs in at Google" in a test. */
export interface FakeOidcUser {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  /** Google Workspace domain: Google is authoritative for the address (as for @gmail.com). */
  hd?: string;
}

/** Ways to make the issued id_token wrong, for attack tests. */
export interface IdTokenTamper {
  iss?: string;
  aud?: string;
  nonce?: string;
  /** seconds until expiry; negative issues an already expired token */
  expiresIn?: number;
  /** sign with a key that is not in the JWKS */
  foreignKey?: boolean;
}

interface PendingCode {
  clientId: string;
  redirectUri: string;
  codeChallenge: string | undefined;
  nonce: string | undefined;
  user: FakeOidcUser;
  tamper: IdTokenTamper;
  used: boolean;
}

export interface FakeOidcIssuer {
  /** The issuer identifier and base URL (discovery at /.well-known/openid-configuration). */
  issuer: string;
  /**
   * Plays the browser at the authorization endpoint: validates the request like a real provider
   * and returns the URL it would redirect to (`redirect_uri?code=…&state=…`).
   */
  approve(authorizationUrl: string, user: FakeOidcUser, tamper?: IdTokenTamper): string;
  /**
   * For a real browser: the account the person picks in the provider's account chooser. A browser
   * that GETs the authorization endpoint is sent straight back (302) as `approve` would send it;
   * with no account chosen (the default) the endpoint answers 404. Answers the URLs it was asked.
   */
  chooseAccount(user: FakeOidcUser | undefined): string[];
  /** Successful and refused token requests seen, for assertions. */
  tokenRequests: { ok: number; refused: number };
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A local OpenID Connect provider speaking the real wire format: discovery, JWKS, an
 * authorization step (approve) and a token endpoint that checks client credentials, the
 * redirect URI, PKCE (S256) and single-use codes, and returns an RS256 id_token signed with a
 * key published in its JWKS.
 */
export async function startFakeOidcIssuer(opts: { clientId: string; clientSecret: string }): Promise<FakeOidcIssuer> {
  const keys = await generateKeyPair('RS256', { extractable: true });
  const foreign = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  const jwk: JWK = { ...(await exportJWK(keys.publicKey)), kid, alg: 'RS256', use: 'sig' };
  const codes = new Map<string, PendingCode>();
  const stats = { ok: 0, refused: 0 };
  let issuer = '';
  let chosen: FakeOidcUser | undefined;
  const asked: string[] = [];

  const refuse = (res: ServerResponse, error: string) => {
    stats.refused += 1;
    res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error }));
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', issuer);
      if (req.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            issuer,
            authorization_endpoint: `${issuer}/authorize`,
            token_endpoint: `${issuer}/token`,
            jwks_uri: `${issuer}/jwks`,
            response_types_supported: ['code'],
            subject_types_supported: ['public'],
            id_token_signing_alg_values_supported: ['RS256'],
            code_challenge_methods_supported: ['S256'],
            token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
            scopes_supported: ['openid', 'email', 'profile'],
          }),
        );
        return;
      }
      if (req.method === 'GET' && url.pathname === '/authorize' && chosen) {
        asked.push(url.toString());
        let location: string;
        try {
          location = fake.approve(url.toString(), chosen);
        } catch (err) {
          res.writeHead(400, { 'content-type': 'text/plain' }).end((err as Error).message);
          return;
        }
        res.writeHead(302, { location, 'cache-control': 'no-store' }).end();
        return;
      }
      if (req.method === 'GET' && url.pathname === '/jwks') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
        return;
      }
      if (req.method === 'POST' && url.pathname === '/token') {
        const form = new URLSearchParams(await readBody(req));
        let clientId = form.get('client_id');
        let clientSecret = form.get('client_secret');
        const basic = req.headers.authorization;
        if (basic?.startsWith('Basic ')) {
          const [id, secret] = Buffer.from(basic.slice(6), 'base64').toString('utf8').split(':');
          clientId = decodeURIComponent(id ?? '');
          clientSecret = decodeURIComponent(secret ?? '');
        }
        if (clientId !== opts.clientId || clientSecret !== opts.clientSecret) return refuse(res, 'invalid_client');
        if (form.get('grant_type') !== 'authorization_code') return refuse(res, 'unsupported_grant_type');
        const code = codes.get(form.get('code') ?? '');
        if (!code || code.used) return refuse(res, 'invalid_grant');
        code.used = true; // single use, even when the rest of this request fails
        if (code.clientId !== clientId || code.redirectUri !== form.get('redirect_uri')) return refuse(res, 'invalid_grant');
        const verifier = form.get('code_verifier');
        if (code.codeChallenge) {
          const challenge = verifier ? createHash('sha256').update(verifier).digest('base64url') : '';
          if (challenge !== code.codeChallenge) return refuse(res, 'invalid_grant');
        }
        const t = code.tamper;
        const now = Math.floor(Date.now() / 1000);
        const claims: Record<string, unknown> = { ...code.user, azp: opts.clientId };
        const nonce = t.nonce ?? code.nonce;
        if (nonce !== undefined) claims.nonce = nonce;
        const idToken = await new SignJWT(claims)
          .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
          .setIssuer(t.iss ?? issuer)
          .setAudience(t.aud ?? opts.clientId)
          .setIssuedAt(now - (t.expiresIn !== undefined && t.expiresIn < 0 ? 3600 : 0))
          .setExpirationTime(now + (t.expiresIn ?? 3600))
          .sign((t.foreignKey ? foreign.privateKey : keys.privateKey) as CryptoKey);
        stats.ok += 1;
        res
          .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
          .end(JSON.stringify({ access_token: randomBytes(24).toString('base64url'), token_type: 'Bearer', expires_in: 3600, scope: 'openid email profile', id_token: idToken }));
        return;
      }
      res.writeHead(404).end();
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

  const fake: FakeOidcIssuer = {
    issuer,
    tokenRequests: stats,
    chooseAccount(user) {
      chosen = user;
      return asked;
    },
    approve(authorizationUrl, user, tamper = {}) {
      const u = new URL(authorizationUrl);
      if (`${u.origin}${u.pathname}` !== `${issuer}/authorize`) throw new Error(`not this issuer's authorization endpoint: ${u.origin}${u.pathname}`);
      const p = u.searchParams;
      if (p.get('response_type') !== 'code') throw new Error('response_type must be code');
      if (p.get('client_id') !== opts.clientId) throw new Error('unknown client_id');
      const redirectUri = p.get('redirect_uri');
      if (!redirectUri) throw new Error('redirect_uri missing');
      if (!(p.get('scope') ?? '').split(' ').includes('openid')) throw new Error('scope must include openid');
      if (p.get('code_challenge') && p.get('code_challenge_method') !== 'S256') throw new Error('only S256 PKCE');
      const code = randomBytes(24).toString('base64url');
      codes.set(code, {
        clientId: opts.clientId,
        redirectUri,
        codeChallenge: p.get('code_challenge') ?? undefined,
        nonce: p.get('nonce') ?? undefined,
        user,
        tamper,
        used: false,
      });
      const back = new URL(redirectUri);
      back.searchParams.set('code', code);
      const state = p.get('state');
      if (state !== null) back.searchParams.set('state', state);
      return back.toString();
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  return fake;
}
