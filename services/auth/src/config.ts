import { loadConfig, baseEnv, port, str, url, num, duration, makeValidator, listenPort, internalApiToken, messageSealKey } from '@imlab/config';
import { PERSISTENT_RETRY_SPAN_MS } from '@imlab/queue';

/** JSON list of signing JWKs (first = current, private; the rest may be public, kept for rotation). */
const jwkList = makeValidator<string>((input: string) => {
  if (input === '') return '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(input);
  } catch {
    throw new Error('expected JSON: an array of Ed25519 JWKs, the current (private) key first');
  }
  const keys = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new Error('expected a non-empty array of JWKs (or {"keys": [...]})');
  const first = keys[0] as Record<string, unknown>;
  if (first.kty !== 'OKP' || first.crv !== 'Ed25519' || typeof first.d !== 'string') throw new Error('the first key must be a private Ed25519 JWK (kty OKP, crv Ed25519, d)');
  return input;
});

export const configSpec = {
  ...baseEnv,
  MESSAGE_SEAL_KEY: messageSealKey,
  PORT: port({ default: 4001 }),
  INTERNAL_API_TOKEN: internalApiToken,
  /** /metrics, on its own internal listener (never the public PORT). */
  METRICS_PORT: listenPort({ default: 9401 }),
  DATABASE_NAME: str({ default: 'imlab_auth' }),
  /** Absolute session lifetime; the cookie's Max-Age. */
  SESSION_TTL: duration({ default: 30 * 86400 }),
  /** A session unused for this long is over. */
  SESSION_IDLE_TTL: duration({ default: 7 * 86400 }),
  /** last_seen_at is written at most once per this interval per session. */
  SESSION_TOUCH_INTERVAL: duration({ default: 60 }),
  /** How long a resolved session may be served from Redis before Postgres is asked again. */
  SESSION_CACHE_TTL: duration({ default: 60 }),
  INTERNAL_JWT_TTL: duration({ default: 60 }),
  /**
   * The longest auth waits for one of its own Redis calls on a request. Session resolution then
   * reads Postgres instead (signed-in requests keep working, slower); sign-in, sign-up and reset
   * answer 503 (their limits are never skipped).
   */
  AUTH_REDIS_TIMEOUT_MS: num({ default: 250 }),
  /**
   * Sign-up, sign-in, forgot-password, verification resend and password reset answer no earlier
   * than this long after the request arrived, whatever the address (known, unverified, unknown) and
   * whatever the outcome: their timing tells nothing about an account. Above the slowest honest
   * path (an argon2id hash plus a transaction); 0 in development and tests, which set it themselves.
   */
  CREDENTIAL_ANSWER_FLOOR_MS: num({ default: 400, devDefault: 0 }),
  AUTH_SIGNING_KEYS: jwkList({ default: '' }),
  /** Development only: where a generated signing key is kept when AUTH_SIGNING_KEYS is unset. */
  AUTH_KEYS_FILE: str({ default: '.data/auth/signing-keys.json' }),
  VERIFY_TOKEN_TTL: duration({ default: 24 * 3600 }),
  RESET_TOKEN_TTL: duration({ default: 3600 }),
  /** How long the link to a new address confirms an email change. */
  EMAIL_CHANGE_TTL: duration({ default: 24 * 3600 }),
  /** How long the old address can take an email change back. */
  EMAIL_UNDO_WINDOW: duration({ default: 7 * 86400 }),
  VERIFY_RESEND_COOLDOWN: duration({ default: 60 }),
  /** Verification and reset mails one address receives per day at most (whoever asks, from wherever). */
  LINK_EMAILS_PER_ADDRESS_PER_DAY: num({ default: 10 }),
  SIGNUPS_PER_IP_PER_DAY: num({ default: 10 }),
  SIGNUP_BONUS_CREDITS: num({ default: 0 }),
  SIGNUP_BONUS_WINDOW: duration({ default: 30 * 86400 }),
  /** Failed logins allowed before the per-account backoff starts. */
  LOGIN_FREE_ATTEMPTS: num({ default: 5 }),
  LOGIN_BACKOFF_BASE: duration({ default: 2 }),
  /** The backoff never grows past this, so an attacker can only delay the owner, never lock them out. */
  LOGIN_BACKOFF_MAX: duration({ default: 15 * 60 }),
  /** A sign-in this recent confirms a sensitive change without the password (deleting the account, changing the password or email, linking Google). */
  RECENT_LOGIN_WINDOW: duration({ default: 10 * 60 }),
  ACCOUNT_PURGE_DELAY: duration({ default: 7 * 86400 }),
  /** A purge some service has not reported done this long after it was due counts as overdue (imlab_auth_deletions_incomplete{age="overdue"}). */
  DELETION_OVERDUE_AFTER: duration({ default: 2 * 86400 }),
  GOOGLE_CLIENT_ID: str({ default: '' }),
  GOOGLE_CLIENT_SECRET: str({ default: '' }),
  GOOGLE_ISSUER: url({ default: 'https://accounts.google.com' }),
  /** OAuth round trip allowed between /google/start and the callback. */
  OAUTH_STATE_TTL: duration({ default: 600 }),
  LEDGER_URL: url({ devDefault: 'http://127.0.0.1:4002' }),
  GENERATION_URL: url({ devDefault: 'http://127.0.0.1:4003' }),
  /** Billing's purchase history goes into the export. */
  BILLING_URL: url({ devDefault: 'http://127.0.0.1:4004' }),
  EXPORT_DIR: str({ default: '.data/exports' }),
  EXPORT_TTL: duration({ default: 7 * 86400 }),
  /** How often the privacy worker looks for due purges and pending exports (ms). */
  PRIVACY_POLL_MS: num({ default: 5000 }),
};

