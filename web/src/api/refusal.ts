import { ApiError } from '@imlab/client';

/**
 * The rule a content policy refusal names (GENERATION_CONTENT_POLICY, IMAGE_CONTENT_POLICY,
 * AUTH_DISPLAY_NAME_POLICY), in the page's language: the problem carries the rule's words in both
 * languages, so the page does not depend on which language the API answered in (the `locale`
 * cookie, else the account's). Undefined for any other failure.
 */
export function refusedRule(err: unknown, language: string): { text: string; field: string | undefined } | undefined {
  if (!(err instanceof ApiError) || err.status !== 422) return undefined;
  const words = err.problem?.ruleDescription as { en?: unknown; zh?: unknown } | undefined;
  const text = language === 'zh' ? words?.zh : words?.en;
  if (typeof text !== 'string') return undefined;
  const field = err.problem?.field;
  return { text, field: typeof field === 'string' ? field : undefined };
}
