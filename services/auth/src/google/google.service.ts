import { v7 as uuidv7 } from 'uuid';
import * as oidc from 'openid-client';
import { AppError } from '@imlab/http';
import type { ErrorCode } from '@imlab/contracts';
import type { AuthDeps } from '../deps.js';
import { sealEmail, sendEmail } from '../accounts/emails.js';
import type { SessionService } from '../sessions/sessions.service.js';
import type { AccountService } from '../accounts/accounts.service.js';
import * as repo from '../accounts/accounts.repository.js';
import { NO_DISPLAY_NAME, normaliseEmail } from '../lib/email.js';
import { hashToken, looksLikeToken, newToken } from '../lib/tokens.js';
import { linkIntentKey } from '../settings/settings.service.js';

interface PendingLogin {
  state: string;
  nonce: string;
  verifier: string;
  returnTo: string;
  /** hash of the session cookie the browser had before, ended when the new session starts */
  previous?: string;
  locale: 'en' | 'zh';
  /** Linking, not signing in: the account of the session that asked (POST /v1/me/google/link). */
  linkUserId?: string;
}

/** Codes the callback redirects with (`/sign-in?error=…`); the page shows a message for each. */
/**
 * Google vouches for an address it hosts: @gmail.com (and @googlemail.com), or a Workspace domain
 * (the `hd` claim). For other addresses `email_verified` only says it was verified once.
 */
function googleIsAuthoritative(email: string, hd: unknown): boolean {
  return /@(gmail|googlemail)\.com$/i.test(email) || (typeof hd === 'string' && hd.length > 0 && email.toLowerCase().endsWith(`@${hd.toLowerCase()}`));
}

export type GoogleErrorCode =
  | 'oauth_state'
  | 'oauth_failed'
  | 'email_unverified'
  | 'account_conflict'
  | 'account_disabled'
  | 'oauth_unavailable'
  | 'link_requires_password'
  | 'google_account_mismatch'
  | 'google_in_use'
  | 'link_expired'
  | 'deletion_scheduled'
  | 'google_already_linked';

/** The registered problem whose message (en, zh) the sign-in page shows for a redirect reason that has one. */
export const GOOGLE_REFUSAL_PROBLEMS: Partial<Record<GoogleErrorCode, ErrorCode>> = { google_account_mismatch: 'AUTH_GOOGLE_ACCOUNT_MISMATCH', google_already_linked: 'AUTH_GOOGLE_ALREADY_LINKED' };

/** At most one "Google sign-in refused" mail per account per this long, however often it is tried. */
const MISMATCH_MAIL_COOLDOWN_SECONDS = 3600;

export class GoogleSignInError extends Error {
  readonly code: GoogleErrorCode;
  /** link: the refusal ends a link flow (back to the settings); restore: the account is in its grace period. */
  readonly extra: { link?: boolean; restore?: { token: string; purgeAfter: string } };
  constructor(code: GoogleErrorCode, message: string, options?: { cause?: unknown }, extra: { link?: boolean; restore?: { token: string; purgeAfter: string } } = {}) {
    super(message, options);
    this.code = code;
    this.extra = extra;
  }
}

/** Only same-site relative paths: `/x`, never `//evil`, `/\evil`, `https://evil` or control characters. */
export function safeReturnTo(value: unknown): string {
  if (typeof value !== 'string' || value.length > 512) return '/';
  if (!/^\/(?![/\\])[\x21-\x7e]*$/.test(value) || value.includes('\\')) return '/';
  return value;
}

/**
 * Google sign-in (OIDC code flow with state, nonce and PKCE). The flow is bound to the browser
 * without a third cookie, by the `imlab_sid` it has: a short-lived server-side record holding
 * state, nonce and verifier is keyed by a hash of the cookie and the state, the callback must
 * come back with both, and the record is single use (one per sign-in started, so two tabs do not
 * undo each other, and knowing the cookie alone cannot consume a pending sign-in). A signed-in
 * browser keeps its session cookie through the flow (a link from another site, or an abandoned
 * sign-in, cannot log anyone out); any other browser gets `imlab_sid` set to a value that is no
 * session — the one it had, or a fresh one — for as long as a sign-in may take. A successful
 * sign-in ends the session the browser had.
 */
