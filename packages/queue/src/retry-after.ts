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

/** How long a message may keep waiting for what it depends on before its waits count as failures. */
export const MAX_DEFER_MS = 60 * 60_000;
/** The longest single wait of a deferred message. */
export const MAX_DEFER_STEP_MS = 30_000;

/**
 * Marks an error as "not yet": the message depends on another that has not been applied (queues
 * reorder), so its handler is run again later without spending one of its attempts — a message
 * cannot be failed for good because its predecessor was slow. Each wait is at least `deferMs` and
 * grows with the message's age (a quarter of it, at most MAX_DEFER_STEP_MS); once the message is
 * older than the consumer's `maxDeferMs`, the error is an ordinary retryable failure again.
 */
export function notYet<E extends Error>(err: E, deferMs: number): E & { deferMs: number } {
  return Object.assign(err, { deferMs });
}

/** The wait a "not yet" error asks for, given the message's age; undefined for any other error. */
export function deferOf(err: unknown, ageMs: number): number | undefined {
  const ms = err && typeof err === 'object' ? (err as { deferMs?: unknown }).deferMs : undefined;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return undefined;
  return Math.ceil(Math.min(Math.max(ms, ageMs / 4), MAX_DEFER_STEP_MS));
}
