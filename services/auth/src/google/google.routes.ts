import { Type } from '@sinclair/typebox';
import { INTERNAL_HEADERS, Problem } from '@imlab/contracts';
import { AppError, type App } from '@imlab/http';
import type { AuthDeps } from '../deps.js';
import { GoogleSignInError, type GoogleService } from './google.service.js';
import { deviceLabel } from '../sessions/sessions.service.js';
import { LOCALE_COOKIE, SESSION_COOKIE, localeFromCookie, setSessionCookie } from '../sessions/cookies.js';
import { ipHashOf } from '../http/request-auth.js';

export function registerGoogleRoutes(app: App, deps: AuthDeps, google: GoogleService): void {
  const { config, logger } = deps;
  const site = (path: string) => new URL(path, config.PUBLIC_BASE_URL).toString();

  app.get(
    '/v1/auth/google/start',
    {
      schema: {
        tags: ['auth'],
        querystring: Type.Object({ returnTo: Type.Optional(Type.String({ maxLength: 2048 })) }),
        response: { 302: Type.Null(), 404: Problem, 503: Problem },
      },
    },
    async (request, reply) => {
      if (!google.enabled) throw new AppError('AUTH_GOOGLE_DISABLED', { message: 'Google sign-in is not configured' });
      const current = request.cookies[SESSION_COOKIE];
      const { cookie, url } = await google.start({
        returnTo: request.query.returnTo,
        locale: localeFromCookie(request.cookies[LOCALE_COOKIE]) ?? 'en',
        crossSite: request.headers['sec-fetch-site'] === 'cross-site',
        ...(current ? { currentCookie: current } : {}),
      });
      reply.header('cache-control', 'no-store');
      // Signed in and sent here by another site: back to the app, nothing changed.
      if (!url) return reply.redirect(site('/'), 302);
      // Only for a browser without a live session: a value that keys the pending sign-in, never a
      // session by itself, kept for as long as the sign-in may take. A session cookie is never replaced here.
      if (cookie) setSessionCookie(reply, config, cookie, config.OAUTH_STATE_TTL);
      return reply.redirect(url, 302);
    },
  );

  app.get(
    '/v1/auth/google/callback',
    {
      schema: {
        tags: ['auth'],
        // Whatever the provider sends; only state and code are used, and only after the browser check.
        querystring: Type.Record(Type.String(), Type.String({ maxLength: 4096 })),
        response: { 302: Type.Null(), 404: Problem },
      },
    },
    async (request, reply) => {
      if (!google.enabled) throw new AppError('AUTH_GOOGLE_DISABLED', { message: 'Google sign-in is not configured' });
      reply.header('cache-control', 'no-store');
      try {
        const { token, maxAge, returnTo } = await google.callback({
          cookie: request.cookies[SESSION_COOKIE],
          query: request.query,
          device: deviceLabel(request.headers[INTERNAL_HEADERS.device]),
          ...(ipHashOf(request) ? { ipHash: ipHashOf(request)! } : {}),
        });
        setSessionCookie(reply, config, token, maxAge);
        return reply.redirect(site(returnTo), 302);
      } catch (err) {
        if (!(err instanceof GoogleSignInError)) throw err;
        logger.warn({ code: err.code, reason: err.message, cause: (err.cause as Error | undefined)?.message }, 'google sign-in refused');
        // The cookie is left alone: a pending value is not a session and expires by itself, and
        // clearing would let any page log a signed-in person out by linking here.
        return reply.redirect(site(`/sign-in?error=${err.code}`), 302);
      }
    },
  );
}
