import { setTimeout as sleep } from 'node:timers/promises';
import { Type } from '@sinclair/typebox';
import { Counter } from 'prom-client';
import { INTERNAL_HEADERS, ref } from '@imlab/contracts';
import { errors, JSON_BODY_ERRORS, operation, type App } from '@imlab/http';
import type { AuthDeps } from '../deps.js';
import type { AccountService } from './accounts.service.js';
import type { ProfileService } from '../profile/profile.service.js';
import { deviceLabel, type SessionService } from '../sessions/sessions.service.js';
import { clearSessionCookie, localeFromCookie, LOCALE_COOKIE, sessionCookie, setLocaleCookie, setSessionCookie } from '../sessions/cookies.js';
import { callerOf, ipHashOf, requireCaller } from '../http/request-auth.js';
import { Accepted, EmailBody, EmailVerified, LoginBody, Me, ResetBody, SignupBody, TokenBody } from './accounts.schemas.js';

const accepted = ref(Accepted, { description: 'Accepted: if the address can be used, an email is on its way' });

const resendSchema = {
  ...operation('resendVerificationEmail', {
    tag: 'auth',
    access: 'public',
    summary: 'Send the verification email again',
    description: 'Sends a new verification link to an address whose account is not verified yet. The answer never tells whether it was sent.',
  }),
  body: ref(EmailBody),
  response: { 202: accepted, ...errors(JSON_BODY_ERRORS) },
};

const logoutSchema = {
  ...operation('deleteCurrentSession', {
    tag: 'auth',
    access: 'optional-session',
    summary: 'End this session',
    description: 'Ends the session of the session cookie (`__Host-imlab_sid`; `imlab_sid` in development), if any, and clears the cookie. Always 204, also without a session.',
  }),
  response: { 204: Type.Null({ description: 'Signed out' }) },
};

const logoutAllSchema = {
  ...operation('deleteAllSessions', {
    tag: 'auth',
    access: 'session',
    summary: 'End every session of the account',
    description: 'Ends every session of the account, on every device, and clears the cookie.',
  }),
  response: { 204: Type.Null({ description: 'Every session ended' }), ...errors({ 401: ['UNAUTHENTICATED'] }) },
};

const forgotSchema = {
  ...operation('requestPasswordReset', {
    tag: 'auth',
    access: 'public',
    summary: 'Email a password reset link',
    description: 'Sends a reset link to the address if it has an account. The answer never tells whether it has.',
  }),
  body: ref(EmailBody),
  response: { 202: accepted, ...errors(JSON_BODY_ERRORS) },
};

const resetSchema = {
  ...operation('resetPassword', {
    tag: 'auth',
    access: 'public',
    summary: 'Set a new password',
    description: 'Sets a new password with the token from the reset email. Every session of the account ends; sign in again.',
  }),
  body: ref(ResetBody),
  response: { 204: Type.Null({ description: 'The password is changed' }), ...errors(JSON_BODY_ERRORS, { 400: ['VALIDATION_FAILED', 'AUTH_INVALID_TOKEN', 'AUTH_WEAK_PASSWORD'] }) },
};

/**
 * The answer of a credential route leaves no earlier than CREDENTIAL_ANSWER_FLOOR_MS after the
 * request arrived (onSend runs for every outcome: success, refusal, error), so its timing is the
 * floor's and not the work's. An answer that took longer than the floor is counted: the floor is
 * then too low for this machine.
 */
function answerFloor(app: App, floorMs: number) {
  const overruns = new Counter({
    name: 'imlab_auth_credential_floor_overruns_total',
    help: 'Credential answers (sign-up, sign-in, forgot, resend, reset) whose work took longer than CREDENTIAL_ANSWER_FLOOR_MS',
    labelNames: ['route'],
    registers: [app.metricsRegistry],
  });
  return {
    onSend: async (request: { routeOptions: { url?: string } }, reply: { elapsedTime: number }) => {
      if (floorMs <= 0) return;
      const wait = floorMs - reply.elapsedTime;
      if (wait > 0) await sleep(wait);
      else overruns.inc({ route: request.routeOptions.url ?? 'unknown' });
    },
  };
}

const ACCEPTED = { status: 'accepted', message: 'If the address can be used, an email is on its way.' } as const;