export function createGoogleService(deps: AuthDeps, sessions: SessionService, accounts: AccountService) {
  const { config, redis, keyPrefix, db, bus, logger } = deps;
  // Its own hash input: the key of a signed-in browser's record is not the session's stored hash.
  const pendingKey = (cookie: string, state: string) => `${keyPrefix}auth:oauth:${hashToken(`oauth-pending:${cookie}:${state}`)}`;
  const redirectUri = new URL('/v1/auth/google/callback', config.PUBLIC_BASE_URL).toString();
  let configuration: Promise<oidc.Configuration> | undefined;

  function client(): Promise<oidc.Configuration> {
    configuration ??= (async () => {
      const issuer = new URL(config.GOOGLE_ISSUER);
      // Plain http only for a local fake issuer outside production.
      const insecure = issuer.protocol === 'http:' && config.NODE_ENV !== 'production';
      const c = await oidc.discovery(issuer, config.GOOGLE_CLIENT_ID, config.GOOGLE_CLIENT_SECRET, undefined, insecure ? { execute: [oidc.allowInsecureRequests] } : undefined);
      // Verify the id_token's signature against the issuer's JWKS even though it came over TLS.
      oidc.enableNonRepudiationChecks(c);
      return c;
    })().catch((err: unknown) => {
      configuration = undefined;
      throw err;
    });
    return configuration;
  }

  return {
    enabled: config.GOOGLE_CLIENT_ID !== '' && config.GOOGLE_CLIENT_SECRET !== '',
    redirectUri,

    /**
     * `cookie`, when returned, is (re)set as `imlab_sid` for OAUTH_STATE_TTL: the browser had no live
     * session, or one whose cookie could expire before the sign-in comes back. `signedIn` without a url: a signed-in browser sent here by another site (Fetch
     * Metadata says cross-site) is not taken through Google, where an account chooser that
     * remembers a Google account could silently switch them to another account.
     */
    async start(input: { returnTo: unknown; currentCookie?: string; crossSite: boolean; locale: 'en' | 'zh'; intent?: 'link' }): Promise<{ cookie?: string; url?: string }> {
      const current = looksLikeToken(input.currentCookie) ? input.currentCookie : undefined;
      const session = current === undefined ? undefined : await sessions.live(current);
      const live = session !== undefined;
      if (live && input.crossSite) return {};
      // Linking needs the intent this session set through the API (reauthenticated, CSRF-checked):
      // a bare link to ?intent=link from anywhere links nothing.
      let linkUserId: string | undefined;
      if (input.intent === 'link') {
        const intended = live ? await redis.getdel(linkIntentKey(keyPrefix, session.sid)) : null;
        if (!intended || intended !== session?.uid) throw new GoogleSignInError('link_expired', 'no link intent for this session');
        linkUserId = intended;
      }
      // The cookie must outlast the sign-in: one about to expire is set again (the same value; the
      // server still ends the session at its own expiry).
      const lastsThrough = live && session.exp - Date.now() > config.OAUTH_STATE_TTL * 1000;
      let c: oidc.Configuration;
      try {
        c = await client();
      } catch (err) {
        // Google's discovery document could not be read: the browser goes back to the page it came
        // from with the reason (a navigation shown a JSON problem would strand the person).
        throw new GoogleSignInError('oauth_unavailable', 'Google\'s configuration could not be read', { cause: err }, { link: linkUserId !== undefined });
      }
      const cookie = current ?? newToken();
      const pending: PendingLogin = {
        state: oidc.randomState(),
        nonce: oidc.randomNonce(),
        verifier: oidc.randomPKCECodeVerifier(),
        returnTo: safeReturnTo(input.returnTo),
        locale: input.locale,
        // Only the hash waits in Redis: the cookie itself is a live credential for up to SESSION_TTL.
        ...(current && !linkUserId ? { previous: hashToken(current) } : {}),
        ...(linkUserId ? { linkUserId } : {}),
      };
      await redis.set(pendingKey(cookie, pending.state), JSON.stringify(pending), 'EX', Math.ceil(config.OAUTH_STATE_TTL));
      const url = oidc.buildAuthorizationUrl(c, {
        redirect_uri: redirectUri,
        scope: 'openid email profile',
        state: pending.state,
        nonce: pending.nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(pending.verifier),
        code_challenge_method: 'S256',
      });
      return { ...(lastsThrough ? {} : { cookie }), url: url.toString() };
    },

    async callback(input: { cookie: unknown; query: Record<string, string>; device: string; ipHash?: string }): Promise<{ token?: string; maxAge?: number; returnTo: string; linked?: boolean }> {
      if (!looksLikeToken(input.cookie)) throw new GoogleSignInError('oauth_state', 'callback without a pending sign-in in this browser');
      if (typeof input.query.state !== 'string' || input.query.state === '') throw new GoogleSignInError('oauth_state', 'callback without state');
      const raw = await redis.getdel(pendingKey(input.cookie, input.query.state));
      if (!raw) throw new GoogleSignInError('oauth_state', 'no pending sign-in for this browser (expired, used, or never started)');
      const pending = JSON.parse(raw) as PendingLogin;
      const during = { link: pending.linkUserId !== undefined };
      if (typeof input.query.state !== 'string' || input.query.state !== pending.state) throw new GoogleSignInError('oauth_state', 'state does not match this browser', undefined, during);
      if (input.query.error) throw new GoogleSignInError('oauth_failed', 'the provider returned an error', undefined, during);

      let claims: oidc.IDToken;
      try {
        const c = await client();
        const current = new URL(redirectUri);
        for (const [k, v] of Object.entries(input.query)) current.searchParams.set(k, v);
        const tokens = await oidc.authorizationCodeGrant(c, current, { pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce });
        const idClaims = tokens.claims();
        if (!idClaims) throw new Error('no id_token');
        claims = idClaims;
      } catch (err) {
        throw new GoogleSignInError('oauth_failed', 'the authorization code or id_token was rejected', { cause: err }, during);
      }

      if (pending.linkUserId) {
        try {
          await linkIdentity(pending.linkUserId, claims);
        } catch (err) {
          if (err instanceof GoogleSignInError) throw new GoogleSignInError(err.code, err.message, { cause: err.cause }, { link: true });
          throw err;
        }
        return { returnTo: pending.returnTo, linked: true };
      }
      const userId = await signInWithClaims(claims, pending.locale, input.ipHash);
      if (pending.previous) await sessions.revokeByHash(pending.previous);
      // suspended by an admin: refused like a disabled account (the sign-in page says so)
      const { token, maxAge } = await sessions.create(db, userId, input.device).catch((err: unknown) => {
        throw err instanceof AppError && err.code === 'ACCOUNT_SUSPENDED' ? new GoogleSignInError('account_disabled', 'account is suspended') : err;
      });
      return { token, maxAge, returnTo: pending.returnTo };
    },
  };

  /**
   * Links the Google account the browser came back with to the signed-in account that asked. Its
   * address does not matter (sign-in is by issuer + subject); a Google account already linked to
   * any account is refused, and so is a second one.
   */
  async function linkIdentity(userId: string, claims: oidc.IDToken): Promise<void> {
    await db.transaction().execute(async (tx) => {
      const user = await repo.lockUser(tx, userId);
      if (!user || user.status !== 'active') throw new GoogleSignInError('account_disabled', 'the account is not active');
      const known = await repo.findIdentity(tx, claims.iss, claims.sub);
      if (known && known.userId !== userId) throw new GoogleSignInError('google_in_use', 'this Google account is linked to another account');
      if (known) return;
      if ((await repo.listIdentities(tx, userId)).length > 0) throw new GoogleSignInError('google_already_linked', 'the account already has a Google account linked');
      await repo.insertIdentity(tx, { issuer: claims.iss, subject: claims.sub, userId });
      await sendEmail(config, bus, tx, { template: 'google-linked', user, data: { displayName: user.display_name, linkedAt: new Date().toISOString() }, idempotencyKey: `google-linked:${uuidv7()}` });
    });
    logger.info({ userId }, 'google account linked');
  }

  /**
   * Account keyed by issuer + subject. Linking by email only when Google says the address is
   * verified; an existing account whose owner never verified it loses its password and sessions
   * first, so whoever pre-registered the address gets nothing (pre-hijacking).
   */
  async function signInWithClaims(claims: oidc.IDToken, locale: 'en' | 'zh', ipHash: string | undefined): Promise<string> {
    const issuer = claims.iss;
    const subject = claims.sub;
    const result = await db.transaction().execute(async (tx) => {
      const known = await repo.findIdentity(tx, issuer, subject);
      if (known) {
        const user = await repo.findUserById(tx, known.userId);
        if (user && accounts.inGracePeriod(user)) {
          // Proven by Google like a password sign-in: the person may keep the account.
          const { details } = await accounts.deletionScheduled(user);
          throw new GoogleSignInError('deletion_scheduled', 'account is scheduled for deletion', undefined, { restore: { token: String(details?.restoreToken), purgeAfter: String(details?.purgeAfter) } });
        }
        if (!user || user.status !== 'active') throw new GoogleSignInError('account_disabled', 'account is scheduled for deletion');
        return { userId: user.id, afterCommit: undefined };
      }
      const rawEmail = typeof claims.email === 'string' ? claims.email : undefined;
      if (!rawEmail) throw new GoogleSignInError('oauth_failed', 'the id_token carries no email');
      const email = normaliseEmail(rawEmail);
      // An address Google has not verified is refused whether or not we know it: answering
      // differently for a known address would tell its holder that an account exists.
      if (claims.email_verified !== true) throw new GoogleSignInError('email_unverified', 'Google has not verified this address');
      const existing = await repo.findUserByEmail(tx, email);
      if (existing && !googleIsAuthoritative(email, claims.hd)) {
        // Google verified this address once, but does not host it: whoever holds that Google account
        // today need not own the inbox. No linking to an account on it; sign in with its password.
        throw new GoogleSignInError('link_requires_password', 'Google is not authoritative for this address; sign in with your password');
      }
      if (existing) {
        const user = await repo.lockUser(tx, existing.id);
        if (!user || user.status !== 'active') throw new GoogleSignInError('account_disabled', 'account is scheduled for deletion');
        // One Google subject per account: another Google account claiming the same address (a
        // recycled Workspace address, a re-created account) is refused, and the owner is told.
        if ((await repo.listIdentities(tx, user.id)).some((i) => i.issuer === issuer && i.subject !== subject)) {
          const mail = await redis.set(`${keyPrefix}auth:cooldown:google-refused:${user.id}`, '1', 'EX', MISMATCH_MAIL_COOLDOWN_SECONDS, 'NX').catch(() => 'OK');
          if (mail === 'OK') {
            await sendEmail(config, bus, tx, {
              template: 'google-sign-in-refused',
              user,
              data: { displayName: user.display_name, attemptedAt: new Date().toISOString() },
              idempotencyKey: `google-sign-in-refused:${uuidv7()}`,
            });
          }
          return { userId: user.id, afterCommit: undefined, refused: true };
        }
        let afterCommit: (() => Promise<void>) | undefined;
        if (!user.email_verified_at) {
          await repo.setPasswordHash(tx, user.id, null);
          await repo.voidEmailTokens(tx, user.id, 'verify');
          await repo.voidEmailTokens(tx, user.id, 'reset');
          afterCommit = await sessions.revokeAllIn(tx, user.id);
          await repo.markEmailVerified(tx, user.id);
          await bus.send(tx, 'user.verified', { userId: user.id, ...(ipHash ? { ipHash } : {}) });
          await accounts.grantSignupBonus(tx, user.id, ipHash);
        }
        await repo.insertIdentity(tx, { issuer, subject, userId: user.id });
        return { userId: user.id, afterCommit };
      }
      const created = await repo.insertUserIfNew(tx, {
        id: uuidv7(),
        email,
        passwordHash: null,
        // Not Google's name claim either: the person chooses what the public gallery shows.
        displayName: NO_DISPLAY_NAME,
        locale,
        signupIpHash: ipHash ?? null,
        verified: true,
      });
      if (!created) throw new GoogleSignInError('account_conflict', 'the address was taken concurrently');
      await repo.insertIdentity(tx, { issuer, subject, userId: created.id });
      await bus.send(tx, 'user.registered', { userId: created.id, email: sealEmail(config, email), locale: created.locale, displayName: created.display_name });
      await bus.send(tx, 'user.verified', { userId: created.id, ...(ipHash ? { ipHash } : {}) });
      await accounts.grantSignupBonus(tx, created.id, ipHash);
      return { userId: created.id, afterCommit: undefined };
    });
    if ('refused' in result) throw new GoogleSignInError('google_account_mismatch', 'the account is linked to another Google subject');
    if (result.afterCommit) await result.afterCommit();
    logger.debug({ userId: result.userId }, 'google sign-in');
    return result.userId;
  }
}

export type GoogleService = ReturnType<typeof createGoogleService>;
