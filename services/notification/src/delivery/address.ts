import { createHash } from 'node:crypto';

/**
 * How an address is kept where we must recognise it later (suppressions, the delivery log):
 * SHA-256 of the trimmed, lower-cased address. A lookup key that keeps the address itself out
 * of our tables; it is pseudonymous (a known address can be hashed and matched), not anonymous,
 * so user.purge still clears it from the delivery log.
 */
export function addressHash(address: string): string {
  return createHash('sha256').update(address.trim().toLowerCase()).digest('hex');
}

/** Removes the address from a provider's error message before it is stored as a reason. */
export function withoutAddress(reason: string, address: string): string {
  const escaped = address.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return reason.replace(new RegExp(escaped, 'gi'), '<recipient>');
}
