import { Type } from '@sinclair/typebox';
import { Webhook, WebhookVerificationError } from 'svix';
import { ref } from '@imlab/contracts';
import { AppError, binaryContent, errors, operation, type App } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import { handleResendEvent, type ResendEvent } from './webhooks.service.js';

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
 * parsed only after it is verified. svix also refuses timestamps older than five minutes (replay).
 */
export async function webhookRoutes(app: App, opts: WebhookRouteOptions): Promise<void> {
  // Constructed once: a malformed secret fails at start-up, not on the first bounce.
  const verifier = opts.secret ? new Webhook(opts.secret) : undefined;

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
      if (!verifier) throw new AppError('NOTIFICATION_WEBHOOK_NOT_CONFIGURED', 'RESEND_WEBHOOK_SECRET is not set', { status: 503 });
      const raw = typeof request.body === 'string' ? request.body : '';
      const headers = {
        'svix-id': request.headers['svix-id'] ?? '',
        'svix-timestamp': request.headers['svix-timestamp'] ?? '',
        'svix-signature': request.headers['svix-signature'] ?? '',
      };
      try {
        verifier.verify(raw, headers);
      } catch (err) {
        if (err instanceof WebhookVerificationError) throw new AppError('NOTIFICATION_WEBHOOK_SIGNATURE_INVALID', 'webhook signature is invalid', { status: 400 });
        throw err;
      }
      let event: ResendEvent;
      try {
        event = JSON.parse(raw) as ResendEvent;
      } catch {
        throw new AppError('NOTIFICATION_WEBHOOK_MALFORMED', 'webhook body is not JSON', { status: 400 });
      }
      if (!event || typeof event.type !== 'string') throw new AppError('NOTIFICATION_WEBHOOK_MALFORMED', 'webhook event has no type', { status: 400 });
      const { handled } = await handleResendEvent(opts.db, event, headers['svix-id']);
      request.log.info({ type: event.type, handled }, 'resend webhook received');
      return { received: true, handled };
    },
  );
}
