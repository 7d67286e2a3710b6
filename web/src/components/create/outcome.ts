import type { TFunction } from 'i18next';
import { ApiError } from '@imlab/client';
import { refusedRule } from '../../api/refusal';
import type { Generation } from '../../api/create';

/** Where the API's refusal of a field is shown: the form's own field ids. */
const FIELD_OF: Record<string, string> = {
  prompt: 'prompt',
  negativePrompt: 'negativePrompt',
  model: 'model',
  size: 'aspectRatio',
  aspectRatio: 'aspectRatio',
  count: 'count',
  seed: 'seed',
  referenceUploadIds: 'references',
};

/** The field an API refusal is about, if it is about one. */
export function fieldOfError(err: unknown): string | undefined {
  if (!(err instanceof ApiError) || err.status !== 422) return undefined;
  switch (err.code) {
    case 'GENERATION_CONTENT_POLICY': {
      const field = err.problem?.field;
      return typeof field === 'string' ? (FIELD_OF[field] ?? 'prompt') : 'prompt';
    }
    case 'GENERATION_PROMPT_EMPTY':
    case 'GENERATION_PROMPT_TOO_LONG':
      return 'prompt';
    case 'GENERATION_SIZE_MISMATCH':
      return 'aspectRatio';
    case 'GENERATION_REFERENCES_UNSUPPORTED':
    case 'GENERATION_REFERENCE_NOT_FOUND':
      return 'references';
    case 'GENERATION_UNSUPPORTED_OPTION': {
      const field = err.problem?.field;
      return typeof field === 'string' ? (FIELD_OF[field] ?? 'model') : 'model';
    }
    default:
      return undefined;
  }
}

/**
 * What to say under the field an API refusal is about: a content policy refusal names its rule in
 * the page's language; anything else is the API's own detail.
 */
export function fieldErrorText(t: TFunction<'create'>, language: string, err: unknown): string | undefined {
  const rule = refusedRule(err, language);
  if (rule) return t(`errors.policy.${rule.field === 'negativePrompt' || rule.field === 'referenceUploadIds' ? rule.field : 'prompt'}`, { rule: rule.text });
  return err instanceof ApiError ? err.problem?.detail : undefined;
}

/** Credits missing for a refused (402) create: the problem's `shortfall`, else cost minus balance. */
export function shortfallOf(err: unknown, cost: number | undefined, available: number | undefined): number | undefined {
  if (!(err instanceof ApiError) || err.status !== 402) return undefined;
  const given = err.problem?.shortfall;
  if (typeof given === 'number' && given > 0) return given;
  return cost !== undefined && available !== undefined ? Math.max(1, cost - available) : undefined;
}

const KNOWN_REASONS = new Set([
  'GENERATION_CANCELED',
  'GENERATION_RENDER_ERROR',
  'GENERATION_REFERENCE_MISSING',
  'GENERATION_PROVIDER_TIMEOUT',
  'GENERATION_PROVIDER_UNREACHABLE',
  'GENERATION_PROVIDER_BAD_RESPONSE',
  'GENERATION_PROVIDER_QUOTA',
  'GENERATION_PROVIDER_RATE_LIMITED',
  'GENERATION_PROVIDER_UNAVAILABLE',
  'GENERATION_PROVIDER_AUTH',
  'GENERATION_PROVIDER_POLICY',
  'GENERATION_PROVIDER_REJECTED',
  'GENERATION_HOLD_EXPIRED',
  'LEDGER_INSUFFICIENT_CREDITS',
]);

/**
 * Why a generation ended without images, in the person's language (the `create` namespace), and
 * whether its credits came back: failed and canceled ones give back what they held; a rejected one
 * held nothing.
 */
export function endOf(t: TFunction<'create'>, g: Generation): { reason: string; credits: string | undefined } | undefined {
  if (g.status !== 'failed' && g.status !== 'canceled' && g.status !== 'rejected') return undefined;
  const code = g.errorCode && KNOWN_REASONS.has(g.errorCode) ? g.errorCode : g.status === 'canceled' ? 'GENERATION_CANCELED' : 'unknown';
  const credits = g.status === 'rejected' ? t('generation.nothingCharged') : t('generation.creditsBack', { count: g.cost });
  return { reason: t(`reasons.${code}`), credits };
}

/** A generation's cost as the person is charged it: one that ended without images was not (its held credits went back). */
export function costText(t: TFunction, g: Pick<Generation, 'status' | 'cost'>): string {
  const cost = t('create:price.cost', { count: g.cost });
  return g.status === 'failed' || g.status === 'canceled' || g.status === 'rejected' ? t('create:generation.costNotCharged', { cost }) : cost;
}