export type Config = ReturnType<typeof loadAuthConfig>;

/**
 * The longest a purge may wait: the privacy policy promises removal within 30 days, and a purge
 * that finds a service down is retried for up to PERSISTENT_RETRY_SPAN_MS after it starts.
 */
export const MAX_PURGE_DELAY_SECONDS = Math.floor((30 * 86_400_000 - PERSISTENT_RETRY_SPAN_MS) / 1000);

export function loadAuthConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig('auth', configSpec, env, (config, problems) => {
    if (config.ACCOUNT_PURGE_DELAY !== undefined && config.ACCOUNT_PURGE_DELAY > MAX_PURGE_DELAY_SECONDS) {
      problems.ACCOUNT_PURGE_DELAY = `must be at most ${Math.floor(MAX_PURGE_DELAY_SECONDS / 86400)} days: removal is promised within 30 days, and a purge is retried for up to ${Math.round(PERSISTENT_RETRY_SPAN_MS / 86_400_000)} days while a service is down`;
    }
    if (config.SESSION_IDLE_TTL !== undefined && config.SESSION_TTL !== undefined && config.SESSION_IDLE_TTL > config.SESSION_TTL) problems.SESSION_IDLE_TTL = 'must not exceed SESSION_TTL';
    if (config.NODE_ENV === 'production' && !config.AUTH_SIGNING_KEYS) problems.AUTH_SIGNING_KEYS ??= 'is required in production';
    if (config.INTERNAL_JWT_TTL !== undefined && config.INTERNAL_JWT_TTL > 300) problems.INTERNAL_JWT_TTL = 'must be at most 5m (services refuse older tokens)';
    if (Boolean(config.GOOGLE_CLIENT_ID) !== Boolean(config.GOOGLE_CLIENT_SECRET)) {
      problems[config.GOOGLE_CLIENT_ID ? 'GOOGLE_CLIENT_SECRET' : 'GOOGLE_CLIENT_ID'] = 'is required with the other Google client variable (set both, or neither to turn Google sign-in off)';
    }
  });
}
