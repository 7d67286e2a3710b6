import { Type } from '@sinclair/typebox';
import { ref } from '@imlab/contracts';
import { AppError, binaryContent, errors, operation, type App } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import { handleResendEvent, type ResendEvent } from './webhooks.service.js';
import { isResendWebhookSecret, verifyResendWebhook, WebhookBodyError, WebhookSignatureError } from './signature.js';

const Receipt = Type.Object(
  { received: Type.Boolean(), handled: Type.Boolean({ description: 'Whether the event changed anything (a bounce or complaint suppresses the address).' }) },
  { $id: 'ResendWebhookReceipt', examples: [{ received: true, handled: true }] },
);
/** The webhook route's components, registered with the app. */
export const webhookSchemas = [Receipt];

export interface WebhookRouteOptions {
  db: Kysely<DB>;
  /** RESEND_WEBHOOK_SECRET (`whsec_…`); empty: the route answers 503. */
  secret: string;
}

/**
 * POST /v1/notifications/webhooks/resend — public (Resend calls it through the gateway), so the
 * only trust is the Svix signature over the exact bytes received: the body is kept raw here and
 * parsed only after it is verified, by Resend's SDK, which also refuses timestamps more than five
 * minutes old (replay).
 */
export async function webhookRoutes(app: App, opts: WebhookRouteOptions): Promise<void> {
  // Checked once: a malformed secret fails at start-up, not on the first bounce.
  if (opts.secret && !isResendWebhookSecret(opts.secret)) throw new Error('RESEND_WEBHOOK_SECRET is not a Resend (Svix) signing secret');

  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 256 * 1024 }, (_req, body, done) => done(null, body));

  app.post(
    '/v1/notifications/webhooks/resend',
    {
      schema: {
        ...operation('receiveResendWebhook', {
          tag: 'webhooks',
          access: 'signed',
          summary: 'Resend delivery events',
          description:
            'Resend calls this with delivery events; bounces and complaints suppress the address. The Svix headers must sign the exact bytes of the body, with a timestamp at most five minutes old.',
        }),
        headers: Type.Object({
          'svix-id': Type.Optional(Type.String({ description: 'The message id (replays are recognised by it).' })),
          'svix-timestamp': Type.Optional(Type.String({ description: 'When it was sent (Unix seconds).' })),
          'svix-signature': Type.Optional(Type.String({ description: 'The signature over id, timestamp and the raw body.' })),
        }),
        body: { content: binaryContent(['application/json'], 'A Resend webhook event; its exact bytes are what the signature covers.') },
        response: {
          200: ref(Receipt, { description: 'Received' }),
          ...errors({
            400: ['NOTIFICATION_WEBHOOK_SIGNATURE_INVALID', 'NOTIFICATION_WEBHOOK_MALFORMED'],
            413: ['PAYLOAD_TOO_LARGE'],
            415: ['UNSUPPORTED_MEDIA_TYPE'],
            503: ['NOTIFICATION_WEBHOOK_NOT_CONFIGURED'],
          }),
        },
      },
    },
    async (request) => {
      if (!opts.secret) throw new AppError('NOTIFICATION_WEBHOOK_NOT_CONFIGURED', { message: 'RESEND_WEBHOOK_SECRET is not set' });
      const raw = typeof request.body === 'string' ? request.body : '';
      const id = request.headers['svix-id'] ?? '';
      let event: ResendEvent;
      try {
        event = verifyResendWebhook(opts.secret, raw, { id, timestamp: request.headers['svix-timestamp'] ?? '', signature: request.headers['svix-signature'] ?? '' }) as ResendEvent;
      } catch (err) {
        if (err instanceof WebhookSignatureError) throw new AppError('NOTIFICATION_WEBHOOK_SIGNATURE_INVALID', { message: 'webhook signature is invalid' });
        if (err instanceof WebhookBodyError) throw new AppError('NOTIFICATION_WEBHOOK_MALFORMED', { message: 'webhook body is not JSON' });
        throw err;
      }
      if (!event || typeof event.type !== 'string') throw new AppError('NOTIFICATION_WEBHOOK_MALFORMED', { message: 'webhook event has no type' });
      const { handled } = await handleResendEvent(opts.db, event, id);
      request.log.info({ type: event.type, handled }, 'resend webhook received');
      return { received: true, handled };
    },
  );
}
