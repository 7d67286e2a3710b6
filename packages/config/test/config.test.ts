import { describe, expect, it } from 'vitest';
import { loadConfig, baseEnv, port, str, secret, optionalSecret, ConfigError, duration, databaseUrlFor, internalApiToken } from '../src/index.js';

describe('loadConfig', () => {
  const specs = { ...baseEnv, PORT: port({ default: 4000 }), STRIPE_SECRET_KEY: str(), IP_HASH_SECRET: secret() };

  it('reports every bad variable in one error', () => {
    let error: unknown;
    try {
      loadConfig('billing', specs, { NODE_ENV: 'production', PORT: 'eighty', IP_HASH_SECRET: 'short' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(Object.keys(problems).sort()).toEqual(
      ['AUTH_JWKS_URL', 'DATABASE_URL', 'IP_HASH_SECRET', 'PORT', 'PUBLIC_BASE_URL', 'REDIS_URL', 'STRIPE_SECRET_KEY'].sort(),
    );
    const message = (error as Error).message;
    for (const key of Object.keys(problems)) expect(message).toContain(key);
    // the value of a bad secret is never echoed back
    expect(message).not.toContain("'short'");
  });

  it('runs the cross-variable rules even when other variables are bad, and reports all in the same error', () => {
    const rules = { ...baseEnv, PORT: port({ default: 4000 }), MIN: duration({ default: 60 }), MAX: duration({ default: 120 }) };
    let error: unknown;
    try {
      loadConfig('gen', rules, { NODE_ENV: 'test', PORT: 'eighty', MIN: '10m', MAX: '5m' }, (c, problems) => {
        if (c.MIN !== undefined && c.MAX !== undefined && c.MIN >= c.MAX) problems.MIN = 'must be shorter than MAX';
        if (c.PORT !== undefined) problems.PORT = 'the rule saw a PORT that failed its own validation';
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(Object.keys((error as ConfigError).problems).sort()).toEqual(['MIN', 'PORT']);
    expect((error as ConfigError).problems.PORT).not.toMatch(/rule saw/);
    expect(loadConfig('gen', rules, { NODE_ENV: 'test', MIN: '1m', MAX: '2m' }, (c, problems) => {
      if (c.MIN! >= c.MAX!) problems.MIN = 'must be shorter than MAX';
    }).MIN).toBe(60);
  });

  it('reports bad OpenTelemetry variables (read before the config, by the instrumentation) in the same one message', () => {
    let error: unknown;
    try {
      loadConfig('auth', specs, {
        NODE_ENV: 'test',
        PORT: 'eighty',
        STRIPE_SECRET_KEY: 'sk',
        IP_HASH_SECRET: 'a-test-secret-of-32-characters!!',
        OTEL_TRACES_EXPORTER: 'jaeger',
        OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'pg,http',
        OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'redis',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(Object.keys((error as ConfigError).problems).sort()).toEqual(
      ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_NODE_DISABLED_INSTRUMENTATIONS', 'OTEL_NODE_ENABLED_INSTRUMENTATIONS', 'OTEL_TRACES_EXPORTER', 'PORT'].sort(),
    );
    expect((error as ConfigError).problems.OTEL_NODE_ENABLED_INSTRUMENTATIONS).toMatch(/http/);
    // well-formed ones pass
    expect(() => loadConfig('auth', specs, { NODE_ENV: 'test', STRIPE_SECRET_KEY: 'sk', IP_HASH_SECRET: 'a-test-secret-of-32-characters!!', OTEL_TRACES_EXPORTER: 'otlp', OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'BullMQ', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).not.toThrow();
  });

  it('never echoes a malformed value, which may carry a password', () => {
    let message = '';
    try {
      loadConfig('auth', { REDIS_URL: baseEnv.REDIS_URL }, { NODE_ENV: 'production', REDIS_URL: 'redis//:hunter2pw@cache' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('REDIS_URL');
    expect(message).not.toContain('hunter2pw');
  });

  it('uses development defaults so a local run needs only Postgres and Redis', () => {
    const config = loadConfig('auth', { ...baseEnv, PORT: port({ default: 4001 }) }, { NODE_ENV: 'development' });
    expect(config.DATABASE_URL).toMatch(/^postgres:/);
    expect(config.PORT).toBe(4001);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('parses durations and derives per-service database URLs', () => {
    const config = loadConfig('x', { TTL: duration({ default: 60 }) }, { TTL: '30d' });
    expect(config.TTL).toBe(30 * 86400);
    expect(databaseUrlFor('postgres://u@h:5432/postgres?sslmode=disable', 'imlab_auth')).toBe('postgres://u@h:5432/imlab_auth?sslmode=disable');
  });
});

describe('the internal secret', () => {
  const specs = { ...baseEnv, INTERNAL_API_TOKEN: internalApiToken };
  const production = {
    NODE_ENV: 'production',
    DATABASE_URL: 'postgres://db/x',
    REDIS_URL: 'redis://cache:6379',
    PUBLIC_BASE_URL: 'https://imagemakerlab.test',
    AUTH_JWKS_URL: 'http://auth/.well-known/jwks.json',
    MESSAGE_SEAL_KEY: 'a-message-seal-key-of-enough-length-0123',
  };

  it('is refused in production when shorter than 32 characters, without echoing it', () => {
    let error: unknown;
    try {
      loadConfig('auth', specs, { ...production, INTERNAL_API_TOKEN: 'letmein-please-2026' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(Object.keys((error as ConfigError).problems)).toEqual(['INTERNAL_API_TOKEN']);
    expect((error as Error).message).not.toContain('letmein');
    expect(loadConfig('auth', specs, { ...production, INTERNAL_API_TOKEN: 'x'.repeat(32) }).INTERNAL_API_TOKEN).toHaveLength(32);
  });
});

describe('an optional secret', () => {
  const specs = { PREVIOUS: optionalSecret({ default: '' }) };

  it('may be left empty, and when set has the same 16-character floor as a secret, without echoing it', () => {
    expect(loadConfig('gateway', specs, {}).PREVIOUS).toBe('');
    expect(loadConfig('gateway', specs, { PREVIOUS: '' }).PREVIOUS).toBe('');
    expect(loadConfig('gateway', specs, { PREVIOUS: 'y'.repeat(16) }).PREVIOUS).toHaveLength(16);
    let error: unknown;
    try {
      loadConfig('gateway', specs, { PREVIOUS: 'old-key' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual({ PREVIOUS: expect.stringContaining('at least 16 characters') });
    expect((error as Error).message).not.toContain('old-key');
  });
});
