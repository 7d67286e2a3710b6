import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import i18next from 'i18next';
import { POLICY_RULES } from '@imlab/policy';
import { describe, expect, it } from 'vitest';
import { detectLocale, localeCookie, localeFromCookie, localeFromLanguages } from '../src/i18n/locale.js';
import { WEB_DIR } from './build.js';

const LOCALES_DIR = path.join(WEB_DIR, 'src/i18n/locales');

/** Every key path of a JSON value (arrays by index), with the type of what it holds. */
function shape(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => shape(v, `${prefix}[${i}]`));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => shape(v, prefix ? `${prefix}.${k}` : k));
  return [`${prefix}:${typeof value}`];
}

/** The `<tag>` names a text uses. */
const tags = (text: string) => [...text.matchAll(/<(\w+)>/g)].map((m) => m[1]).sort();

describe('the texts', () => {
  const namespaces = readdirSync(path.join(LOCALES_DIR, 'en')).filter((f) => f.endsWith('.json'));

  it('exist in English and Chinese for the same namespaces', () => {
    expect(readdirSync(path.join(LOCALES_DIR, 'zh')).filter((f) => f.endsWith('.json')).sort()).toEqual([...namespaces].sort());
    expect(namespaces).toEqual(expect.arrayContaining(['common.json', 'privacy.json', 'terms.json', 'content.json', 'changelog.json', 'contact.json']));
  });

  for (const ns of namespaces) {
    it(`${ns}: the same keys, no empty text, the same markup in both languages`, () => {
      const en = JSON.parse(readFileSync(path.join(LOCALES_DIR, 'en', ns), 'utf8')) as unknown;
      const zh = JSON.parse(readFileSync(path.join(LOCALES_DIR, 'zh', ns), 'utf8')) as unknown;
      // pluralised keys differ by language (Chinese has one form): compared without the suffix
      const norm = (keys: string[]) => [...new Set(keys.map((k) => k.replace(/_(one|other)(?=:)/, '')))].sort();
      expect(norm(shape(zh))).toEqual(norm(shape(en)));
      const texts = (v: unknown): string[] => (typeof v === 'string' ? [v] : Array.isArray(v) ? v.flatMap(texts) : v && typeof v === 'object' ? Object.values(v).flatMap(texts) : []);
      for (const t of [...texts(en), ...texts(zh)]) expect(t.trim(), ns).not.toBe('');
      const pairs = (v: unknown, w: unknown): [string, string][] =>
        typeof v === 'string' && typeof w === 'string'
          ? [[v, w]]
          : v && w && typeof v === 'object' && typeof w === 'object'
            ? Object.keys(v).flatMap((k) => pairs((v as Record<string, unknown>)[k], (w as Record<string, unknown>)[k]))
            : [];
      for (const [a, b] of pairs(en, zh)) expect(tags(b), a).toEqual(tags(a));
    });
  }

  it('group the numbers they count (1,500 credits, not 1500)', async () => {
    // A count is a raw number: every text that shows one formats it; the other numbers reach the
    // texts formatted already (number() in pages/account/common).
    const RAW_NUMBERS = ['count', 'transactions', 'payouts', 'checkpoints', 'sealed', 'unsealed', 'fee', 'timing', 'unmatched'];
    const read = (lng: string, ns: string) => JSON.parse(readFileSync(path.join(LOCALES_DIR, lng, ns), 'utf8')) as Record<string, Record<string, string>>;
    for (const lng of ['en', 'zh'])
      for (const ns of namespaces) {
        const text = readFileSync(path.join(LOCALES_DIR, lng, ns), 'utf8');
        for (const name of RAW_NUMBERS) expect(text, `${lng}/${ns}`).not.toContain(`{{${name}}}`);
        // the Stripe check's counts (its `amount` is a count there, money elsewhere)
        if (ns === 'finance.json')
          for (const [key, value] of Object.entries(read(lng, ns).monthEnd!)) if (key.startsWith('differences')) expect(value, key).not.toMatch(/\{\{\w+\}\}/);
      }
    // the app's own texts, through i18next with the app's options (web/src/i18n/index.ts)
    const i18n = i18next.createInstance();
    await i18n.init({
      lng: 'en',
      fallbackLng: 'en',
      supportedLngs: ['en', 'zh'],
      resources: { en: { pricing: read('en', 'pricing.json'), billing: read('en', 'billing.json') }, zh: { pricing: read('zh', 'pricing.json'), billing: read('zh', 'billing.json') } },
      interpolation: { escapeValue: false },
    });
    expect(i18n.t('pricing:credits', { count: 1500 })).toBe('1,500 credits');
    expect(i18n.t('pricing:credits', { count: 1 })).toBe('1 credit');
    expect(i18n.t('pricing:credits', { count: 1500, lng: 'zh' })).toBe('1,500 积分');
    expect(i18n.t('billing:success.balance', { count: 12345 })).toBe('Your balance is now 12,345 credits.');
  });

  it("name every content-policy rule in the back office's daily metrics with the policy's own words", () => {
    for (const lng of ['en', 'zh'] as const) {
      const admin = JSON.parse(readFileSync(path.join(LOCALES_DIR, lng, 'admin.json'), 'utf8')) as { metrics: { values: { rule: Record<string, string> } } };
      expect(admin.metrics.values.rule).toEqual(Object.fromEntries(POLICY_RULES.map((r) => [r.id, r.description[lng]])));
    }
  });

  it('say nothing about paths outside the app', () => {
    for (const lng of ['en', 'zh']) for (const ns of namespaces) expect(readFileSync(path.join(LOCALES_DIR, lng, ns), 'utf8')).not.toMatch(/\/tmp\/|file:\/\//);
  });
});

describe('the language', () => {
  it('comes from the locale cookie first', () => {
    expect(localeFromCookie('a=1; locale=zh; b=2')).toBe('zh');
    expect(localeFromCookie('locale=en')).toBe('en');
    expect(localeFromCookie('locale=fr')).toBeUndefined();
    expect(localeFromCookie('xlocale=zh')).toBeUndefined();
    expect(detectLocale('locale=en', ['zh-CN'])).toBe('en');
  });

  it('else from the browser: any Chinese reads the Simplified text, anything else English', () => {
    expect(localeFromLanguages(['zh-CN', 'en'])).toBe('zh');
    expect(localeFromLanguages(['zh-TW'])).toBe('zh');
    expect(localeFromLanguages(['fr-FR', 'zh'])).toBe('zh');
    expect(localeFromLanguages(['de-DE', 'fr'])).toBe('en');
    expect(localeFromLanguages([])).toBe('en');
    expect(detectLocale('', ['en-GB', 'zh-CN'])).toBe('en');
  });

  it('is remembered in the cookie auth reads: a year, the whole site, SameSite=Lax, Secure on https', () => {
    expect(localeCookie('zh', false)).toBe('locale=zh; path=/; max-age=31536000; samesite=lax');
    expect(localeCookie('en', true)).toBe('locale=en; path=/; max-age=31536000; samesite=lax; secure');
  });
});
