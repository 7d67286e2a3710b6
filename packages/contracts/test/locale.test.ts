import { describe, expect, it } from 'vitest';
import { asLocale, cookieValue, localeFromAcceptLanguage, pickLocale } from '../src/index.js';

describe('the person’s language', () => {
  it('reads the locale cookie out of a Cookie header, taking only en or zh', () => {
    expect(cookieValue('a=1; locale=zh; b=2', 'locale')).toBe('zh');
    expect(cookieValue(['a=1', 'locale=en'], 'locale')).toBe('en');
    expect(cookieValue('xlocale=zh', 'locale')).toBeUndefined();
    expect(cookieValue(undefined, 'locale')).toBeUndefined();
    expect(asLocale('zh')).toBe('zh');
    expect(asLocale('zh-CN')).toBeUndefined();
    expect(asLocale('en; Domain=evil')).toBeUndefined();
  });

  it('takes the most preferred of zh* and en* from Accept-Language', () => {
    expect(localeFromAcceptLanguage('zh-CN,zh;q=0.9,en;q=0.8')).toBe('zh');
    expect(localeFromAcceptLanguage('zh-TW')).toBe('zh');
    expect(localeFromAcceptLanguage('zh-Hans-CN')).toBe('zh');
    expect(localeFromAcceptLanguage('en-GB,en;q=0.9,zh;q=0.5')).toBe('en');
    expect(localeFromAcceptLanguage('fr-FR, zh;q=0.7, en;q=0.5')).toBe('zh');
    expect(localeFromAcceptLanguage('en;q=0.2, zh;q=0.4')).toBe('zh');
    expect(localeFromAcceptLanguage('zh;q=0, en;q=0.1')).toBe('en');
    expect(localeFromAcceptLanguage('de, fr')).toBeUndefined();
    expect(localeFromAcceptLanguage('*')).toBeUndefined();
    expect(localeFromAcceptLanguage('')).toBeUndefined();
  });

  it('prefers the cookie, then the account, then Accept-Language, else English', () => {
    expect(pickLocale({ cookie: 'zh', account: 'en', acceptLanguage: 'en' })).toBe('zh');
    expect(pickLocale({ cookie: 'fr', account: 'zh', acceptLanguage: 'en' })).toBe('zh');
    expect(pickLocale({ account: undefined, acceptLanguage: 'zh-CN' })).toBe('zh');
    expect(pickLocale({ acceptLanguage: 'de' })).toBe('en');
    expect(pickLocale({})).toBe('en');
  });
});
