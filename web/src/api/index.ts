/**
 * Every call the web app makes to the API goes through this module (the gateway, same origin,
 * with the session cookie). For now it is a minimal `fetch` wrapper for the few calls the page
 * frame needs; it is to be replaced by the typed client generated from /openapi.json
 * (packages/client), keeping these function names for the pages that use them.
 */

/** The account, as `GET /v1/me` answers it (the fields the page frame reads). */
export interface Me {
  id: string;
  email: string;
  emailVerified: boolean;
  displayName: string;
  locale: 'en' | 'zh';
  roles: string[];
}

/** `GET /v1/credits/balance`. */
export interface Balance {
  available: number;
  held: number;
}

/** A problem+json answer (RFC 9457) or a failed request. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly requestId: string | undefined,
  ) {
    super(`${status} ${code}`);
    this.name = 'ApiError';
  }
}

async function call<T>(method: 'GET' | 'POST', path: string): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'include',
    headers: method === 'POST' ? { accept: 'application/json', 'content-type': 'application/json' } : { accept: 'application/json' },
  });
  const text = await res.text();
  const body = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) {
    const code = typeof (body as { code?: unknown } | undefined)?.code === 'string' ? (body as { code: string }).code : 'HTTP_ERROR';
    throw new ApiError(res.status, code, res.headers.get('x-request-id') ?? undefined);
  }
  return body as T;
}

/** The signed-in account, or null when signed out (401). */
export async function getMe(): Promise<Me | null> {
  try {
    return await call<Me>('GET', '/v1/me');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

export function getBalance(): Promise<Balance> {
  return call<Balance>('GET', '/v1/credits/balance');
}

/** Ends this browser's session (`POST /v1/auth/logout`). */
export async function signOut(): Promise<void> {
  await call<unknown>('POST', '/v1/auth/logout');
}
