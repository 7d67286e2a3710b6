// The Create area's pure rules: which field an API refusal belongs to, the shortfall a 402 names,
// and why a generation ended in words, with every registered end code translated in both languages.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError, type Generation, type Problem } from '@imlab/client';
import { GENERATION_END_CODES } from '../../packages/contracts/src/error-codes.js';
import { endOf, fieldErrorText, fieldOfError, shortfallOf } from '../src/components/create/outcome.js';
import { WEB_DIR } from './build.js';

const problem = (code: Problem['code'], status: number, extra: Record<string, unknown> = {}): ApiError =>
  new ApiError(status, { type: 'about:blank', title: 't', status, code, detail: 'localized', ...extra } as Problem);
const texts = (lng: string) => JSON.parse(readFileSync(path.join(WEB_DIR, 'src/i18n/locales', lng, 'create.json'), 'utf8')) as { reasons: Record<string, string> };

describe('a refusal of the create form', () => {
  it('goes to its field: the policy and prompt rules to the prompt, an unsupported option to the field it names', () => {
    expect(fieldOfError(problem('GENERATION_CONTENT_POLICY', 422, { rule: 'terrorism' }))).toBe('prompt');
    expect(fieldOfError(problem('GENERATION_PROMPT_TOO_LONG', 422))).toBe('prompt');
    expect(fieldOfError(problem('GENERATION_UNSUPPORTED_OPTION', 422, { field: 'seed' }))).toBe('seed');
    expect(fieldOfError(problem('GENERATION_UNSUPPORTED_OPTION', 422, { field: 'size' }))).toBe('aspectRatio');
    expect(fieldOfError(problem('GENERATION_UNSUPPORTED_OPTION', 422, { field: 'referenceUploadIds' }))).toBe('references');
    expect(fieldOfError(problem('GENERATION_UNSUPPORTED_OPTION', 422))).toBe('model');
    expect(fieldOfError(problem('GENERATION_IDEMPOTENCY_KEY_REUSED', 422))).toBeUndefined();
    expect(fieldOfError(problem('LEDGER_INSUFFICIENT_CREDITS', 402, { shortfall: 3 }))).toBeUndefined();
    expect(fieldOfError(new Error('network'))).toBeUndefined();
  });

  it('a content policy refusal goes to the field it names and names the rule in the page\'s language, whatever language the API answered in', () => {
    const ruleDescription = { en: 'nudity or sexually explicit content', zh: '裸露或露骨的色情内容' };
    const negative = problem('GENERATION_CONTENT_POLICY', 422, { rule: 'sexual-explicit', field: 'negativePrompt', ruleDescription });
    expect(fieldOfError(negative)).toBe('negativePrompt');
    expect(fieldOfError(problem('GENERATION_CONTENT_POLICY', 422, { rule: 'moderation:violence/graphic', field: 'referenceUploadIds', ruleDescription }))).toBe('references');
    const t = ((key: string, vars?: { rule?: string }) => `${key}|${vars?.rule}`) as unknown as Parameters<typeof fieldErrorText>[0];
    expect(fieldErrorText(t, 'zh', negative)).toBe('errors.policy.negativePrompt|裸露或露骨的色情内容');
    expect(fieldErrorText(t, 'en', negative)).toBe('errors.policy.negativePrompt|nudity or sexually explicit content');
    // Without the rule's words (an older API): its own detail.
    expect(fieldErrorText(t, 'en', problem('GENERATION_CONTENT_POLICY', 422, { rule: 'terrorism' }))).toBe('localized');
    for (const lng of ['en', 'zh']) {
      const policy = (JSON.parse(readFileSync(path.join(WEB_DIR, 'src/i18n/locales', lng, 'create.json'), 'utf8')) as { errors: { policy: Record<string, string> } }).errors.policy;
      expect(Object.keys(policy).sort()).toEqual(['negativePrompt', 'prompt', 'referenceUploadIds']);
      for (const text of Object.values(policy)) expect(text).toContain('{{rule}}');
    }
  });

  it('402: the shortfall the problem names, else what the quote exceeds the balance by', () => {
    expect(shortfallOf(problem('LEDGER_INSUFFICIENT_CREDITS', 402, { shortfall: 8, cost: 24 }), 24, 16)).toBe(8);
    expect(shortfallOf(problem('LEDGER_INSUFFICIENT_CREDITS', 402), 24, 20)).toBe(4);
    expect(shortfallOf(problem('GENERATION_CONTENT_POLICY', 422), 24, 16)).toBeUndefined();
  });
});

describe('why a generation ended', () => {
  const t = ((key: string, vars?: { count?: number }) => (vars?.count !== undefined ? `${key}:${vars.count}` : key)) as unknown as Parameters<typeof endOf>[0];
  const gen = (status: Generation['status'], errorCode: string | null): Generation => ({ status, errorCode, cost: 6 }) as Generation;

  it('failed and canceled: the reason and the credits back; rejected: nothing was charged; otherwise nothing to say', () => {
    expect(endOf(t, gen('failed', 'GENERATION_PROVIDER_TIMEOUT'))).toEqual({ reason: 'reasons.GENERATION_PROVIDER_TIMEOUT', credits: 'generation.creditsBack:6' });
    expect(endOf(t, gen('failed', 'SOMETHING_NEW'))).toEqual({ reason: 'reasons.unknown', credits: 'generation.creditsBack:6' });
    expect(endOf(t, gen('canceled', null))).toEqual({ reason: 'reasons.GENERATION_CANCELED', credits: 'generation.creditsBack:6' });
    expect(endOf(t, gen('rejected', 'LEDGER_INSUFFICIENT_CREDITS'))).toEqual({ reason: 'reasons.LEDGER_INSUFFICIENT_CREDITS', credits: 'generation.nothingCharged' });
    expect(endOf(t, gen('succeeded', null))).toBeUndefined();
    expect(endOf(t, gen('running', null))).toBeUndefined();
  });

  it('every registered end code has its words in English and Chinese', () => {
    for (const lng of ['en', 'zh']) {
      const reasons = texts(lng).reasons;
      for (const code of [...GENERATION_END_CODES, 'LEDGER_INSUFFICIENT_CREDITS', 'unknown']) expect(reasons[code], `${lng}: ${code}`).toBeTruthy();
      // and what is translated is also recognised (not shown as "unknown")
      for (const code of GENERATION_END_CODES) expect(endOf(t, gen('failed', code))!.reason).toBe(`reasons.${code}`);
    }
  });
});
