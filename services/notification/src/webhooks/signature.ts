import { Resend } from 'resend';

/** The Svix headers Resend signs each webhook with (`svix-id`, `svix-timestamp`, `svix-signature`). */
export interface WebhookSignatureHeaders {
  id: string;
  timestamp: string;
  signature: string;
}

/** The signature (or its headers, or its timestamp) does not hold; nothing in the body is trusted. */
export class WebhookSignatureError extends Error {}
/** The signature holds but the body is not JSON. */
export class WebhookBodyError extends Error {}

/**
 * Resend's own check, `resend.webhooks.verify` (Standard Webhooks, the scheme Svix implements):
 * the HMAC-SHA256 of `id.timestamp.body` under the base64 key after `whsec_`, against any of the
 * space-separated `v1,` signatures, compared in constant time; a timestamp more than five minutes
 * away is refused (replay). It makes no request to Resend, so the client needs no real API key,
 * but the SDK will not build one without a key.
 */
const resend = new Resend('re_webhook_verification_only');

/**
 * The SDK throws the Standard Webhooks library's WebhookVerificationError for a signature that
 * does not hold and does not export the class, so it is known by its name; a plain Error comes
 * from a secret it cannot decode.
 */
const isVerificationError = (err: unknown) => err instanceof Error && err.name === 'WebhookVerificationError';

/** Whether `secret` is a signing secret Resend's check can use (`whsec_` then base64). */
export function isResendWebhookSecret(secret: string): boolean {
  try {
    // The secret is decoded before any header is read: with none given, a usable secret fails
    // only on the missing headers.
    resend.webhooks.verify({ payload: '', headers: { id: '', timestamp: '', signature: '' }, webhookSecret: secret });
    return true;
  } catch (err) {
    return isVerificationError(err);
  }
}

/** The body of a webhook signed with `secret`, parsed; throws WebhookSignatureError or WebhookBodyError. */
export function verifyResendWebhook(secret: string, payload: string, headers: WebhookSignatureHeaders): unknown {
  let event: unknown;
  try {
    event = resend.webhooks.verify({ payload, headers, webhookSecret: secret });
  } catch (err) {
    if (isVerificationError(err)) throw new WebhookSignatureError('webhook signature is invalid', { cause: err });
    // The body is parsed only once its signature has been verified.
    if (err instanceof SyntaxError) throw new WebhookBodyError('webhook body is not JSON', { cause: err });
    throw err;
  }
  // An empty body comes back as undefined.
  if (event === undefined) throw new WebhookBodyError('webhook body is not JSON');
  return event;
}
