import { Type } from '@sinclair/typebox';
import { INTERNAL_HEADERS } from '@imlab/contracts';
import { AppError, errors, operation, type App } from '@imlab/http';
import type { AuthDeps } from '../deps.js';
import { GOOGLE_REFUSAL_PROBLEMS, GoogleSignInError, type GoogleService } from './google.service.js';
import { deviceLabel } from '../sessions/sessions.service.js';
import { LOCALE_COOKIE, sessionCookie, localeFromCookie, setSessionCookie } from '../sessions/cookies.js';
import { ipHashOf } from '../http/request-auth.js';

const ProviderValue = Type.String({ maxLength: 4096 });
/**
 * Whatever the provider sends (every parameter is passed on to the token check); only state and
 * code are used, and only after the browser check. The known ones are listed for the document.
 */
const CallbackQuery = Type.Unsafe<Record<string, string>>(
  Type.Object(
    {
      state: Type.Optional(Type.String({ maxLength: 4096, description: 'The state /start sent; must match this browser\'s pending sign-in.' })),
      code: Type.Optional(Type.String({ maxLength: 4096, description: 'The authorization code.' })),
      scope: Type.Optional(Type.String({ maxLength: 4096, description: 'The scopes granted.' })),
      authuser: Type.Optional(Type.String({ maxLength: 4096, description: 'Google\'s account index.' })),
      hd: Type.Optional(Type.String({ maxLength: 4096, description: 'The hosted (Workspace) domain, if any.' })),
      prompt: Type.Optional(Type.String({ maxLength: 4096, description: 'The prompt Google showed.' })),
      iss: Type.Optional(Type.String({ maxLength: 4096, description: 'The issuer (RFC 9207).' })),
      error: Type.Optional(Type.String({ maxLength: 4096, description: 'Set instead of `code` when the person declined or Google failed.' })),
      error_description: Type.Optional(Type.String({ maxLength: 4096, description: 'Google\'s text for `error`.' })),
    },
    { additionalProperties: ProviderValue },
  ),
);

const redirect = (description: string) => Type.Null({ description, headers: { location: Type.String({ description: 'Where the browser goes next.' }) } });

