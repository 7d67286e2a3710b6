import { loadConfig, baseEnv, port, str, num, duration, listenPort, secret } from '@imlab/config';

export const configSpec = {
  ...baseEnv,
  PORT: port({ default: 4002 }),
  /** /metrics, on its own internal listener (never the public PORT). */
  METRICS_PORT: listenPort({ default: 9402 }),
  DATABASE_NAME: str({ default: 'imlab_ledger' }),
  /** `ledger.low-balance` is emitted when a user's available balance drops below this. */
  LOW_BALANCE_THRESHOLD: num({ default: 10 }),
  /** Goodwill credits (admin): at most this many in one grant… */
  GOODWILL_MAX_PER_GRANT: num({ default: 100 }),
  /** …and this many granted by one admin per UTC day. */
  GOODWILL_MAX_PER_ADMIN_PER_DAY: num({ default: 500 }),
  /** How often expired holds are released. */
  HOLD_SWEEP_INTERVAL: duration({ default: 5, desc: 'seconds, or 5s, 1m' }),
  /**
   * How long past its expiry a hold is left open before the sweeper returns it. Generation fails
   * and releases unfinished generations on time itself; this sweep is the backstop, and the grace
   * lets a capture issued before the expiry but delayed in the queue (a backlog, a ledger outage)
   * still find its hold open.
   */
  HOLD_EXPIRY_GRACE: duration({ default: 6 * 3600, desc: 'seconds, or 30m, 6h' }),
  /** How often the transfer log is sealed into a hash checkpoint. */
  SEAL_INTERVAL: duration({ default: 10, desc: 'seconds, or 10s, 1m' }),
  /**
   * How often the sealed checkpoints are re-verified in the background (`GET /v1/admin/ledger/verify`
   * on demand does the same): `imlab_ledger_verification_ok` 0 pages finance and on-call.
   */
  VERIFY_INTERVAL: duration({ default: 3600, desc: 'seconds, or 30m, 1h' }),
  /** HMAC key over each checkpoint: rewriting transfers and checkpoints together needs this key. */
  LEDGER_SEAL_SECRET: secret({ devDefault: 'dev-ledger-seal-secret-change-me' }),
  /** The ledger's outbox has no NOTIFY trigger (see migrations/0002); the relay polls this often. */
  OUTBOX_POLL_MS: num({ default: 100 }),
  /**
   * Commands the credits-ledger inbox takes from the queue at once. With group commit this bounds a
   * group: 64 applied 23 % more commands a second than 16 under load (docs/benchmarks.md, "Message
   * path"); each one taken but not yet applied is handed out again if the process dies (the inbox
   * makes the second delivery a no-op). This assumes group commit: with INBOX_BATCH=1 every command
   * is a transaction of its own, so keep this at most DB_POOL_SIZE.
   */
  INBOX_CONCURRENCY: num({ default: 64 }),
  /**
   * Group commit of the inbox: commands that arrive while a transaction runs are applied together in
   * the next one, up to this many (1 turns it off). Each command keeps its own inbox record and result;
   * a group with a failing command is rolled back and its commands run one by one.
   */
  INBOX_BATCH: num({ default: 64 }),
  /** Inbox transactions running at once when grouping (more lanes overlap one group's commit with the next group's work). */
  INBOX_LANES: num({ default: 1 }),
  DB_POOL_SIZE: num({ default: 20 }),
};

export type Config = ReturnType<typeof loadLedgerConfig>;

export function loadLedgerConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig('credits-ledger', configSpec, env);
}
