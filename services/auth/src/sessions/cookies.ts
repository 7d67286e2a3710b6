import type { FastifyReply } from 'fastify';
import { sessionCookieName } from '@imlab/contracts';
import type { Config } from '../config.js';

/**
 * The only two cookies this product sets (privacy policy): the session and the locale. The
 * session cookie is `__Host-imlab_sid` in production (Secure, Path=/, no Domain: no sibling
 * subdomain can toss one in), `imlab_sid` in development and tests; the gateway reads the same name.
 */
export const sessionCookie = (config: Pick<Config, 'NODE_ENV'>): string => sessionCookieName(config.NODE_ENV);
export const LOCALE_COOKIE = 'locale';

// Secure everywhere but local development, where the site runs on plain http://localhost.
const secure = (config: Config) => config.NODE_ENV !== 'development';

export function setSessionCookie(reply: FastifyReply, config: Config, token: string, maxAgeSeconds: number): void {
  reply.setCookie(sessionCookie(config), token, { httpOnly: true, secure: secure(config), sameSite: 'lax', path: '/', maxAge: Math.floor(maxAgeSeconds) });
}

export function clearSessionCookie(reply: FastifyReply, config: Config): void {
  reply.clearCookie(sessionCookie(config), { httpOnly: true, secure: secure(config), sameSite: 'lax', path: '/' });
}

/** Only ever called with a validated `en` | `zh`: the cookie never echoes client input. */
export function setLocaleCookie(reply: FastifyReply, config: Config, locale: 'en' | 'zh'): void {
  reply.setCookie(LOCALE_COOKIE, locale, { httpOnly: false, secure: secure(config), sameSite: 'lax', path: '/', maxAge: 365 * 86400 });
}

export function localeFromCookie(value: unknown): 'en' | 'zh' | undefined {
  return value === 'en' || value === 'zh' ? value : undefined;
}
