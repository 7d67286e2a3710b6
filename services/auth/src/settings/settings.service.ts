import { v7 as uuidv7 } from 'uuid';
import { AppError } from '@imlab/http';
import type { Transaction } from '@imlab/db';
import type { AuthDeps } from '../deps.js';
import type { DB } from '../db.js';
import type { Caller } from '../http/request-auth.js';
import type { SessionService } from '../sessions/sessions.service.js';
import type { AccountService } from '../accounts/accounts.service.js';
import * as repo from '../accounts/accounts.repository.js';
import type { UserRow } from '../accounts/accounts.repository.js';
import { checkPasswordPolicy, hashPassword } from '../lib/passwords.js';
import { hashToken, looksLikeToken, newToken } from '../lib/tokens.js';
import { normaliseEmail } from '../lib/email.js';
import { sealEmail, sealedLink, sendEmail } from '../accounts/emails.js';

const invalidToken = () => new AppError('AUTH_INVALID_TOKEN');

/** `m•••@example.com`: enough for the owner of the old inbox to recognise, not to read off. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  const local = email.slice(0, at);
  return `${[...local][0] ?? ''}•••${email.slice(at)}`;
}

/** The Redis key of a link intent: this session may link a Google account (set by POST /v1/me/google/link). */
export const linkIntentKey = (prefix: string, sessionId: string) => `${prefix}auth:google-link:${sessionId}`;

/**
 * What a signed-in person changes about how they get in: password, email address, Google. Each
 * change that gives or takes a way in needs the current password or a recent sign-in (with the
 * sign-in's backoff), tells the person by email, and never leaves the account without a way in.
 */
