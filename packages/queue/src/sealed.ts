import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Sealed message fields. A message that must carry a secret to its consumer (the single-use
 * link token in a verification or reset email) carries it encrypted with AES-256-GCM under
 * MESSAGE_SEAL_KEY, so the outbox table, Redis and BullMQ's job retention only ever hold
 * ciphertext. Only the producer and the consumer know the key.
 */
const PREFIX = 'sealed:v1:';

function keyOf(secret: string): Buffer {
  return createHash('sha256').update(`imlab-message-seal:${secret}`).digest();
}

export function seal(plaintext: string, secret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyOf(secret), iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

export function isSealed(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(PREFIX);
}

/** Opens a sealed value; throws when it was tampered with or sealed under another key. */
export function unseal(value: string, secret: string): string {
  if (!isSealed(value)) throw new Error('value is not sealed');
  const raw = Buffer.from(value.slice(PREFIX.length), 'base64url');
  if (raw.length < 28) throw new Error('sealed value is truncated');
  const decipher = createDecipheriv('aes-256-gcm', keyOf(secret), raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}
