/**
 * Cross-site request forgery guard for state-changing requests, from the Origin header and Fetch
 * Metadata (Sec-Fetch-Site), which browsers set and pages cannot forge:
 * - an Origin, when sent, must be one of the allowed frontend origins (this also stops login CSRF);
 * - without an Origin, Sec-Fetch-Site must say same-origin or none (typed by the user);
 * - a request carrying the session cookie must present one of the two: a cookie write with neither
 *   is refused, since every current browser sends Origin on non-GET requests.
 * Requests without a cookie and without those headers (server-to-server, curl) are not CSRF.
 */
export function csrfVerdict(input: {
  method: string;
  origin: string | undefined;
  secFetchSite: string | undefined;
  hasSessionCookie: boolean;
  allowedOrigins: ReadonlySet<string>;
}): { ok: true } | { ok: false; reason: string } {
  if (input.method === 'GET' || input.method === 'HEAD' || input.method === 'OPTIONS') return { ok: true };
  if (input.origin !== undefined) {
    return input.allowedOrigins.has(input.origin) ? { ok: true } : { ok: false, reason: 'origin not allowed' };
  }
  if (input.secFetchSite !== undefined) {
    return input.secFetchSite === 'same-origin' || input.secFetchSite === 'none' ? { ok: true } : { ok: false, reason: 'cross-site request' };
  }
  return input.hasSessionCookie ? { ok: false, reason: 'origin required for cookie-authenticated writes' } : { ok: true };
}

/** The verdict for one incoming request (its method, Origin and Sec-Fetch-Site headers). */
export function csrfVerdictFor(
  request: { method: string; headers: Record<string, string | string[] | undefined> },
  hasSessionCookie: boolean,
  allowedOrigins: ReadonlySet<string>,
): { ok: true } | { ok: false; reason: string } {
  const { origin } = request.headers;
  const site = request.headers['sec-fetch-site'];
  return csrfVerdict({
    method: request.method,
    origin: typeof origin === 'string' ? origin : undefined,
    secFetchSite: typeof site === 'string' ? site : undefined,
    hasSessionCookie,
    allowedOrigins,
  });
}
