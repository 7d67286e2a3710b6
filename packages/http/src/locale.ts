import type { FastifyRequest } from 'fastify';
import { LOCALE_COOKIE, asLocale, cookieValue, pickLocale, type Locale } from '@imlab/contracts';

/** Account locales learnt while handling a request (auth's own session check, the gateway's session). */
const accountLocales = new WeakMap<object, Locale>();

/** Records the signed-in person's account locale for this request (ignored unless `en` | `zh`). */
export function rememberAccountLocale(request: FastifyRequest, locale: unknown): void {
  const l = asLocale(locale);
  if (l) accountLocales.set(request, l);
}

/**
 * The language to answer this request in: the `locale` cookie (auth sets it; the gateway forwards
 * it), then the account's locale (the verified internal token's `locale` claim, or what
 * rememberAccountLocale recorded), then Accept-Language (zh* → zh), else English. A request that
 * failed before its token was verified (a 401, a schema error) goes without the account's locale.
 */
export function requestLocale(request: FastifyRequest): Locale {
  const claims = (request as { user?: { locale?: unknown } | null }).user;
  return pickLocale({
    cookie: cookieValue(request.headers.cookie, LOCALE_COOKIE),
    account: accountLocales.get(request) ?? claims?.locale,
    acceptLanguage: request.headers['accept-language'],
  });
}
