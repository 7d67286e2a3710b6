import { createHash, randomBytes } from 'node:crypto';

/** A 256-bit opaque token, base64url: session ids, email links. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What is stored or used as a cache key in place of a token: its SHA-256, hex. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Tokens we issue are exactly 43 base64url characters; anything else is rejected before any lookup. */
export function looksLikeToken(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9_-]{43}$/.test(value);
}
