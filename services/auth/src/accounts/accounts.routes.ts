import { Type } from '@sinclair/typebox';
import { INTERNAL_HEADERS, Problem } from '@imlab/contracts';
import type { App } from '@imlab/http';
import type { AuthDeps } from '../deps.js';
import type { AccountService } from './accounts.service.js';
import type { ProfileService } from '../profile/profile.service.js';
import { deviceLabel, type SessionService } from '../sessions/sessions.service.js';
import { clearSessionCookie, localeFromCookie, LOCALE_COOKIE, SESSION_COOKIE, setLocaleCookie, setSessionCookie } from '../sessions/cookies.js';
import { callerOf, ipHashOf, requireCaller } from '../http/request-auth.js';
import { Accepted, EmailBody, LoginBody, Me, ResetBody, SignupBody, TokenBody } from './accounts.schemas.js';

const ACCEPTED = { status: 'accepted', message: 'If the address can be used, an email is on its way.' } as const;

export function registerAccountRoutes(app: App, deps: AuthDeps, accounts: AccountService, sessions: SessionService, profiles: ProfileService): void {
  const { config } = deps;
  const authed = requireCaller(deps.keys, sessions);

  app.post(
    '/v1/auth/signup',
    { schema: { tags: ['auth'], body: SignupBody, response: { 202: Accepted, 400: Problem, 429: Problem } } },
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
        tags: ['auth'],
        body: TokenBody,
        response: {
          200: Type.Object({
            verified: Type.Literal(true),
            /** Sign-ups with different passwords claimed the address: no password was kept, a reset link is on its way. */
            passwordResetRequired: Type.Boolean(),
          }),
          400: Problem,
        },
      },
    },
    async (request) => {
      const { passwordResetRequired } = await accounts.verifyEmail(request.body.token, ipHashOf(request));
      return { verified: true as const, passwordResetRequired };
    },
  );

  app.post('/v1/auth/verify-email/resend', { schema: { tags: ['auth'], body: EmailBody, response: { 202: Accepted, 400: Problem } } }, async (request, reply) => {
    accounts.resendVerification(request.body.email);
    return reply.code(202).send(ACCEPTED);
  });

  app.post(
    '/v1/auth/login',
    { schema: { tags: ['auth'], body: LoginBody, response: { 200: Me, 400: Problem, 401: Problem, 403: Problem, 429: Problem } } },
    async (request, reply) => {
      const presented = request.cookies[SESSION_COOKIE];
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
  app.post('/v1/auth/logout', { schema: { tags: ['auth'], response: { 204: Type.Null() } } }, async (request, reply) => {
    const header = request.headers.authorization;
    if (typeof header === 'string' && header.startsWith('Bearer ')) {
      const claims = await deps.keys.verify(header.slice(7), 'auth').catch(() => undefined);
      if (claims?.sub && claims.sid) await sessions.revokeOne(claims.sub, claims.sid);
    }
    const cookie = request.cookies[SESSION_COOKIE];
    if (cookie) await sessions.revokeByToken(cookie);
    clearSessionCookie(reply, config);
    return reply.code(204).send(null);
  });

  app.post('/v1/auth/logout-all', { preHandler: authed, schema: { tags: ['auth'], response: { 204: Type.Null(), 401: Problem } } }, async (request, reply) => {
    await sessions.revokeAll(callerOf(request).userId);
    clearSessionCookie(reply, config);
    return reply.code(204).send(null);
  });

  app.post('/v1/auth/password/forgot', { schema: { tags: ['auth'], body: EmailBody, response: { 202: Accepted, 400: Problem } } }, async (request, reply) => {
    accounts.forgotPassword(request.body.email, ipHashOf(request));
    return reply.code(202).send(ACCEPTED);
  });

  app.post('/v1/auth/password/reset', { schema: { tags: ['auth'], body: ResetBody, response: { 204: Type.Null(), 400: Problem } } }, async (request, reply) => {
    await accounts.resetPassword(request.body.token, request.body.password);
    clearSessionCookie(reply, config);
    return reply.code(204).send(null);
  });
}
