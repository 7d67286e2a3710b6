import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ERROR_CODE_LIST, GENERATION_END_CODES, STATUS_TITLES, errorMessage, isErrorCode, problemTitle, type ErrorCode, type ErrorParams } from '../src/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Every .ts file of the sources that answer problems: services/*\/src, gateway/src, packages/*\/src. */
function sourceFiles(): string[] {
  const roots = [
    join(ROOT, 'gateway/src'),
    ...readdirSync(join(ROOT, 'services')).map((s) => join(ROOT, 'services', s, 'src')),
    ...readdirSync(join(ROOT, 'packages')).map((p) => join(ROOT, 'packages', p, 'src')),
  ];
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts')) out.push(path);
    }
  };
  for (const root of roots) {
    try {
      if (statSync(root).isDirectory()) walk(root);
    } catch {
      // a package without src
    }
  }
  return out;
}

/** Namespaces that only error codes use. */
const NAMESPACED = /^(AUTH|BILLING|LEDGER|GENERATION|UPLOAD|IMAGE|NOTIFICATION|GATEWAY|STORAGE|UPSTREAM)_[A-Z0-9_]+$/;
const LITERAL = "'([A-Z][A-Z0-9_]{2,})'";
/**
 * Where a string becomes a problem's code, even when it travels as a value: the first argument of
 * AppError/ProviderError/problem/badRequest, a later argument of notFound/forbidden/answerProbe/
 * fail, a `code`/`errorCode`/`error_code` property, a value in a code table keyed by status or by
 * a Fastify/Node error code, and the operand of a comparison with a `.code`.
 */
const CONTEXTS = [
  new RegExp(`\\b(?:AppError|ProviderError|problem|badRequest)\\(\\s*${LITERAL}`, 'g'),
  new RegExp(`\\b(?:notFound|forbidden|answerProbe|fail)\\([^;]*?,\\s*${LITERAL}`, 'g'),
  new RegExp(`\\b(?:code|errorCode|error_code)\\s*[:=]\\s*${LITERAL}`, 'g'),
  new RegExp(`\\b(?:code|errorCode|error_code)\\s*[!=]==\\s*${LITERAL}`, 'g'),
  new RegExp(`^\\s*(?:[A-Z][A-Z0-9_]+|\\d{3}):\\s*${LITERAL}`, 'gm'),
  new RegExp(`\\?\\s*${LITERAL}\\s*:`, 'g'),
  new RegExp(`\\?\\?\\s*${LITERAL}`, 'g'),
  new RegExp(`:\\s*${LITERAL}\\s*[;)]`, 'g'),
];

/**
 * Literals the patterns above catch that are no problem codes: Node's and Fastify's own error codes
 * compared with an error's `.code`, environment variable names, and the client's placeholder for
 * an answer that was not problem+json.
 */
const NOT_PROBLEM_CODES = new Set([
  // an HTTP method's default (trace span names)
  'GET',
  'ECONNRESET',
  'ENOENT',
  'EEXIST',
  'FST_ERR_BAD_URL',
  'FST_ERR_MAX_PARAM_LENGTH',
  'ERR_HTTP_REQUEST_TIMEOUT',
  'HPE_HEADER_OVERFLOW',
  'GOOGLE_CLIENT_ID',
  'GOOGLE_CLIENT_SECRET',
  'IMAGE_PROVIDER',
  'UNKNOWN',
]);

function codesInSources(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const note = (code: string, file: string) => found.set(code, [...(found.get(code) ?? []), relative(ROOT, file)]);
  for (const file of sourceFiles()) {
    if (file.endsWith('error-codes.ts')) continue; // the registry itself
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(new RegExp(LITERAL, 'g'))) if (NAMESPACED.test(m[1]!) && !NOT_PROBLEM_CODES.has(m[1]!)) note(m[1]!, file);
    for (const re of CONTEXTS) for (const m of text.matchAll(re)) if (!NOT_PROBLEM_CODES.has(m[1]!)) note(m[1]!, file);
  }
  return found;
}

