import { v7 as uuidv7 } from 'uuid';
import { AppError } from '@imlab/http';
import type { Transaction } from '@imlab/db';
import type { AuthDeps } from '../deps.js';
import type { DB } from '../db.js';
import type { SessionService } from '../sessions/sessions.service.js';
import { checkPasswordPolicy, hashPassword, verifyPassword } from '../lib/passwords.js';
import { hashToken, looksLikeToken, newToken } from '../lib/tokens.js';
import { NO_DISPLAY_NAME, checkDisplayName, cleanDisplayName, normaliseEmail } from '../lib/email.js';
import { createBackoff } from './backoff.js';
import { failClosed } from '../lib/bounded.js';
import { sealEmail, sealedLink, sendEmail } from './emails.js';
import * as repo from './accounts.repository.js';
import type { UserRow } from './accounts.repository.js';

const invalidCredentials = () => new AppError('AUTH_INVALID_CREDENTIALS');
const invalidToken = () => new AppError('AUTH_INVALID_TOKEN');

export function createAccountService(deps: AuthDeps, sessions: SessionService) {
  const { config, db, bus, redis, keyPrefix, background, logger } = deps;
  const backoff = createBackoff(redis, keyPrefix, config);

  /**
   * A single-use link: earlier links of the same purpose stop working, only the token's hash is
   * stored, and the mail carrying it is queued in the same transaction.
   */
  async function issueLinkEmail(
    tx: Transaction<DB>,
    user: UserRow,
    link: { purpose: 'verify' | 'reset'; ttlSeconds: number; template: 'verify-email' | 'password-reset'; path: string; data?: Record<string, number> },
    /** The 24-hour budget this mail counts against (see capPassed); null: not capped. */
    cap: string | null,
  ): Promise<void> {
    if (cap !== null && !(await capPassed(cap))) {
      logger.warn({ userId: user.id, template: link.template }, 'daily cap of link mails reached; not sent');
      return;
    }
    const token = newToken();
    const id = uuidv7();
    await repo.voidEmailTokens(tx, user.id, link.purpose);
    await repo.insertEmailToken(tx, { id, userId: user.id, purpose: link.purpose, tokenHash: hashToken(token), expiresAt: new Date(Date.now() + link.ttlSeconds * 1000) });
    await sendEmail(config, bus, tx, {
      template: link.template,
      user,
      // The name is chosen by whoever signed up: until the inbox owner confirmed the account, it is
      // not put in a mail to that inbox (someone else's text, sent from our domain).
      data: { link: sealedLink(config, link.path, { token }), ...(user.email_verified_at ? { displayName: user.display_name } : {}), ...link.data },
      idempotencyKey: `${link.template}:${id}`,
    });
  }

  async function issueVerification(tx: Transaction<DB>, user: UserRow): Promise<void> {
    await issueLinkEmail(tx, user, { purpose: 'verify', ttlSeconds: config.VERIFY_TOKEN_TTL, template: 'verify-email', path: '/verify-email' }, `verify:${user.id}`);
  }

  /**
   * However often it is asked for, an inbox gets a bounded number of our link mails per 24 hours
   * (the cooldown alone still allowed ~1,400 of each kind). Verification mails count per address:
   * only an unconfirmed address gets them, so nobody is locked out. Reset mails count per address
   * *and requester* (IP hash): someone exhausting them from their addresses cannot stop the owner
   * from getting one from theirs.
   */
  async function capPassed(scope: string): Promise<boolean> {
    const n = await countFor(`${keyPrefix}auth:link-mails:${scope}`, 86_400);
    return n <= config.LINK_EMAILS_PER_ADDRESS_PER_DAY;
  }

  /**
   * Counts one more within a window that starts at the first count. Increment and expiry in one
   * script: a separate EXPIRE that failed would leave a key naming a person (or an IP hash) forever.
   */
  async function countFor(key: string, seconds: number): Promise<number> {
    return Number(await failClosed('sign-up and mail limits', config.AUTH_REDIS_TIMEOUT_MS, redis.eval("local n = redis.call('incr', KEYS[1]) if n == 1 then redis.call('expire', KEYS[1], ARGV[1]) end return n", 1, key, String(seconds))));
  }

  /** A cooldown shared by every path that mails a person (resend, repeated sign-up, forgot). */
  async function cooldownPassed(kind: string, userId: string, seconds: number): Promise<boolean> {
    const ok = await failClosed('mail cooldown', config.AUTH_REDIS_TIMEOUT_MS, redis.set(`${keyPrefix}auth:cooldown:${kind}:${userId}`, '1', 'EX', Math.max(1, Math.ceil(seconds)), 'NX'));
    return ok === 'OK';
  }

  async function countSignup(ipHash: string | undefined): Promise<void> {
    const day = new Date().toISOString().slice(0, 10);
    const n = await countFor(`${keyPrefix}auth:signups:${ipHash ?? 'unknown'}:${day}`, 2 * 86400);
    if (n > config.SIGNUPS_PER_IP_PER_DAY) {
      throw new AppError('AUTH_SIGNUP_LIMIT', { details: { retryAfter: 86400 } });
    }
  }

  /** The promo grant, at most once per account and once per IP hash within the window. */
  async function grantSignupBonus(tx: Transaction<DB>, userId: string, ipHash: string | undefined): Promise<boolean> {
    if (config.SIGNUP_BONUS_CREDITS <= 0 || !ipHash) return false;
    await repo.lockIpHash(tx, ipHash);
    if (await repo.bonusClaimedByUser(tx, userId)) return false;
    if (await repo.bonusClaimedSince(tx, ipHash, new Date(Date.now() - config.SIGNUP_BONUS_WINDOW * 1000))) return false;
    await repo.insertBonusClaim(tx, { id: uuidv7(), ipHash, userId });
    await bus.send(tx, 'ledger.grant', {
      idempotencyKey: `signup-bonus:${userId}`,
      userId,
      amount: config.SIGNUP_BONUS_CREDITS,
      source: 'promo',
      reference: 'signup-bonus',
    });
    return true;
  }

  /** `cap`: the requester's budget (forgot-password), or null for the link verification itself sends. */
  function issueResetLink(tx: Transaction<DB>, user: UserRow, cap: string | null) {
    return issueLinkEmail(
      tx,
      user,
      {
        purpose: 'reset',
        ttlSeconds: config.RESET_TOKEN_TTL,
        template: 'password-reset',
        path: '/reset-password',
        data: { expiresInMinutes: Math.round(config.RESET_TOKEN_TTL / 60) },
      },
      cap,
    );
  }

  async function sendResetLink(email: string, ipHash: string | undefined): Promise<void> {
    const user = await repo.findUserByEmail(db, email);
    if (!user || user.status !== 'active') return;
    if (!(await cooldownPassed('reset', user.id, config.VERIFY_RESEND_COOLDOWN))) return;
    await db.transaction().execute((tx) => issueResetLink(tx, user, `reset:${user.id}:${ipHash ?? 'unknown'}`));
  }

  /** Closed, but the purge is still ahead: the person may keep the account. */
  function inGracePeriod(user: UserRow): boolean {
    return user.status === 'deleted' && user.purge_after !== null && user.purge_after.getTime() > Date.now();
  }

  /** The answer to a proven sign-in to an account in its grace period: when it goes, and a token to keep it. */
  async function deletionScheduled(user: UserRow): Promise<AppError> {
    const token = newToken();
    await repo.insertEmailToken(db, { id: uuidv7(), userId: user.id, purpose: 'restore', tokenHash: hashToken(token), expiresAt: new Date(Date.now() + config.OAUTH_STATE_TTL * 1000) });
    return new AppError('AUTH_DELETION_SCHEDULED', { details: { purgeAfter: user.purge_after!.toISOString(), restoreToken: token } });
  }

  return {
    backoff,
    issueVerification,
    issueResetLink,
    grantSignupBonus,

    /**
     * Same answer whether or not the address is taken: the password is hashed either way, and
     * an existing unverified account simply gets its verification mail again (cooldown applies).
     */
    async signup(input: { email: string; password: string; displayName?: string; locale: 'en' | 'zh'; ipHash?: string }): Promise<void> {
      const email = normaliseEmail(input.email);
      const password = checkPasswordPolicy(input.password);
      const displayName = cleanDisplayName(input.displayName ?? '') || NO_DISPLAY_NAME;
      checkDisplayName(displayName);
      await countSignup(input.ipHash);
      const passwordHash = await hashPassword(password);
      // After the answer: whether the address is taken must not show in the timing either.
      background.run('signup', async () => {
        const created = await db.transaction().execute(async (tx) => {
          const inserted = await repo.insertUserIfNew(tx, {
            id: uuidv7(),
            email,
            passwordHash,
            displayName,
            locale: input.locale,
            signupIpHash: input.ipHash ?? null,
            verified: false,
          });
          if (inserted) {
            await cooldownPassed('verify', inserted.id, config.VERIFY_RESEND_COOLDOWN);
            await issueVerification(tx, inserted);
            await bus.send(tx, 'user.registered', { userId: inserted.id, email: sealEmail(config, email), locale: inserted.locale, displayName: inserted.display_name });
          }
          return inserted;
        });
        if (created) return;
        const existing = await repo.findUserByEmail(db, email);
        if (!existing || existing.status !== 'active' || existing.email_verified_at) return;
        // Two sign-ups with different passwords claim an address nobody has confirmed yet: one of
        // them may be someone else pre-registering it. Neither password is kept; whoever verifies
        // (the inbox owner) is sent a reset link to choose one (pre-hijacking). The hash is checked
        // outside the transaction; the row is then locked and changed only if nothing moved since.
        const samePassword = await verifyPassword(existing.password_hash, password);
        await db.transaction().execute(async (tx) => {
          const user = await repo.lockUser(tx, existing.id);
          if (!user || user.status !== 'active' || user.email_verified_at) return;
          if (!samePassword && user.password_hash === existing.password_hash) await repo.setPasswordHash(tx, user.id, null);
          if (await cooldownPassed('verify', user.id, config.VERIFY_RESEND_COOLDOWN)) await issueVerification(tx, user);
        });
      });
    },

    /** Answers at once; the lookup and the mail happen after, so timing tells nothing. */
    resendVerification(rawEmail: string): void {
      const email = normaliseEmail(rawEmail);
      background.run('resend-verification', async () => {
        const user = await repo.findUserByEmail(db, email);
        if (!user || user.status !== 'active' || user.email_verified_at) return;
        if (!(await cooldownPassed('verify', user.id, config.VERIFY_RESEND_COOLDOWN))) return;
        await db.transaction().execute((tx) => issueVerification(tx, user));
      });
    },

    /**
     * Single use, atomically. The first verification also revokes any session the account had:
     * whoever set the password before the inbox owner confirmed must not keep a foothold
     * (pre-hijacking). A later one (an old link) changes nothing.
     */
    async verifyEmail(token: unknown, requestIpHash?: string): Promise<{ userId: string; passwordResetRequired: boolean }> {
      if (!looksLikeToken(token)) throw invalidToken();
      const result = await db.transaction().execute(async (tx) => {
        const consumed = await repo.consumeEmailToken(tx, 'verify', hashToken(token));
        if (!consumed) throw invalidToken();
        const user = await repo.lockUser(tx, consumed.userId);
        if (!user || user.status !== 'active') throw invalidToken();
        const firstTime = !user.email_verified_at;
        if (!firstTime) return { userId: user.id, passwordResetRequired: false, afterCommit: async () => {} };
        await repo.markEmailVerified(tx, user.id);
        const afterCommit = await sessions.revokeAllIn(tx, user.id);
        const ipHash = user.signup_ip_hash ?? requestIpHash;
        await bus.send(tx, 'user.verified', { userId: user.id, ...(ipHash ? { ipHash } : {}) });
        await grantSignupBonus(tx, user.id, ipHash);
        // Password dropped by conflicting sign-ups (see signup), and no other way in: the owner
        // chooses one through a reset link, sent now.
        const passwordResetRequired = !user.password_hash && !(await repo.hasIdentity(tx, user.id));
        // The verification proved the inbox: this link is not subject to any cap.
        if (passwordResetRequired) await issueResetLink(tx, user, null);
        return { userId: user.id, passwordResetRequired, afterCommit };
      });
      await result.afterCommit();
      return { userId: result.userId, passwordResetRequired: result.passwordResetRequired };
    },

    /**
     * Unknown, deleted, Google-only and wrong-password accounts all get the same 401 after the
     * same argon2 work; the backoff counts by email hash for known and unknown alike. During
     * backoff even the right password gets the backoff answer. The right password to an account
     * scheduled for deletion (still in its grace period) gets AUTH_DELETION_SCHEDULED with a
     * single-use token that keeps the account (POST /v1/auth/account/restore): only whoever knows
     * the password learns that the account is closing.
     */
    async login(input: { email: string; password: string; device: string; presentedToken?: string }): Promise<{ user: UserRow; token: string; maxAge: number }> {
      const email = normaliseEmail(input.email);
      const wait = await backoff.retryAfter(email);
      if (wait > 0) throw new AppError('AUTH_TOO_MANY_ATTEMPTS', { details: { retryAfter: wait } });
      const user = await repo.findUserByEmail(db, email);
      const usable = user && (user.status === 'active' || inGracePeriod(user)) ? user : undefined;
      const ok = await verifyPassword(usable?.password_hash, input.password);
      if (!usable || !ok) {
        await backoff.recordFailure(email);
        throw invalidCredentials();
      }
      await backoff.clear(email);
      if (usable.status !== 'active') throw await deletionScheduled(usable);
      if (!usable.email_verified_at) throw new AppError('AUTH_EMAIL_NOT_VERIFIED');
      // No fixation: whatever session id the browser brought is ended and a new one issued.
      if (input.presentedToken) await sessions.revokeByToken(input.presentedToken);
      const { token, maxAge } = await sessions.create(db, usable.id, input.device);
      return { user: usable, token, maxAge };
    },

    inGracePeriod,
    deletionScheduled,

    /**
     * Keeps an account scheduled for deletion: active again, a new session, generation puts its
     * published images back, and the person is told by email. Refused once the purge has begun.
     */
    async restore(rawToken: unknown, device: string): Promise<{ user: UserRow; token: string; maxAge: number }> {
      if (!looksLikeToken(rawToken)) throw invalidToken();
      const done = await db.transaction().execute(async (tx) => {
        const consumed = await repo.consumeEmailToken(tx, 'restore', hashToken(rawToken));
        if (!consumed) throw invalidToken();
        const user = await repo.restoreDeleted(tx, consumed.userId);
        if (!user) throw invalidToken();
        await repo.voidEmailTokens(tx, user.id, 'restore');
        await bus.send(tx, 'user.deletion-cancelled', { userId: user.id });
        await sendEmail(config, bus, tx, { template: 'account-deletion-cancelled', user, data: { displayName: user.display_name }, idempotencyKey: `account-deletion-cancelled:${uuidv7()}` });
        const session = await sessions.create(tx, user.id, device);
        return { user, ...session };
      });
      logger.info({ userId: done.user.id }, 'account kept: deletion cancelled');
      return { user: done.user, token: done.token, maxAge: done.maxAge };
    },

    /**
     * For changes that give or take a way in (password, email, Google): the current password when
     * the account has one and it is given (with the sign-in backoff), else a sign-in within
     * RECENT_LOGIN_WINDOW.
     */
    async reauthenticate(caller: { authenticatedAt: Date }, user: UserRow, password: string | undefined): Promise<void> {
      if (password !== undefined && user.password_hash) {
        const wait = await backoff.retryAfter(user.email);
        if (wait > 0) throw new AppError('AUTH_TOO_MANY_ATTEMPTS', { details: { retryAfter: wait } });
        if (!(await verifyPassword(user.password_hash, password))) {
          await backoff.recordFailure(user.email);
          throw new AppError('AUTH_REAUTH_REQUIRED', { params: { reason: 'wrong-password' } });
        }
        return;
      }
      if (Date.now() - caller.authenticatedAt.getTime() > config.RECENT_LOGIN_WINDOW * 1000) {
        throw new AppError('AUTH_REAUTH_REQUIRED', { params: { reason: 'confirm' } });
      }
    },

    capPassed,
    cooldownPassed,

    /** Answers at once; the lookup and the mail happen after, so timing tells nothing. */
    forgotPassword(rawEmail: string, ipHash?: string): void {
      const email = normaliseEmail(rawEmail);
      background.run('forgot-password', () => sendResetLink(email, ipHash));
    },

    /** New password; the link proves the inbox, so the email counts as verified. Every session ends. */
    async resetPassword(token: unknown, newPassword: string): Promise<void> {
      const password = checkPasswordPolicy(newPassword);
      if (!looksLikeToken(token)) throw invalidToken();
      const passwordHash = await hashPassword(password);
      const done = await db.transaction().execute(async (tx) => {
        const consumed = await repo.consumeEmailToken(tx, 'reset', hashToken(token));
        if (!consumed) throw invalidToken();
        const user = await repo.lockUser(tx, consumed.userId);
        if (!user || user.status !== 'active') throw invalidToken();
        await repo.setPasswordHash(tx, user.id, passwordHash);
        await repo.markEmailVerified(tx, user.id);
        if (!user.email_verified_at) {
          // the reset link proved the inbox: this is the account's verification
          await bus.send(tx, 'user.verified', { userId: user.id, ...(user.signup_ip_hash ? { ipHash: user.signup_ip_hash } : {}) });
          await grantSignupBonus(tx, user.id, user.signup_ip_hash ?? undefined);
        }
        await repo.voidEmailTokens(tx, user.id, 'reset');
        // The reset verified the address: an older verification link must not end today's sessions.
        await repo.voidEmailTokens(tx, user.id, 'verify');
        const afterCommit = await sessions.revokeAllIn(tx, user.id);
        await sendEmail(config, bus, tx, { template: 'password-changed', user, data: { displayName: user.display_name, changedAt: new Date().toISOString() }, idempotencyKey: `password-changed:${uuidv7()}` });
        return { email: user.email, afterCommit };
      });
      await done.afterCommit();
      await backoff.clear(done.email);
    },
  };
}

export type AccountService = ReturnType<typeof createAccountService>;
