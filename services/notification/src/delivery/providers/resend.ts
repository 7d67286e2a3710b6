import { Resend, type ErrorResponse } from 'resend';
import { retryAfterFromHeaders } from '@imlab/queue';
import type { Mailer, OutgoingEmail } from './provider.js';
import { ProviderError } from './provider.js';

export interface ResendMailerOptions {
  apiKey: string;
  /** RESEND_BASE_URL: passed to the SDK explicitly (it would otherwise read process.env itself). */
  baseUrl: string;
  timeoutMs: number;
}

/** Resend's error names that a later attempt can succeed after. */
const RETRYABLE_NAMES = new Set(['rate_limit_exceeded', 'concurrent_idempotent_requests', 'internal_server_error', 'application_error']);

/** Resend through its official SDK, with the delivery's idempotency key as `Idempotency-Key`. */
export class ResendMailer implements Mailer {
  readonly name = 'resend';
  private readonly client: Resend;

  private readonly opts: ResendMailerOptions;
  constructor(opts: ResendMailerOptions) {
    this.opts = opts;
    this.client = new Resend(opts.apiKey, { baseUrl: opts.baseUrl.replace(/\/+$/, '') });
  }

  async send(mail: OutgoingEmail): Promise<{ providerId: string }> {
    // The SDK never throws: network errors and aborts come back as an error with statusCode null.
    const { data, error, headers } = await this.client.emails.send(
      { from: mail.from, to: [mail.to], subject: mail.email.subject, html: mail.email.html, text: mail.email.text },
      { idempotencyKey: mail.idempotencyKey, signal: AbortSignal.timeout(this.opts.timeoutMs) },
    );
    if (error) throw classify(error, headers);
    if (!data?.id) throw new ProviderError('Resend answered without an email id', true, null);
    return { providerId: data.id };
  }
}

function classify(error: ErrorResponse, headers: Record<string, string> | null): ProviderError {
  const status = typeof error.statusCode === 'number' ? error.statusCode : null;
  const retryable = status === null || status === 429 || status >= 500 || RETRYABLE_NAMES.has(error.name);
  const reason = `${status ?? 'network'} ${error.name}: ${error.message}`.slice(0, 500);
  // Resend's 429 says in `retry-after` (seconds) when the rate window reopens; a retry sooner is refused again.
  return new ProviderError(reason, retryable, status, retryable ? retryAfterFromHeaders(headers) : undefined);
}
