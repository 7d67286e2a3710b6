import { useRef } from 'react';
import { ApiError } from './index';

/**
 * The Idempotency-Key of a form that makes something once (a generation, a goodwill grant, a
 * checkout order): one key per request until the API has answered it. A retry after a lost answer
 * (the network, a 5xx) sends the same key, so what the first request made is answered again, not
 * made (and charged or granted) twice. A refusal (4xx) or a changed form is a new request with a new key.
 */
export function useRequestKey() {
  const attempt = useRef<{ body: string; key: string } | undefined>(undefined);
  return {
    /** The key for this request: the last one while the body is the same and no answer came. */
    keyFor(body: unknown): string {
      const sent = JSON.stringify(body);
      if (attempt.current?.body !== sent) attempt.current = { body: sent, key: crypto.randomUUID() };
      return attempt.current.key;
    },
    /** The API answered (made it, or refused it): the next request gets a new key. */
    answered(err?: unknown): void {
      if (err === undefined || (err instanceof ApiError && err.status < 500)) attempt.current = undefined;
    },
  };
}