export function registerGoogleRoutes(app: App, deps: AuthDeps, google: GoogleService): void {
  const { config, logger } = deps;
  const site = (path: string) => new URL(path, config.PUBLIC_BASE_URL).toString();

  app.get(
    '/v1/auth/methods',
    {
      schema: {
        ...operation('getSignInMethods', {
          tag: 'auth',
          access: 'public',
          summary: 'Ways to sign in here',
          description:
            'What the sign-in and settings pages offer: an email address and password always; Google only where this deployment has a Google client configured (elsewhere `/v1/auth/google/start` answers `AUTH_GOOGLE_DISABLED`).',
        }),
        response: {
          200: Type.Object(
            {
              password: Type.Literal(true, { description: 'Signing up and in with an email address and a password.' }),
              google: Type.Boolean({ description: 'Signing in with Google, and linking a Google account in the settings.' }),
            },
            { additionalProperties: false, description: 'The ways to sign in' },
          ),
        },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return { password: true as const, google: google.enabled };
    },
  );

  app.get(
    '/v1/auth/google/start',
    {
      schema: {
        ...operation('startGoogleSignIn', {
          tag: 'auth',
          access: 'optional-session',
          summary: 'Start Google sign-in',
          description:
            'Redirects the browser to Google\'s account chooser; Google sends it back to `/v1/auth/google/callback`. A browser with a live session keeps it through the flow; a signed-in browser sent here by another site goes back to the app instead. When Google cannot be reached, the browser goes to `/sign-in?error=oauth_unavailable` (a link flow: `/settings/security?google=oauth_unavailable`); a link without its intent to `/settings/security?google=link_expired`.',
        }),
        querystring: Type.Object({
          returnTo: Type.Optional(Type.String({ maxLength: 2048, description: 'A path of the app to come back to after signing in.' })),
          intent: Type.Optional(Type.Literal('link', { description: 'Link the Google account to the signed-in account instead of signing in; needs the intent set by `POST /v1/me/google/link` for this session moments before.' })),
        }),
        response: {
          302: redirect('To Google (or, signed in and sent by another site, back to the app)'),
          ...errors({ 400: ['VALIDATION_FAILED'], 404: ['AUTH_GOOGLE_DISABLED'] }),
        },
      },
    },
    async (request, reply) => {
      if (!google.enabled) throw new AppError('AUTH_GOOGLE_DISABLED', { message: 'Google sign-in is not configured' });
      const current = request.cookies[sessionCookie(config)];
      reply.header('cache-control', 'no-store');
      let started: { cookie?: string; url?: string };
      try {
        started = await google.start({
          returnTo: request.query.returnTo,
          locale: localeFromCookie(request.cookies[LOCALE_COOKIE]) ?? 'en',
          crossSite: request.headers['sec-fetch-site'] === 'cross-site',
          ...(current ? { currentCookie: current } : {}),
          ...(request.query.intent ? { intent: request.query.intent } : {}),
        });
      } catch (err) {
        if (!(err instanceof GoogleSignInError)) throw err;
        logger.warn({ code: err.code, reason: err.message, cause: (err.cause as Error | undefined)?.message }, 'google sign-in could not start');
        const linking = err.extra.link || request.query.intent === 'link';
        return reply.redirect(site(linking ? `/settings/security?google=${err.code}` : `/sign-in?error=${err.code}`), 302);
      }
      const { cookie, url } = started;
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
        ...operation('finishGoogleSignIn', {
          tag: 'auth',
          access: 'public',
          summary: 'Google\'s redirect back',
          description:
            'Where Google sends the browser back. A link flow (`intent=link`) goes back to `/settings/security?google=linked`, or `?google=<reason>` (`google_in_use`, `google_already_linked`, `link_expired`, `oauth_failed`, …). On success the session cookie (`__Host-imlab_sid`; `imlab_sid` in development) is set (a previous session of this browser ends) and the browser goes to the `returnTo` path; a refused sign-in goes to `/sign-in?error=<reason>` (`oauth_state`, `oauth_failed`, `account_disabled`, `deletion_scheduled` (the account is in its grace period; the fragment carries `restore` (a token for `POST /v1/auth/account/restore`) and `purgeAfter`), `email_unverified`, `link_requires_password`, `account_conflict`, `google_account_mismatch`: the address belongs to an account linked to another Google account, whose owner is told by email; message: `AUTH_GOOGLE_ACCOUNT_MISMATCH`). Parameters not listed are passed on to the token check.',
        }),
        querystring: CallbackQuery,
        response: { 302: redirect('Back to the app: signed in, or to the sign-in page with the reason'), ...errors({ 400: ['VALIDATION_FAILED'], 404: ['AUTH_GOOGLE_DISABLED'] }) },
      },
    },
    async (request, reply) => {
      if (!google.enabled) throw new AppError('AUTH_GOOGLE_DISABLED', { message: 'Google sign-in is not configured' });
      reply.header('cache-control', 'no-store');
      try {
        const { token, maxAge, returnTo, linked } = await google.callback({
          cookie: request.cookies[sessionCookie(config)],
          query: request.query,
          device: deviceLabel(request.headers[INTERNAL_HEADERS.device]),
          ...(ipHashOf(request) ? { ipHash: ipHashOf(request)! } : {}),
        });
        if (linked) return reply.redirect(site('/settings/security?google=linked'), 302);
        if (token && maxAge) setSessionCookie(reply, config, token, maxAge);
        return reply.redirect(site(returnTo), 302);
      } catch (err) {
        if (!(err instanceof GoogleSignInError)) throw err;
        logger.warn({ code: err.code, problem: GOOGLE_REFUSAL_PROBLEMS[err.code], reason: err.message, cause: (err.cause as Error | undefined)?.message }, 'google sign-in refused');
        // The cookie is left alone: a pending value is not a session and expires by itself, and
        // clearing would let any page log a signed-in person out by linking here.
        if (err.extra.link) return reply.redirect(site(`/settings/security?google=${err.code}`), 302);
        // The token that keeps the account rides in the fragment: it never reaches a server or a log.
        const restore = err.extra.restore ? `#${new URLSearchParams({ restore: err.extra.restore.token, purgeAfter: err.extra.restore.purgeAfter })}` : '';
        return reply.redirect(site(`/sign-in?error=${err.code}${restore}`), 302);
      }
    },
  );
}
