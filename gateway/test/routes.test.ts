import { describe, expect, it } from 'vitest';
import { classify } from '../src/routing/routes.js';

describe('route classes', () => {
  it.each([
    ['POST', '/v1/auth/login'],
    ['POST', '/v1/auth/email/confirm'],
    ['POST', '/v1/auth/email/undo'],
    ['POST', '/v1/auth/account/restore'],
  ])('%s %s is a credential route: the strict per-address budget, no session resolved', (method, path) => {
    expect(classify(method, path)).toMatchObject({ service: 'auth', routeClass: 'auth', session: false });
  });

  it.each([
    ['PUT', '/v1/me/password'],
    ['POST', '/v1/me/email'],
    ['POST', '/v1/me/google/link'],
    ['POST', '/v1/me/google/unlink'],
  ])('%s %s checks a password or mails an address: the strict budget too, with the session resolved', (method, path) => {
    expect(classify(method, path)).toMatchObject({ service: 'auth', routeClass: 'auth', session: true });
  });

  it('the rest of /v1/me stays on the ordinary write and read budgets', () => {
    expect(classify('PATCH', '/v1/me')).toMatchObject({ routeClass: 'write', session: true });
    expect(classify('GET', '/v1/me/sessions')).toMatchObject({ routeClass: 'read', session: true });
    expect(classify('POST', '/v1/me/exports')).toMatchObject({ routeClass: 'write', session: true });
  });
});

describe('the route table', () => {
  it.each([
    ['POST', '/v1/auth/logout', 'token'],
    ['POST', '/v1/auth/password/reset', 'token'],
    ['POST', '/v1/auth/email/undo', 'token'],
    ['POST', '/v1/auth/logout-all', 'account'],
    ['PUT', '/v1/me/password', 'account'],
    ['DELETE', '/v1/me', 'account'],
  ])('%s %s ends sessions at the gateway (%s)', (method, path, ends) => {
    expect(classify(method, path)?.endsSessions).toBe(ends);
  });

  it('nothing else ends sessions, and reading never does', () => {
    for (const [method, path] of [['GET', '/v1/me'], ['PATCH', '/v1/me'], ['POST', '/v1/auth/login'], ['GET', '/v1/auth/logout'], ['POST', '/v1/generations']] as const) {
      expect(classify(method, path)?.endsSessions, `${method} ${path}`).toBeUndefined();
    }
  });

  it('classifies webhooks, event streams, uploads, anonymous reads and unknown prefixes', () => {
    expect(classify('POST', '/v1/billing/webhook')).toMatchObject({ service: 'billing', routeClass: 'webhook', session: false });
    expect(classify('POST', '/v1/notifications/webhooks/resend')).toMatchObject({ service: 'notification', routeClass: 'webhook', session: false });
    expect(classify('GET', '/v1/generations/abc/events')).toMatchObject({ routeClass: 'sse', timeoutFactor: 0 });
    expect(classify('POST', '/v1/uploads')).toMatchObject({ routeClass: 'write', body: 'upload', timeoutFactor: 4 });
    expect(classify('POST', '/v1/generations')).toMatchObject({ routeClass: 'generation-create', session: true });
    expect(classify('GET', '/v1/gallery')).toMatchObject({ routeClass: 'read', session: false });
    expect(classify('GET', '/v1/gallery/abc')).toMatchObject({ routeClass: 'read', session: true });
    expect(classify('GET', '/v1/nowhere')).toBeUndefined();
  });
});
