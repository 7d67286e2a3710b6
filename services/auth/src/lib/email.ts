/** Stored and compared form of an address: NFKC, trimmed, lower-cased. */
export function normaliseEmail(email: string): string {
  return email.normalize('NFKC').trim().toLowerCase();
}

/** A display name when none is given: the mailbox part, which the person chose. */
export function defaultDisplayName(email: string): string {
  return (email.split('@')[0] ?? '').slice(0, 64);
}
