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
