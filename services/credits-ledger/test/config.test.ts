import { describe, expect, it } from 'vitest';
import { ConfigError } from '@imlab/config';
import { loadLedgerConfig } from '../src/config.js';

describe('the ledger configuration', () => {
  const production = {
    NODE_ENV: 'production',
    DATABASE_URL: 'postgres://db/x',
    REDIS_URL: 'redis://cache:6379',
    PUBLIC_BASE_URL: 'https://imagemakerlab.test',
    AUTH_JWKS_URL: 'http://auth/.well-known/jwks.json',
  };

  it('refuses a checkpoint seal key shorter than 16 characters in production (the HMAC over the sealed chain), without echoing it', () => {
    let error: unknown;
    try {
      loadLedgerConfig({ ...production, LEDGER_SEAL_SECRET: 'ledger1' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(Object.keys((error as ConfigError).problems)).toEqual(['LEDGER_SEAL_SECRET']);
    expect((error as Error).message).not.toContain('ledger1');
    expect(loadLedgerConfig({ ...production, LEDGER_SEAL_SECRET: 'k'.repeat(32) }).LEDGER_SEAL_SECRET).toHaveLength(32);
  });
});
