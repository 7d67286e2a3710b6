import { AppError } from '@imlab/http';
import { matchPolicy, POLICY_VERSION } from '@imlab/policy';

/** Stored and compared form of an address: NFKC, trimmed, lower-cased. */
export function normaliseEmail(email: string): string {
  return email.normalize('NFKC').trim().toLowerCase();
}

/**
 * No display name is made up from the address: a name shows next to published images in the
 * public gallery, and the mailbox part of an address (often a person's full name) is not one the
 * person chose to show. Until they set one, they have none (the gallery says "anonymous", emails
 * greet without a name).
 */
export const NO_DISPLAY_NAME = '';

/**
 * Characters that change how text around them is shown without showing themselves: bidi
 * embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), marks (U+200E, U+200F,
 * U+061C), zero-width and joiner characters (U+200B–U+200D, U+2060, U+FEFF, U+180E), other
 * invisible format characters (Unicode category Cf), control characters and line separators.
 * In a display name they spoof ("‮evil" shows reversed) or hide who someone is.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\u2028\u2029\u180E]/gu;

/** A display name as stored: NFC, invisible and control characters removed, trimmed. */
export function cleanDisplayName(name: string): string {
  return name.normalize('NFC').replace(INVISIBLE, '').trim();
}

/**
 * Refuses a display name the content policy (@imlab/policy, the rules prompts are checked
 * against) forbids: it shows next to every image the person publishes. Checked on the cleaned
 * name, before anything is stored; the 422 names the rule, never the name.
 */
export function checkDisplayName(cleaned: string): void {
  const rule = matchPolicy(cleaned);
  if (rule) {
    throw new AppError('AUTH_DISPLAY_NAME_POLICY', {
      params: { rule: rule.description },
      details: { rule: rule.id, field: 'displayName', policyVersion: POLICY_VERSION, ruleDescription: rule.description },
    });
  }
}
