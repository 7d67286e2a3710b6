/**
 * The content policy as generation applies it: the rules and the matcher live in @imlab/policy
 * (shared with auth's display names); this module turns a match into the 422 and keeps the form
 * prompts are stored in.
 */
import type { PolicyField } from '@imlab/contracts';
import { AppError } from '@imlab/http';
import { matchPolicy, POLICY_VERSION, type LocalizedText } from '@imlab/policy';

/** A refused rule as the answer names it: a policy rule, or a moderation model's category. */
export interface RefusedRule {
  id: string;
  description: LocalizedText;
}

const ZERO_WIDTH = /[\u200B-\u200D\u2060\uFEFF\u00AD]/g;

/** The form prompts are stored and checked in: NFKC, no zero-width or control characters, single spaces. */
export function normalisePrompt(text: string): string {
  return text
    .normalize('NFKC')
    .replace(ZERO_WIDTH, '')
    // eslint-disable-next-line no-control-regex -- removing control characters is the point
    .replace(/[\u0000-\u0008\u000B-\u001F\u007F]/g, ' ')
    .replace(/[ \t\r\n]+/g, ' ')
    .trim();
}

/**
 * The refusal: the message names the rule in the person's language; the body also carries the
 * rule's id, what broke it, the rule set's version and the rule's words in both languages (so a
 * page shows them in its own language even when the cookie says otherwise).
 */
export function policyRefusal(code: 'GENERATION_CONTENT_POLICY' | 'IMAGE_CONTENT_POLICY', rule: RefusedRule, field: PolicyField): AppError {
  return new AppError(code, {
    params: { rule: rule.description, field },
    details: { rule: rule.id, field, policyVersion: POLICY_VERSION, ruleDescription: rule.description },
  });
}

/** Throws the refusal for the first of the prompts that breaks a rule (the prompt before the negative prompt). */
export function checkPrompts(code: 'GENERATION_CONTENT_POLICY' | 'IMAGE_CONTENT_POLICY', prompt: string, negativePrompt: string | null): void {
  const fields: [PolicyField, string | null][] = [
    ['prompt', prompt],
    ['negativePrompt', negativePrompt],
  ];
  for (const [field, text] of fields) {
    const rule = matchPolicy(text);
    if (rule) throw policyRefusal(code, rule, field);
  }
}
