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
