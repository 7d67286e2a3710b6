import Fastify from 'fastify';
import cookie from '@fastify/cookie';
import { describe, expect, it } from 'vitest';
import type { Config } from '../src/config.js';
import { clearSessionCookie, sessionCookie, setSessionCookie } from '../src/sessions/cookies.js';

async function setCookieOf(nodeEnv: string, act: 'set' | 'clear'): Promise<string> {
  const app = Fastify();
  await app.register(cookie);
  const config = { NODE_ENV: nodeEnv } as Config;
  app.get('/', async (_request, reply) => {
    if (act === 'set') setSessionCookie(reply, config, 'tok', 60);
    else clearSessionCookie(reply, config);
    return 'ok';
  });
  const res = await app.inject({ url: '/' });
  await app.close();
  return String(res.headers['set-cookie']);
}

describe('the session cookie', () => {
  it('is __Host-imlab_sid in production: Secure, Path=/, no Domain', async () => {
    expect(sessionCookie({ NODE_ENV: 'production' })).toBe('__Host-imlab_sid');
    const set = await setCookieOf('production', 'set');
    expect(set).toMatch(/^__Host-imlab_sid=tok; /);
    expect(set).toContain('Secure');
    expect(set).toContain('Path=/');
    expect(set).not.toMatch(/Domain=/i);
    expect(await setCookieOf('production', 'clear')).toMatch(/^__Host-imlab_sid=; .*Secure/);
  });

  it('stays imlab_sid in development (plain http) and tests', async () => {
    expect(await setCookieOf('development', 'set')).toMatch(/^imlab_sid=tok; /);
    expect(sessionCookie({ NODE_ENV: 'test' })).toBe('imlab_sid');
  });
});
