import { hash, verify } from '@node-rs/argon2';
import { dictionary } from '@zxcvbn-ts/language-common';
import { AppError } from '@imlab/http';

/** OWASP Password Storage Cheat Sheet: argon2id, 19 MiB, 2 iterations, 1 lane. */
// `algorithm: 2` is Algorithm.Argon2id (a const enum, which isolated modules cannot import).
const ARGON2_OPTIONS = { algorithm: 2, memoryCost: 19 * 1024, timeCost: 2, parallelism: 1 } as const;

export const PASSWORD_MIN = 8;
/** Long passphrases welcome (NIST SP 800-63B asks for at least 64); the schema bounds the raw text at 1024. */
export const PASSWORD_MAX = 256;

// The zxcvbn-ts common-password list (~49k entries from breach corpora), lower-cased for lookup.
const COMMON = new Set(dictionary['passwords-common'].map((p) => p.toLowerCase()));

/** NFKC so that the same password typed on different keyboards/IMEs hashes the same. */
export function normalisePassword(password: string): string {
  return password.normalize('NFKC');
}

/** Throws AUTH_WEAK_PASSWORD when the password breaks the policy; returns the normalised form. */
export function checkPasswordPolicy(password: string): string {
  const p = normalisePassword(password);
  const length = [...p].length;
  if (length < PASSWORD_MIN || length > PASSWORD_MAX) {
    throw new AppError('AUTH_WEAK_PASSWORD', { params: { rule: 'length', min: PASSWORD_MIN, max: PASSWORD_MAX } });
  }
  if (COMMON.has(p.toLowerCase())) {
    throw new AppError('AUTH_WEAK_PASSWORD', { params: { rule: 'breached' } });
  }
  return p;
}

export function hashPassword(normalised: string): Promise<string> {
  return hash(normalised, ARGON2_OPTIONS);
}

// Verified against when the account does not exist, so unknown emails cost the same time as known ones.
let dummyHash: Promise<string> | undefined;
function dummy(): Promise<string> {
  dummyHash ??= hash('imlab-dummy-password-for-timing', ARGON2_OPTIONS);
  return dummyHash;
}

/** Constant-work verification: with no stored hash, a dummy hash is verified and false returned. */
export async function verifyPassword(stored: string | null | undefined, password: string): Promise<boolean> {
  const candidate = normalisePassword(password);
  if (!stored) {
    await verify(await dummy(), candidate).catch(() => false);
    return false;
  }
  try {
    return await verify(stored, candidate);
  } catch {
    return false;
  }
}

/** Warm the dummy hash at start-up so the first unknown-email login is not slower than the rest. */
export async function warmPasswordHasher(): Promise<void> {
  await dummy();
}
