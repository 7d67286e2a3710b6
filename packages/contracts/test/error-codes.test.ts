import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ERROR_CODE_LIST, STATUS_TITLES, errorMessage, problemTitle, type ErrorCode, type ErrorParams } from '../src/index.js';

describe('the error code registry', () => {
  it('gives each code a status a problem can have, with a title in both languages', () => {
    for (const code of ERROR_CODE_LIST) {
      const { status } = ERROR_CODES[code];
      expect(Number.isInteger(status) && status >= 400 && status <= 599, code).toBe(true);
      expect(STATUS_TITLES[status], `${code}: no title for ${status}`).toBeDefined();
      expect(problemTitle(status, 'en')).toMatch(/^[A-Z][A-Za-z -]+$/);
      expect(problemTitle(status, 'zh')).toMatch(/\p{Script=Han}/u);
    }
  });

  /** Parameters for the codes whose messages take some, to render every message. */
  const SAMPLES: { [C in ErrorCode]?: ErrorParams<C>[] } = {
    PAYLOAD_TOO_LARGE: [undefined, { maxBytes: 1024 }],
    AUTH_WEAK_PASSWORD: [{ rule: 'length', min: 10, max: 128 }, { rule: 'breached' }],
    AUTH_REAUTH_REQUIRED: [{ reason: 'wrong-password' }, { reason: 'confirm' }],
    LEDGER_INSUFFICIENT_CREDITS: [undefined, { cost: 12, shortfall: 5 }],
    GENERATION_NOT_CANCELABLE: [{ status: 'succeeded' }, { status: 'failed' }, { status: 'canceled' }, { status: 'rejected' }, { status: 'other' }],
    UPLOAD_TOO_MANY_PIXELS: [{ maxPixels: 40_000_000 }],
    GENERATION_PROMPT_TOO_LONG: [{ maxChars: 2000 }],
    GENERATION_CONTENT_POLICY: [{ rule: { en: 'sexual violence', zh: '性暴力' } }],
    GENERATION_SIZE_MISMATCH: [{ size: '1024x1024', aspectRatio: '16:9' }],
    GENERATION_REFERENCES_UNSUPPORTED: [{ model: 'imlab-fast' }],
    BILLING_RECONCILIATION_PERIOD_INVALID: [{ rule: 'order' }, { rule: 'length', maxDays: 366 }],
    BILLING_WEBHOOK_SIGNATURE_INVALID: [undefined, { stale: true }],
    BILLING_PACK_NOT_FOUND: [{ packId: 'pack_x' }],
  };

  it('has a readable message in English and in Chinese for every code (and every variant of it)', () => {
    for (const code of ERROR_CODE_LIST) {
      const spec = ERROR_CODES[code];
      const takesParams = typeof spec.en === 'function' || typeof spec.zh === 'function';
      expect(typeof spec.en === 'function', `${code}: en and zh take the same parameters`).toBe(typeof spec.zh === 'function');
      const variants: unknown[] = takesParams ? (SAMPLES[code] ?? []) : [undefined];
      expect(variants.length, `${code} takes parameters: add samples to render it`).toBeGreaterThan(0);
      for (const params of variants) {
        const en = errorMessage(code, 'en', params as never);
        const zh = errorMessage(code, 'zh', params as never);
        // A sentence a person reads: capitalised, ends with a full stop, no code names, no internals.
        expect(en, code).toMatch(/^["A-Z].{5,}[.)]$/);
        expect(en, code).not.toMatch(/\p{Script=Han}|undefined|\[object|[A-Z]{3,}_[A-Z]/u);
        expect(zh, code).toMatch(/\p{Script=Han}/u);
        expect(zh, code).toMatch(/[。）]$/);
        expect(zh, code).not.toMatch(/undefined|\[object|[A-Z]{3,}_[A-Z]/);
        if (params !== undefined) expect(en, `${code} renders its parameters`).not.toBe(errorMessage(code, 'en', undefined as never));
      }
    }
  });

  it('keeps 5xx messages generic: no parameters, so nothing of a request or an internal state reaches them', () => {
    for (const code of ERROR_CODE_LIST) {
      const spec = ERROR_CODES[code];
      if (spec.status < 500) continue;
      expect(typeof spec.en, code).toBe('string');
      expect(typeof spec.zh, code).toBe('string');
    }
  });
});
