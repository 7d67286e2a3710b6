import i18n, { type BackendModule, type ReadCallback } from 'i18next';
import { initReactI18next } from 'react-i18next';
import enCommon from './locales/en/common.json';
import zhCommon from './locales/zh/common.json';
import { detectLocale, HTML_LANG, localeCookie, type Locale } from './locale';

/**
 * `common` (the page frame, home, placeholders) is in the entry chunk for both languages; the long
 * texts of the other pages (one namespace per page) are separate chunks loaded with their page.
 */
const lazyNamespaces = import.meta.glob<{ default: Record<string, unknown> }>(['./locales/*/*.json', '!./locales/*/common.json']);

const backend: BackendModule = {
  type: 'backend',
  init() {},
  read(language: string, namespace: string, callback: ReadCallback) {
    const load = lazyNamespaces[`./locales/${language}/${namespace}.json`];
    if (!load) return callback(new Error(`no ${language}/${namespace} texts`), false);
    load().then(
      (m) => callback(null, m.default),
      (err: Error) => callback(err, false),
    );
  },
};

export function startI18n(): typeof i18n {
  const locale = detectLocale(document.cookie, navigator.languages ?? [navigator.language]);
  void i18n
    .use(backend)
    .use(initReactI18next)
    .init({
      lng: locale,
      fallbackLng: 'en',
      supportedLngs: ['en', 'zh'],
      ns: ['common'],
      defaultNS: 'common',
      resources: { en: { common: enCommon }, zh: { common: zhCommon } },
      partialBundledLanguages: true,
      interpolation: { escapeValue: false },
      react: { useSuspense: true },
    });
  document.documentElement.lang = HTML_LANG[locale];
  return i18n;
}

/** Switches the language: texts, <html lang>, and the `locale` cookie (the API reads it too). */
export async function switchLocale(locale: Locale): Promise<void> {
  document.cookie = localeCookie(locale, location.protocol === 'https:');
  await i18n.changeLanguage(locale);
  document.documentElement.lang = HTML_LANG[locale];
}

export { i18n };
