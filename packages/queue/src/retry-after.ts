/** The longest a provider's Retry-After is obeyed; a longer ask is capped to this, not ignored. */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

/**
 * The wait an error asks its retry for: a finite, non-negative `retryAfterMs` on the error or on
 * an error in its `cause` chain (services wrap provider errors), capped at `maxMs`.
 */
export function retryAfterOf(err: unknown, maxMs = MAX_RETRY_AFTER_MS): number | undefined {
  let e: unknown = err;
  for (let depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const ms = (e as { retryAfterMs?: unknown }).retryAfterMs;
    if (typeof ms === 'number' && Number.isFinite(ms) && ms >= 0) return Math.min(Math.ceil(ms), maxMs);
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * A provider's advertised wait from its response headers, in ms: `retry-after-ms` (OpenAI), or
 * `retry-after` as seconds or an HTTP date. Undefined when absent or unreadable.
 */
export function retryAfterFromHeaders(headers: Headers | Record<string, string | undefined> | null | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const get = (name: string): string | undefined => {
    if (headers instanceof Headers) return headers.get(name) ?? undefined;
    const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
    return key ? headers[key] : undefined;
  };
  const ms = get('retry-after-ms')?.trim();
  if (ms && /^\d+(\.\d+)?$/.test(ms)) return Number(ms);
  const v = get('retry-after')?.trim();
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