export function registerAccountRoutes(app: App, deps: AuthDeps, accounts: AccountService, sessions: SessionService, profiles: ProfileService): void {
  const { config } = deps;
  const authed = requireCaller(deps.keys, sessions);
  const { onSend } = answerFloor(app, config.CREDENTIAL_ANSWER_FLOOR_MS);

  app.post(
    '/v1/auth/signup',
    {
      onSend,
      schema: {
        ...operation('createAccount', {
          tag: 'auth',
          access: 'public',
          summary: 'Create an account',
          description:
            'Creates the account and sends the verification email. The answer is the same whether or not the address already has an account. A display name the content policy forbids is refused (422 `AUTH_DISPLAY_NAME_POLICY`, naming the rule) and nothing is created.',
        }),
        body: ref(SignupBody),
        response: { 202: accepted, ...errors(JSON_BODY_ERRORS, { 400: ['VALIDATION_FAILED', 'AUTH_WEAK_PASSWORD'], 422: ['AUTH_DISPLAY_NAME_POLICY'], 429: ['AUTH_SIGNUP_LIMIT'] }) },
      },
    },
    async (request, reply) => {
      const locale = request.body.locale ?? localeFromCookie(request.cookies[LOCALE_COOKIE]) ?? 'en';
      await accounts.signup({ ...request.body, locale, ipHash: ipHashOf(request) });
      return reply.code(202).send(ACCEPTED);
    },
  );

  app.post(
    '/v1/auth/verify-email',
    {
      schema: {
        ...operation('verifyEmail', {
          tag: 'auth',
          access: 'public',
          summary: 'Verify an email address',
          description: 'Verifies the address with the token from the emailed link. The first verification ends any session the account had and grants the sign-up bonus where one applies.',
        }),
        body: ref(TokenBody),
        response: { 200: ref(EmailVerified, { description: 'The address is verified' }), ...errors(JSON_BODY_ERRORS, { 400: ['VALIDATION_FAILED', 'AUTH_INVALID_TOKEN'] }) },
      },
    },
    async (request) => {
      const { passwordResetRequired } = await accounts.verifyEmail(request.body.token, ipHashOf(request));
      return { verified: true as const, passwordResetRequired };
    },
  );

  app.post('/v1/auth/verify-email/resend', { onSend, schema: resendSchema }, async (request, reply) => {
    accounts.resendVerification(request.body.email);
    return reply.code(202).send(ACCEPTED);
  });

  app.post(
    '/v1/auth/login',
    {
      onSend,
      schema: {
        ...operation('createSession', {
          tag: 'auth',
          access: 'public',
          summary: 'Sign in with email and password',
          description: 'Signs in and answers the account; sets the session cookie (`__Host-imlab_sid`; `imlab_sid` in development) and the `locale` cookie. Repeated failures for an address are slowed down (429 with `Retry-After`). The right password to an account scheduled for deletion answers 403 AUTH_DELETION_SCHEDULED with `purgeAfter` and a `restoreToken` that keeps it (`POST /v1/auth/account/restore`).',
        }),
        body: ref(LoginBody),
        response: {
          200: ref(Me, { description: 'Signed in: the account' }),
          ...errors(JSON_BODY_ERRORS, { 401: ['AUTH_INVALID_CREDENTIALS'], 403: ['AUTH_EMAIL_NOT_VERIFIED', 'AUTH_DELETION_SCHEDULED', 'ACCOUNT_SUSPENDED'], 429: ['AUTH_TOO_MANY_ATTEMPTS'] }),
        },
      },
    },
    async (request, reply) => {
      const presented = request.cookies[sessionCookie(config)];
      const { user, token, maxAge } = await accounts.login({
        ...request.body,
        device: deviceLabel(request.headers[INTERNAL_HEADERS.device]),
        ...(presented ? { presentedToken: presented } : {}),
      });
      setSessionCookie(reply, config, token, maxAge);
      setLocaleCookie(reply, config, user.locale);
      return profiles.get(user.id);
    },
  );

  /** Ends the caller's session (bearer from the gateway, or the cookie itself); always 204. */
  app.post('/v1/auth/logout', { schema: logoutSchema }, async (request, reply) => {
    const header = request.headers.authorization;
    if (typeof header === 'string' && header.startsWith('Bearer ')) {
      const claims = await deps.keys.verify(header.slice(7), 'auth').catch(() => undefined);
      if (claims?.sub && claims.sid) await sessions.revokeOne(claims.sub, claims.sid);
    }
    const cookie = request.cookies[sessionCookie(config)];
    if (cookie) await sessions.revokeByToken(cookie);
    clearSessionCookie(reply, config);
    return reply.code(204).send(null);
  });

  app.post('/v1/auth/logout-all', { preHandler: authed, schema: logoutAllSchema }, async (request, reply) => {
    await sessions.revokeAll(callerOf(request).userId);
    clearSessionCookie(reply, config);
    return reply.code(204).send(null);
  });

  app.post('/v1/auth/password/forgot', { onSend, schema: forgotSchema }, async (request, reply) => {
    accounts.forgotPassword(request.body.email, ipHashOf(request));
    return reply.code(202).send(ACCEPTED);
  });

  app.post('/v1/auth/password/reset', { onSend, schema: resetSchema }, async (request, reply) => {
    await accounts.resetPassword(request.body.token, request.body.password);
    clearSessionCookie(reply, config);
    return reply.code(204).send(null);
  });
}
