/** The languages the app speaks; `locale` cookie values (auth sets the same cookie). */
export const LOCALES = ['en', 'zh'] as const;
export type Locale = (typeof LOCALES)[number];

export const LOCALE_COOKIE = 'locale';

/** BCP 47 tags for <html lang>: Chinese here is Simplified. */
export const HTML_LANG: Record<Locale, string> = { en: 'en', zh: 'zh-Hans' };

export function isLocale(value: unknown): value is Locale {
  return value === 'en' || value === 'zh';
}

/** The `locale` cookie's value in a `document.cookie` string, if it is one we speak. */
export function localeFromCookie(cookieHeader: string): Locale | undefined {
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== LOCALE_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    if (isLocale(value)) return value;
  }
  return undefined;
}

/** The first of the browser's languages that we speak (any Chinese reads the Simplified text), else English. */
export function localeFromLanguages(languages: readonly string[]): Locale {
  for (const tag of languages) {
    const primary = tag.toLowerCase().split('-')[0];
    if (primary === 'zh') return 'zh';
    if (primary === 'en') return 'en';
  }
  return 'en';
}

/** The cookie wins (the person chose, here or at sign-in), else the browser's languages. */
export function detectLocale(cookieHeader: string, languages: readonly string[]): Locale {
  return localeFromCookie(cookieHeader) ?? localeFromLanguages(languages);
}

/** The Set-Cookie-like string the app writes when a person switches language. */
export function localeCookie(locale: Locale, secure: boolean): string {
  return `${LOCALE_COOKIE}=${locale}; path=/; max-age=31536000; samesite=lax${secure ? '; secure' : ''}`;
}