export function createSettingsService(deps: AuthDeps, sessions: SessionService, accounts: AccountService) {
  const { config, db, bus, redis, keyPrefix, logger, background } = deps;

  async function activeUser(userId: string): Promise<UserRow> {
    const user = await repo.findUserById(db, userId);
    if (!user || user.status !== 'active') throw new AppError('UNAUTHENTICATED');
    return user;
  }

  /** A unique-index race (two accounts taking one address at once) ends as the plain answer. */
  function emailTaken(err: unknown): boolean {
    return typeof err === 'object' && err !== null && (err as { code?: string }).code === '23505';
  }

  return {
    /**
     * Changes (or, on a Google-only account, sets) the password. Every other session ends; this
     * one stays. The person is told by email.
     */
    async changePassword(caller: Caller, input: { currentPassword?: string; newPassword: string }): Promise<void> {
      const password = checkPasswordPolicy(input.newPassword);
      const user = await activeUser(caller.userId);
      await accounts.reauthenticate(caller, user, input.currentPassword);
      const passwordHash = await hashPassword(password);
      const afterCommit = await db.transaction().execute(async (tx) => {
        const locked = await repo.lockUser(tx, user.id);
        if (!locked || locked.status !== 'active') throw new AppError('UNAUTHENTICATED');
        await repo.setPasswordHash(tx, user.id, passwordHash);
        // An outstanding reset link would undo what was just chosen.
        await repo.voidEmailTokens(tx, user.id, 'reset');
        const done = await sessions.revokeAllIn(tx, user.id, caller.sessionId);
        await sendEmail(config, bus, tx, { template: 'password-changed', user: locked, data: { displayName: locked.display_name, changedAt: new Date().toISOString() }, idempotencyKey: `password-changed:${uuidv7()}` });
        return done;
      });
      await afterCommit();
      await accounts.backoff.clear(user.email);
    },

    /**
     * Sends a confirmation link to the new address. The answer is the same, and leaves as soon,
     * whether or not another account has that address (then nothing is sent): the lookup and the
     * mail happen after it, so neither the words nor the timing tell who is signed up.
     */
    async requestEmailChange(caller: Caller, input: { newEmail: string; currentPassword?: string }): Promise<void> {
      const newEmail = normaliseEmail(input.newEmail);
      const user = await activeUser(caller.userId);
      if (newEmail === user.email) throw new AppError('AUTH_EMAIL_UNCHANGED');
      await accounts.reauthenticate(caller, user, input.currentPassword);
      // After the answer: whether the address is taken must not show in the timing either.
      background.run('email-change', async () => {
        if (await repo.findUserByEmail(db, newEmail)) {
          logger.info({ userId: user.id }, 'email change to an address in use: nothing sent');
          return;
        }
        // One link per cooldown, and a daily cap per account: the form cannot be used to mail anyone at will.
        if (!(await accounts.cooldownPassed('email-change', user.id, config.VERIFY_RESEND_COOLDOWN))) return;
        if (!(await accounts.capPassed(`email-change:${user.id}`))) return;
        const token = newToken();
        await db.transaction().execute(async (tx) => {
          await repo.voidEmailTokens(tx, user.id, 'email-change');
          await repo.insertEmailToken(tx, { id: uuidv7(), userId: user.id, purpose: 'email-change', tokenHash: hashToken(token), expiresAt: new Date(Date.now() + config.EMAIL_CHANGE_TTL * 1000), email: newEmail });
          await bus.send(tx, 'email.send', {
            template: 'email-change-confirm',
            to: sealEmail(config, newEmail),
            userId: user.id,
            locale: user.locale,
            data: { link: sealedLink(config, '/email-change', { confirm: token }), displayName: user.display_name, expiresInHours: Math.max(1, Math.round(config.EMAIL_CHANGE_TTL / 3600)) },
            idempotencyKey: `email-change-confirm:${uuidv7()}`,
          });
        });
      });
    },

    /**
     * What an email-change link will do, before the person presses its button. Whoever holds the
     * link reads the inbox it was sent to, so that address is shown in full (`to`). The other one
     * only as much as that inbox's mail showed: the old inbox's "your address was changed" mail
     * shows the new address masked, so its link's preview does too (`from`); the new inbox's mail
     * showed nothing of the old address (a mistyped new address must not learn whose it was), so
     * its preview has no `from`. Uses nothing up, so a mail scanner opening the page changes nothing.
     */
    async previewEmailChange(rawToken: unknown, purpose: 'email-change' | 'email-undo'): Promise<{ from?: string; to: string }> {
      if (!looksLikeToken(rawToken)) throw invalidToken();
      const token = await repo.peekEmailToken(db, purpose, hashToken(rawToken));
      if (!token?.email) throw invalidToken();
      const user = await repo.findUserById(db, token.userId);
      if (!user || user.status !== 'active') throw invalidToken();
      return purpose === 'email-undo' ? { from: maskEmail(user.email), to: token.email } : { to: token.email };
    },

    /**
     * The link from the new inbox: the account moves to it. The old address is told, with a link
     * that takes the change back for EMAIL_UNDO_WINDOW. Sessions stay (the person did this).
     */
    async confirmEmailChange(rawToken: unknown): Promise<{ email: string }> {
      if (!looksLikeToken(rawToken)) throw invalidToken();
      try {
        return await db.transaction().execute(async (tx) => {
          const consumed = await repo.consumeEmailToken(tx, 'email-change', hashToken(rawToken));
          if (!consumed?.email) throw invalidToken();
          const user = await repo.lockUser(tx, consumed.userId);
          if (!user || user.status !== 'active') throw invalidToken();
          const oldEmail = user.email;
          if (!(await repo.setEmail(tx, user.id, consumed.email))) throw new AppError('AUTH_EMAIL_TAKEN');
          const undo = newToken();
          await repo.insertEmailToken(tx, { id: uuidv7(), userId: user.id, purpose: 'email-undo', tokenHash: hashToken(undo), expiresAt: new Date(Date.now() + config.EMAIL_UNDO_WINDOW * 1000), email: oldEmail });
          // Links sent to the old address (reset, verification) must not act on the account any more.
          await repo.voidEmailTokens(tx, user.id, 'reset');
          await repo.voidEmailTokens(tx, user.id, 'verify');
          await bus.send(tx, 'email.send', {
            template: 'email-changed',
            to: sealEmail(config, oldEmail),
            userId: user.id,
            locale: user.locale,
            data: { link: sealedLink(config, '/email-change', { undo }), newEmailMasked: maskEmail(consumed.email), displayName: user.display_name, undoDays: Math.max(1, Math.round(config.EMAIL_UNDO_WINDOW / 86400)) },
            idempotencyKey: `email-changed:${uuidv7()}`,
          });
          await bus.send(tx, 'user.updated', { userId: user.id, email: sealEmail(config, consumed.email), locale: user.locale, displayName: user.display_name });
          return { email: consumed.email };
        });
      } catch (err) {
        if (emailTaken(err)) throw new AppError('AUTH_EMAIL_TAKEN');
        throw err;
      }
    },

    /**
     * The old inbox says "not me": the account goes back to the old address and is locked down —
     * every session ends, the password is dropped, a Google account linked since the change is
     * unlinked — and a reset link goes to the old address, so only its owner gets back in.
     */
    async undoEmailChange(rawToken: unknown): Promise<void> {
      if (!looksLikeToken(rawToken)) throw invalidToken();
      let previous: string | undefined;
      try {
        const afterCommit = await db.transaction().execute(async (tx) => {
          const consumed = await repo.consumeEmailToken(tx, 'email-undo', hashToken(rawToken));
          if (!consumed?.email) throw invalidToken();
          const user = await repo.lockUser(tx, consumed.userId);
          if (!user || user.status !== 'active') throw invalidToken();
          previous = user.email;
          if (user.email !== consumed.email && !(await repo.setEmail(tx, user.id, consumed.email))) throw new AppError('AUTH_EMAIL_TAKEN');
          await repo.setPasswordHash(tx, user.id, null);
          await repo.deleteIdentities(tx, user.id, { since: consumed.createdAt });
          for (const purpose of ['email-change', 'email-undo', 'verify', 'reset'] as const) await repo.voidEmailTokens(tx, user.id, purpose);
          const done = await sessions.revokeAllIn(tx, user.id);
          const restored = { ...user, email: consumed.email };
          await bus.send(tx, 'user.updated', { userId: user.id, email: sealEmail(config, consumed.email), locale: user.locale, displayName: user.display_name });
          await accounts.issueResetLink(tx, restored, null);
          return done;
        });
        await afterCommit();
      } catch (err) {
        if (emailTaken(err)) throw new AppError('AUTH_EMAIL_TAKEN');
        throw err;
      }
      if (previous) await accounts.backoff.clear(previous);
    },

    /**
     * Lets this session link a Google account for OAUTH_STATE_TTL: the browser then goes through
     * Google's sign-in (`/v1/auth/google/start?intent=link`), and the callback links the Google
     * account it comes back with to this account instead of signing in.
     */
    async startGoogleLink(caller: Caller, currentPassword: string | undefined): Promise<{ url: string }> {
      if (!config.GOOGLE_CLIENT_ID || !config.GOOGLE_CLIENT_SECRET) throw new AppError('AUTH_GOOGLE_DISABLED', { message: 'Google sign-in is not configured' });
      const user = await activeUser(caller.userId);
      if ((await repo.listIdentities(db, user.id)).length > 0) throw new AppError('AUTH_GOOGLE_ALREADY_LINKED');
      await accounts.reauthenticate(caller, user, currentPassword);
      await redis.set(linkIntentKey(keyPrefix, caller.sessionId), user.id, 'EX', Math.ceil(config.OAUTH_STATE_TTL));
      return { url: '/v1/auth/google/start?intent=link&returnTo=%2Fsettings%2Fsecurity' };
    },

    /** Unlinks Google; refused when it is the only way in (set a password first). */
    async unlinkGoogle(caller: Caller, currentPassword: string | undefined): Promise<void> {
      const user = await activeUser(caller.userId);
      await accounts.reauthenticate(caller, user, currentPassword);
      await db.transaction().execute(async (tx: Transaction<DB>) => {
        const locked = await repo.lockUser(tx, user.id);
        if (!locked || locked.status !== 'active') throw new AppError('UNAUTHENTICATED');
        if (!locked.password_hash) throw new AppError('AUTH_LAST_SIGN_IN_METHOD');
        if ((await repo.deleteIdentities(tx, user.id)) === 0) throw new AppError('AUTH_GOOGLE_NOT_LINKED');
        await sendEmail(config, bus, tx, { template: 'google-unlinked', user: locked, data: { displayName: locked.display_name, unlinkedAt: new Date().toISOString() }, idempotencyKey: `google-unlinked:${uuidv7()}` });
      });
    },
  };
}

export type SettingsService = ReturnType<typeof createSettingsService>;
