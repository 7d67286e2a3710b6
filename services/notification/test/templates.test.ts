import { describe, expect, it } from 'vitest';
import { EMAIL_TEMPLATES, type EmailTemplate } from '@imlab/contracts';
import { renderEmail } from '../src/mail/render.js';
import { resolveLink } from '../src/mail/links.js';
import { TemplateDataError } from '../src/mail/data.js';

const BASE = 'https://app.imlab.test';

/** Data each template needs, as its callers send it. */
const SAMPLE: Record<EmailTemplate, Record<string, string | number>> = {
  'verify-email': { link: '/verify-email?token=tok_verify_123' },
  'password-reset': { link: `${BASE}/reset-password?token=tok_reset_456`, expiresInMinutes: 30 },
  'password-changed': { changedAt: '2026-03-01T10:00:00Z' },
  'purchase-receipt': { orderId: '0190a1b2-0000-7000-8000-000000000001', credits: 1200, amount: 1999, currency: 'usd' },
  'low-balance': { available: 12, threshold: 20 },
  'generation-refunded': { generationId: '0190a1b2-0000-7000-8000-000000000002', credits: 40 },
  'account-deletion-scheduled': { purgeAfter: '2026-04-01T00:00:00Z' },
  'account-deleted': {},
  'export-ready': { link: '/exports/0190a1b2-0000-7000-8000-000000000003', expiresAt: '2026-03-08T00:00:00Z' },
  'google-sign-in-refused': { attemptedAt: '2026-03-01T10:00:00Z' },
  'email-change-confirm': { link: '/email-change?confirm=tok_change_789', expiresInHours: 24 },
  'email-changed': { link: '/email-change?undo=tok_undo_012', newEmailMasked: 'm•••@example.com', undoDays: 7 },
  'google-linked': { linkedAt: '2026-03-01T10:00:00Z' },
  'google-unlinked': { unlinkedAt: '2026-03-01T10:00:00Z' },
  'account-deletion-cancelled': {},
  'image-taken-down': { rule: 'violence', takenDownAt: '2026-03-01T10:00:00Z' },
  'account-suspended': {},
  'account-reinstated': {},
};

