/**
 * The session cookie's name. In production it is `__Host-imlab_sid`: browsers accept a cookie of
 * that name only with Secure, Path=/ and no Domain, so a sibling subdomain (or a page served over
 * plain http) cannot plant one for our host ("cookie tossing"). Development runs on plain
 * http://localhost, where a `__Host-` cookie cannot be set, and keeps `imlab_sid`; so do the tests.
 * Auth sets it and the gateway reads it by this one function.
 */
export const SESSION_COOKIE_PRODUCTION = '__Host-imlab_sid';
export const SESSION_COOKIE_DEVELOPMENT = 'imlab_sid';

export function sessionCookieName(nodeEnv: string | undefined): string {
  return nodeEnv === 'production' ? SESSION_COOKIE_PRODUCTION : SESSION_COOKIE_DEVELOPMENT;
}
