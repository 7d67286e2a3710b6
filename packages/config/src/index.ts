import { cleanEnv, str, num, port, url, bool, makeValidator, EnvError, EnvMissingError } from 'envalid';
import type { ValidatorSpec } from 'envalid';

export { str, num, port, url, bool, makeValidator };
export type { ValidatorSpec };

/** Thrown at start-up when configuration is invalid; its message names every bad variable. */
export class ConfigError extends Error {
  readonly problems: Record<string, string>;
  constructor(service: string, problems: Record<string, string>) {
    const lines = Object.entries(problems).map(([key, why]) => `  - ${key}: ${why}`);
    super(`${service}: invalid configuration (${lines.length} problem${lines.length === 1 ? '' : 's'}):\n${lines.join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** A duration like `30s`, `15m`, `12h`, `30d`, or a bare number of seconds; parsed to seconds. */
export const duration = makeValidator<number>((input: string) => {
  const m = /^(\d+)\s*(ms|s|m|h|d)?$/.exec(input.trim());
  if (!m) throw new Error('expected a duration such as 30s, 15m, 12h or 30d');
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[unit] ?? 1;
  return n * factor;
});

/** A port to listen on, or 0 for any free one (tests running many processes side by side). */
export const listenPort = makeValidator<number>((input: string) => {
  const n = Number(input);
  if (!/^\d+$/.test(input.trim()) || n > 65535) throw new Error('expected a port number (0 = any free port)');
  return n;
});

/** Comma-separated list. */
export const list = makeValidator<string[]>((input: string) =>
  input
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

/** A secret: at least 16 characters so that a forgotten placeholder cannot slip into production. */
export const secret = makeValidator<string>((input: string) => {
  if (input.length < 16) throw new Error('must be at least 16 characters');
  return input;
});

/** A secret that may be left empty (a feature off); when set, the same 16-character floor as `secret`. */
export const optionalSecret = makeValidator<string>((input: string) => {
  if (input !== '' && input.length < 16) throw new Error('must be empty or at least 16 characters');
  return input;
});

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Variables every service reads. Development defaults mean a local run needs only Postgres and Redis. */
export const baseEnv = {
  NODE_ENV: str({ choices: ['development', 'test', 'production'], default: 'development' }),
  LOG_LEVEL: str({ choices: LOG_LEVELS, default: 'info' }),
  HOST: str({ default: '127.0.0.1' }),
  DATABASE_URL: url({ devDefault: 'postgres://postgres@127.0.0.1:5432/postgres', desc: 'Postgres server URL; the database name is derived per service' }),
  REDIS_URL: url({ devDefault: 'redis://127.0.0.1:6379' }),
  QUEUE_PREFIX: str({ default: 'imlab' }),
  PUBLIC_BASE_URL: url({ devDefault: 'http://localhost:8080' }),
  AUTH_JWKS_URL: url({ devDefault: 'http://127.0.0.1:4001/.well-known/jwks.json', desc: 'where services fetch auth\'s public keys' }),
  SHUTDOWN_GRACE_MS: num({ default: 10_000 }),
  DB_POOL_SIZE: num({ default: 10, desc: 'Postgres connections per process' }),
  QUEUE_LOCK_MS: num({ default: 30_000, desc: 'how long a consumer holds a job before BullMQ may hand it to another (crash recovery time)' }),
  QUEUE_STALLED_INTERVAL_MS: num({ default: 30_000, desc: 'how often BullMQ looks for jobs whose consumer died' }),
  /**
   * The migrate command only (never the running service): a role that may create this service's
   * database and its login role (DATABASE_URL's user), which then owns it. Empty: the database and
   * role already exist (managed Postgres without such a role: docs/operations.md).
   */
  DATABASE_ADMIN_URL: str({ default: '', desc: 'admin connection for the migrate command: creates the database and the role of DATABASE_URL' }),
};

/**
 * Seals secrets that messages must carry (email link tokens, addresses): only auth (seals) and
 * notification (opens) read it, so only their Secrets hold it.
 */
export const messageSealKey = secret({ devDefault: 'dev-message-seal-key-change-me', desc: 'encrypts secrets that messages must carry (email link tokens)' });

/**
 * The secret the gateway presents to auth's `/internal/sessions/resolve` — its one internal call.
 * Only the gateway and auth read it; every other internal call carries a service token auth signs
 * (serviceAudience in @imlab/contracts). Production wants 32+ characters; ./scripts/start.sh makes
 * a random one per run.
 */
export const internalApiToken = str({ devDefault: 'dev-internal-token-change-me', desc: "the gateway's secret for auth's /internal/sessions/resolve (gateway and auth only)" });

type Specs = { [key: string]: ValidatorSpec<unknown> };
type Cleaned<S extends Specs> = { readonly [K in keyof S]: S[K] extends ValidatorSpec<infer T> ? T : never };

/**
 * Parses `env` against `specs` once, into a frozen typed object. Every missing or malformed variable
 * is collected and reported together in one ConfigError.
 */
/**
 * Rules across variables, run even when some variables are already wrong, so that one message
 * names every problem. A variable that failed its own validation is `undefined` here; a rule
 * comparing it finds nothing to report.
 */
export type ConfigCheck<S extends Specs> = (config: Partial<Cleaned<S>>, problems: Record<string, string>) => void;

export const MIN_INTERNAL_TOKEN_LENGTH = 32;

/** The OpenTelemetry instrumentations a process may switch on (OTEL_NODE_ENABLED/DISABLED_INSTRUMENTATIONS). */
export const OTEL_INSTRUMENTATIONS = ['pg', 'ioredis', 'undici', 'bullmq'] as const;
const OTEL_EXPORTERS = ['otlp', 'console', 'none'];

const otelList = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);

/**
 * What is wrong with the OpenTelemetry variables every process reads (they are read before the
 * config, by @imlab/http/instrument, which ignores values it cannot use): reported with the rest
 * of the config's problems, in its one message.
 */
export function otelProblems(env: NodeJS.ProcessEnv): Record<string, string> {
  const problems: Record<string, string> = {};
  const exporter = (env.OTEL_TRACES_EXPORTER ?? '').trim().toLowerCase();
  if (exporter && !OTEL_EXPORTERS.includes(exporter)) problems.OTEL_TRACES_EXPORTER = `must be one of ${OTEL_EXPORTERS.join(', ')}`;
  for (const key of ['OTEL_NODE_ENABLED_INSTRUMENTATIONS', 'OTEL_NODE_DISABLED_INSTRUMENTATIONS']) {
    const unknown = otelList(env[key]).filter((n) => !(OTEL_INSTRUMENTATIONS as readonly string[]).includes(n));
    if (unknown.length) problems[key] = `names unknown instrumentation(s) ${unknown.join(', ')} (known: ${OTEL_INSTRUMENTATIONS.join(', ')})`;
  }
  for (const key of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']) {
    const value = env[key];
    if (!value) continue;
    if (!URL.canParse(value) || !['http:', 'https:'].includes(new URL(value).protocol)) problems[key] = 'must be an http(s) URL';
  }
  return problems;
}

export function loadConfig<S extends Specs>(service: string, specs: S, env: NodeJS.ProcessEnv = process.env, check?: ConfigCheck<S>): Cleaned<S> {
  const problems: Record<string, string> = {};
  const cleaned = cleanEnv(env, specs, {
    reporter: ({ errors }) => {
      for (const [key, err] of Object.entries(errors)) {
        if (!err) continue;
        if (err instanceof EnvMissingError) {
          problems[key] = 'is required but missing';
          continue;
        }
        // Validators quote the bad value; it may hold a password (a URL's userinfo, a key).
        const raw = env[key];
        const message = (err instanceof EnvError ? err.message : (err as Error).message) || 'is invalid';
        problems[key] = raw ? message.split(raw).join('[value hidden]') : message;
      }
    },
  });
  // The shared internal secret opens every /internal/* route: in production it must be long enough
  // to be random (32 characters or more), never a guessable phrase of a few words.
  const internal = 'INTERNAL_API_TOKEN' in specs ? env.INTERNAL_API_TOKEN : undefined;
  if (env.NODE_ENV === 'production' && typeof internal === 'string' && !('INTERNAL_API_TOKEN' in problems) && internal.length < MIN_INTERNAL_TOKEN_LENGTH) {
    problems.INTERNAL_API_TOKEN = `must be at least ${MIN_INTERNAL_TOKEN_LENGTH} characters in production (e.g. openssl rand -base64 32)`;
  }
  for (const [key, message] of Object.entries(otelProblems(env))) problems[key] ??= message;
  if (check) {
    const rules: Record<string, string> = {};
    const valid = Object.fromEntries(Object.entries(cleaned as Record<string, unknown>).filter(([k]) => !(k in problems)));
    check(valid as Partial<Cleaned<S>>, rules);
    for (const [key, message] of Object.entries(rules)) problems[key] ??= message;
  }
  if (Object.keys(problems).length > 0) {
    const err = new ConfigError(service, problems);
    if (!env.NODE_ENV) err.message += '\n  (development defaults apply only when NODE_ENV=development or test is set)';
    throw err;
  }
  return Object.freeze({ ...cleaned }) as unknown as Cleaned<S>;
}

/** `postgres://host/anything` + `imlab_auth` → `postgres://host/imlab_auth`. */
export function databaseUrlFor(serverUrl: string, database: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  return u.toString();
}