describe('email templates', () => {
  for (const template of EMAIL_TEMPLATES) {
    for (const locale of ['en', 'zh'] as const) {
      it(`renders ${template} in ${locale} as HTML and text from the shared layout`, () => {
        const mail = renderEmail({ template, locale, data: SAMPLE[template], publicBaseUrl: BASE, displayName: 'Mei' });
        expect(mail.subject.length).toBeGreaterThan(3);
        expect(mail.html).toMatch(/^<!doctype html>/);
        expect(mail.html).toContain(`<title>${mail.subject}</title>`);
        expect(mail.html).toContain(locale === 'zh' ? 'lang="zh-CN"' : 'lang="en"');
        expect(mail.html).toContain(locale === 'zh' ? '你收到这封邮件' : 'You are receiving this email');
        expect(mail.text).toContain(locale === 'zh' ? 'Mei，你好：' : 'Hi Mei,');
        for (const out of [mail.html, mail.text, mail.subject]) {
          expect(out).not.toMatch(/undefined|NaN|\[object Object\]/);
        }
        if (locale === 'zh') expect(mail.text).toMatch(/[\u4e00-\u9fff]/);
        else expect(mail.text).not.toMatch(/[\u4e00-\u9fff]/);
        // every link in both bodies points into PUBLIC_BASE_URL
        const links = [...mail.html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replaceAll('&amp;', '&'));
        for (const l of links) expect(l.startsWith(`${BASE}/`)).toBe(true);
        for (const l of mail.text.match(/https?:\/\/\S+/g) ?? []) expect(l.startsWith(`${BASE}/`)).toBe(true);
      });
    }
  }

  it('formats the receipt amount from minor units in the reader\'s locale', () => {
    const en = renderEmail({ template: 'purchase-receipt', locale: 'en', data: SAMPLE['purchase-receipt'], publicBaseUrl: BASE });
    const zh = renderEmail({ template: 'purchase-receipt', locale: 'zh', data: SAMPLE['purchase-receipt'], publicBaseUrl: BASE });
    expect(en.text).toContain('Amount paid: $19.99');
    expect(en.text).toContain('Credits: 1,200');
    expect(zh.text).toContain('US$19.99');
    const yen = renderEmail({ template: 'purchase-receipt', locale: 'en', data: { ...SAMPLE['purchase-receipt'], amount: 1500, currency: 'JPY' }, publicBaseUrl: BASE });
    expect(yen.text).toContain('¥1,500');
  });

  it('escapes HTML in a display name and keeps it on one line in the text body', () => {
    const evil = '<img src=x onerror="alert(1)">&co\nBcc: victim@example.com';
    const mail = renderEmail({ template: 'verify-email', locale: 'en', data: { link: '/verify-email?token=t', displayName: evil }, publicBaseUrl: BASE });
    expect(mail.html).not.toContain('<img');
    expect(mail.html).toContain('Hi &lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;co Bcc: victim@example.com,');
    expect(mail.text).toContain('Hi <img src=x onerror="alert(1)">&co Bcc: victim@example.com,');
    expect(mail.text).not.toMatch(/\nBcc:/);
  });

  it('escapes the link inside the href attribute', () => {
    const mail = renderEmail({ template: 'verify-email', locale: 'en', data: { link: '/verify-email?token=a"b<c&d=1' }, publicBaseUrl: BASE });
    expect(mail.html).not.toContain('a"b');
    expect(mail.html).toContain('href="https://app.imlab.test/verify-email?token=a%22b%3Cc&amp;d=1"');
  });

  it('refuses data missing what the template needs', () => {
    expect(() => renderEmail({ template: 'verify-email', locale: 'en', data: {}, publicBaseUrl: BASE })).toThrow(TemplateDataError);
    expect(() => renderEmail({ template: 'purchase-receipt', locale: 'zh', data: { ...SAMPLE['purchase-receipt'], credits: -1 }, publicBaseUrl: BASE })).toThrow(
      /credits/,
    );
    expect(() => renderEmail({ template: 'purchase-receipt', locale: 'en', data: { ...SAMPLE['purchase-receipt'], currency: '$$$' }, publicBaseUrl: BASE })).toThrow(
      /currency/,
    );
    expect(() => renderEmail({ template: 'account-deletion-scheduled', locale: 'en', data: { purgeAfter: 'soon' }, publicBaseUrl: BASE })).toThrow(/purgeAfter/);
    expect(() => renderEmail({ template: 'image-taken-down', locale: 'en', data: { rule: 'made-up' }, publicBaseUrl: BASE })).toThrow(/rule/);
  });

  it('names the rule a takedown broke in the reader\'s language', () => {
    const en = renderEmail({ template: 'image-taken-down', locale: 'en', data: { rule: 'violence' }, publicBaseUrl: BASE });
    const zh = renderEmail({ template: 'image-taken-down', locale: 'zh', data: { rule: 'violence' }, publicBaseUrl: BASE });
    expect(en.text).toContain('graphic violence');
    expect(zh.text).toContain('血腥暴力内容');
  });
});

describe('links in emails', () => {
  it('builds a link from a path and PUBLIC_BASE_URL', () => {
    expect(resolveLink(BASE, '/verify-email?token=x')).toBe('https://app.imlab.test/verify-email?token=x');
    expect(resolveLink('https://example.com/app', '/verify?t=1')).toBe('https://example.com/app/verify?t=1');
    expect(resolveLink('https://example.com/app/', '/verify?t=1')).toBe('https://example.com/app/verify?t=1');
  });

  it('accepts an absolute link only when it lies under PUBLIC_BASE_URL', () => {
    expect(resolveLink(BASE, `${BASE}/reset?token=1`)).toBe(`${BASE}/reset?token=1`);
    expect(resolveLink('https://example.com/app', 'https://example.com/app/x')).toBe('https://example.com/app/x');
    for (const bad of [
      'https://evil.test/verify',
      'https://app.imlab.test.evil.test/verify',
      'http://app.imlab.test/verify',
      'https://user:pw@app.imlab.test/verify',
      '//evil.test/verify',
      '/\\evil.test/verify',
      'javascript:alert(1)',
      'not a url',
    ]) {
      expect(() => resolveLink(BASE, bad), bad).toThrow(/PUBLIC_BASE_URL|valid/);
    }
    expect(() => resolveLink('https://example.com/app', 'https://example.com/application')).toThrow();
    expect(() => resolveLink('https://example.com/app', '/../admin')).toThrow();
  });

  it('fails a template whose link points elsewhere', () => {
    expect(() => renderEmail({ template: 'verify-email', locale: 'en', data: { link: 'https://evil.test/verify?token=1' }, publicBaseUrl: BASE })).toThrow(
      TemplateDataError,
    );
  });
});