describe('the error code registry', () => {
  it('holds every code the sources answer with', () => {
    const found = codesInSources();
    // The scan sees the raising sites: if it finds few, its patterns broke, not the code base.
    expect(found.size).toBeGreaterThan(60);
    const unregistered = [...found].filter(([code]) => !isErrorCode(code)).map(([code, files]) => `${code} (${[...new Set(files)].join(', ')})`);
    expect(unregistered).toEqual([]);
  });

  it('holds no code nothing raises', () => {
    const found = codesInSources();
    expect(ERROR_CODE_LIST.filter((code) => !found.has(code))).toEqual([]);
  });

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
    ACCOUNT_SUSPENSION_UNCHANGED: [{ suspended: true }, { suspended: false }],
    LEDGER_GOODWILL_CAP: [{ cap: 'grant', limit: 500 }, { cap: 'day', limit: 2000 }],
    MODERATION_NOT_APPLICABLE: [{ action: 'dismiss' }, { action: 'takedown' }, { action: 'restore' }],
    LEDGER_INSUFFICIENT_CREDITS: [undefined, { cost: 12, shortfall: 5 }],
    GENERATION_NOT_CANCELABLE: [{ status: 'succeeded' }, { status: 'failed' }, { status: 'canceled' }, { status: 'rejected' }, { status: 'other' }],
    UPLOAD_TOO_MANY_PIXELS: [{ maxPixels: 40_000_000 }],
    GENERATION_PROMPT_TOO_LONG: [{ maxChars: 2000 }],
    GENERATION_CONTENT_POLICY: [{ rule: { en: 'sexual violence', zh: '性暴力' } }, ...(['prompt', 'negativePrompt', 'referenceUploadIds'] as const).map((field) => ({ rule: { en: 'sexual violence', zh: '性暴力' }, field }))],
    IMAGE_CONTENT_POLICY: (['prompt', 'negativePrompt', 'image'] as const).map((field) => ({ rule: { en: 'sexual violence', zh: '性暴力' }, field })),
    AUTH_DISPLAY_NAME_POLICY: [{ rule: { en: 'slurs or hateful propaganda against a group', zh: '针对群体的蔑称或仇恨宣传' } }],
    GENERATION_SIZE_MISMATCH: [{ size: '1024x1024', aspectRatio: '16:9' }],
    GENERATION_REFERENCES_UNSUPPORTED: [{ model: 'imlab-fast' }],
    GENERATION_UNSUPPORTED_OPTION: [
      { field: 'size', model: 'imlab-pro', allowed: ['1024x1024', '1536x1024'] },
      { field: 'seed', model: 'imlab-pro', allowed: [] },
      { field: 'referenceUploadIds', model: 'imlab-pro', allowed: ['image/png'] },
    ],
    BILLING_RECONCILIATION_PERIOD_INVALID: [{ rule: 'order' }, { rule: 'length', maxDays: 366 }],
    BILLING_WEBHOOK_SIGNATURE_INVALID: [undefined, { stale: true }],
    BILLING_PACK_NOT_FOUND: [{ packId: 'pack_x' }],
    FINANCE_PERIOD_INVALID: [{ reason: 'format' }, { reason: 'order' }, { reason: 'length', maxDays: 93 }],
    FINANCE_TIMEZONE_INVALID: [{ tz: 'Mars/Olympus' }],
    FINANCE_PERIOD_CLOSED: [{ month: '2026-11' }],
    FINANCE_PERIOD_NOT_OVER: [{ month: '2026-12' }],
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

  it('knows why a generation can end without images, in words that also read after "Refund — "', () => {
    expect(GENERATION_END_CODES).toEqual(expect.arrayContaining(['GENERATION_CANCELED', 'GENERATION_HOLD_EXPIRED', 'GENERATION_RENDER_ERROR', 'GENERATION_PROVIDER_TIMEOUT', 'GENERATION_REFERENCE_MISSING']));
    expect(GENERATION_END_CODES).not.toContain('GENERATION_NOT_FOUND');
    expect(GENERATION_END_CODES).not.toContain('GENERATION_PROMPT_EMPTY');
    for (const code of GENERATION_END_CODES) {
      // One clause: no second sentence, nothing addressed to the reader.
      expect(errorMessage(code, 'en'), code).toMatch(/^(The|A|An) [^;]+\.$/);
      expect(errorMessage(code, 'zh'), code).not.toMatch(/[；，]/);
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
