import { describe, expect, it } from 'vitest';
import { ConfigError } from '@imlab/config';
import { loadGenerationConfig } from '../src/config.js';

const env = {
  NODE_ENV: 'test',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
  REDIS_URL: 'redis://127.0.0.1:6379',
  AUTH_JWKS_URL: 'http://127.0.0.1:1/jwks.json',
};

describe('generation configuration', () => {
  it('keeps a capture margin of 2 minutes on a 30-minute hold by default', () => {
    expect(loadGenerationConfig(env)).toMatchObject({ HOLD_TTL: 1800, HOLD_CAPTURE_MARGIN: 120 });
  });

  it('refuses a capture margin that is not shorter than the hold, naming it with the other problems', () => {
    let err: unknown;
    try {
      loadGenerationConfig({ ...env, HOLD_TTL: '10m', HOLD_CAPTURE_MARGIN: '10m', RENDER_USER_CAP: '0' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(Object.keys((err as ConfigError).problems).sort()).toEqual(['HOLD_CAPTURE_MARGIN', 'RENDER_USER_CAP']);
    expect((err as ConfigError).message).toMatch(/HOLD_CAPTURE_MARGIN: must be shorter than HOLD_TTL \(600 s\)/);
  });
});
