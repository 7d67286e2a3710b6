import { describe, expect, it } from 'vitest';
import { loadNotificationConfig } from '../src/config.js';

const base = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://db/x',
  REDIS_URL: 'redis://r:6379',
  MAIL_FROM: 'imagemakerlab <hello@example.com>',
  INTERNAL_API_TOKEN: 'x'.repeat(40),
  PUBLIC_BASE_URL: 'https://imagemakerlab.example',
  AUTH_JWKS_URL: 'http://auth:4001/.well-known/jwks.json',
  MESSAGE_SEAL_KEY: 'a-message-seal-key-for-tests-0123456789',
};

describe('notification config', () => {
  it('names a missing Resend key in production and a malformed webhook secret in one message, before anything connects', () => {
    let message = '';
    try {
      loadNotificationConfig({ ...base, PORT: 'abc', RESEND_WEBHOOK_SECRET: 'whsec_not*base64!' });
    } catch (err) {
      message = (err as Error).message;
    }
    for (const name of ['PORT', 'RESEND_API_KEY', 'RESEND_WEBHOOK_SECRET']) expect(message).toContain(name);
    expect(message).not.toContain('not*base64');
  });

  it('accepts a real signing secret', () => {
    const secret = `whsec_${Buffer.from('a 24-byte signing secret').toString('base64')}`;
    const config = loadNotificationConfig({ ...base, RESEND_API_KEY: 're_test_key', RESEND_WEBHOOK_SECRET: secret });
    expect(config.RESEND_WEBHOOK_SECRET).toBe(secret);
  });
});
