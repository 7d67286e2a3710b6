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

  const openai = { ...env, IMAGE_PROVIDER: 'openai', OPENAI_API_KEY: 'sk-x' };
  const problemsOf = (e: Record<string, string>) => {
    try {
      loadGenerationConfig(e);
      return {};
    } catch (err) {
      return (err as ConfigError).problems;
    }
  };

  it('maps each tier to a real model and quality by default: gpt-image-1-mini, gpt-image-1, gpt-image-1 high', () => {
    expect(loadGenerationConfig(openai)).toMatchObject({
      OPENAI_MODEL_DRAFT: 'gpt-image-1-mini',
      OPENAI_QUALITY_DRAFT: 'medium',
      OPENAI_MODEL_STANDARD: 'gpt-image-1',
      OPENAI_QUALITY_STANDARD: 'medium',
      OPENAI_MODEL_PRO: 'gpt-image-1',
      OPENAI_QUALITY_PRO: 'high',
    });
  });

  it('refuses two tiers at different prices on the same model and quality unless OPENAI_ALLOW_SHARED_TIER_MODEL, unknown models and qualities, and the old OPENAI_MODEL', () => {
    const shared = problemsOf({ ...openai, OPENAI_MODEL_DRAFT: 'gpt-image-1', OPENAI_QUALITY_PRO: 'medium' });
    expect(Object.keys(shared).sort()).toEqual(['OPENAI_MODEL_PRO', 'OPENAI_MODEL_STANDARD']);
    expect(shared.OPENAI_MODEL_STANDARD).toMatch(/Standard \(2 credits\) would render with the same model and quality as Draft \(1 credits\)/);
    expect(problemsOf({ ...openai, OPENAI_MODEL_DRAFT: 'gpt-image-1', OPENAI_QUALITY_PRO: 'medium', OPENAI_ALLOW_SHARED_TIER_MODEL: 'true' })).toEqual({});
    expect(Object.keys(problemsOf({ ...openai, OPENAI_MODEL_PRO: 'imagen-9' }))).toEqual(['OPENAI_MODEL_PRO']);
    expect(problemsOf({ ...openai, OPENAI_QUALITY_PRO: 'hd' }).OPENAI_QUALITY_PRO).toMatch(/takes quality low, medium, high, auto/);
    expect(Object.keys(problemsOf({ ...openai, OPENAI_MODEL: 'gpt-image-1' }))).toEqual(['OPENAI_MODEL']);
    // The local provider does not read them.
    expect(problemsOf({ ...env, OPENAI_MODEL_DRAFT: 'gpt-image-1' })).toEqual({});
  });
});
