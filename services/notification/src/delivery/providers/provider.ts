import type { RenderedEmail } from '../../mail/content.js';

export interface OutgoingEmail {
  /** Also the provider's idempotency key, so a retry after a crash is deduped by the provider. */
  idempotencyKey: string;
  deliveryId: string;
  from: string;
  to: string;
  email: RenderedEmail;
}

/**
 * A failed send. `retryable`: 429, 5xx, network; otherwise permanent (the reason is recorded).
 * `retryAfterMs`: the provider's Retry-After; the queue worker waits that long before the retry.
 */
export class ProviderError extends Error {
  readonly retryable: boolean;
  readonly status: number | null;
  readonly retryAfterMs?: number;
  constructor(
    message: string,
    retryable: boolean,
    status: number | null,
    retryAfterMs?: number,
  ) {
    super(message);
    this.retryable = retryable;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
    this.name = 'ProviderError';
  }
}

export interface Mailer {
  /** 'resend' | 'mailbox', recorded per delivery. */
  readonly name: string;
  /** Sends one email; resolves with the provider's message id. */
  send(mail: OutgoingEmail): Promise<{ providerId: string }>;
}
