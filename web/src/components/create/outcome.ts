import type { TFunction } from 'i18next';
import type { Generation } from '../../api/create';

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

/** A date and time in the page's language. */
export function formatDate(language: string, iso: string): string {
  return new Intl.DateTimeFormat(language === 'zh' ? 'zh-CN' : 'en', { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}
