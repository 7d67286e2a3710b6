import type { Locale } from './messages/common.js';

/** The cookie auth sets (`en` | `zh`); not a secret, readable by the page and forwarded by the gateway. */
export const LOCALE_COOKIE = 'locale';
export const LOCALES = ['en', 'zh'] as const satisfies readonly Locale[];
export const DEFAULT_LOCALE: Locale = 'en';

/** `en` or `zh`, or undefined for anything else (a cookie or claim is never trusted to be one). */
export function asLocale(value: unknown): Locale | undefined {
  return value === 'en' || value === 'zh' ? value : undefined;
}

/** One cookie's raw value from a Cookie header (`a=1; locale=zh`); the first occurrence wins. */
export function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const line of Array.isArray(header) ? header : [header]) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
    }
  }
  return undefined;
}

/**
 * The language an Accept-Language header prefers among ours: the entry with the highest q (the
 * first of equals) whose primary tag is `zh` (any region or script: zh-CN, zh-Hans, zh-TW) or `en`.
 * Undefined when it names neither (the caller's default applies).
 */
export function localeFromAcceptLanguage(header: string | string[] | undefined): Locale | undefined {
  if (header === undefined) return undefined;
  let best: Locale | undefined;
  let bestQ = 0;
  for (const item of (Array.isArray(header) ? header.join(',') : header).split(',').slice(0, 32)) {
    const [tag = '', ...params] = item.trim().toLowerCase().split(';');
    const primary = tag.trim().split('-')[0];
    const locale = primary === 'zh' ? 'zh' : primary === 'en' ? 'en' : undefined;
    if (!locale) continue;
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (Number.isFinite(q) && q > bestQ) {
      best = locale;
      bestQ = q;
    }
  }
  return best;
}

/**
 * The person's language: the `locale` cookie first (what they chose on this browser), then their
 * account's locale, then Accept-Language (zh* → zh), else English.
 */
export function pickLocale(sources: { cookie?: unknown; account?: unknown; acceptLanguage?: string | string[] | undefined }): Locale {
  return asLocale(sources.cookie) ?? asLocale(sources.account) ?? localeFromAcceptLanguage(sources.acceptLanguage) ?? DEFAULT_LOCALE;
}
