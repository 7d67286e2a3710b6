import { Type } from '@sinclair/typebox';
import { Webhook, WebhookVerificationError } from 'svix';
import { Problem } from '@imlab/contracts';
import { AppError, type App } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import { handleResendEvent, type ResendEvent } from './webhooks.service.js';

const ProblemBody = Type.Object(Problem.properties, { additionalProperties: true });

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
        summary: 'Resend delivery events (bounces and complaints suppress the address)',
        tags: ['notification'],
        headers: Type.Object({
          'svix-id': Type.Optional(Type.String()),
          'svix-timestamp': Type.Optional(Type.String()),
          'svix-signature': Type.Optional(Type.String()),
        }),
        response: {
          200: Type.Object({ received: Type.Boolean(), handled: Type.Boolean() }),
          400: ProblemBody,
          415: ProblemBody,
          503: ProblemBody,
        },
      },
    },
    async (request) => {
      if (!verifier) throw new AppError('NOTIFICATION_WEBHOOK_NOT_CONFIGURED', { message: 'RESEND_WEBHOOK_SECRET is not set' });
      const raw = typeof request.body === 'string' ? request.body : '';
      const headers = {
        'svix-id': request.headers['svix-id'] ?? '',
        'svix-timestamp': request.headers['svix-timestamp'] ?? '',
        'svix-signature': request.headers['svix-signature'] ?? '',
      };
      try {
        verifier.verify(raw, headers);
      } catch (err) {
        if (err instanceof WebhookVerificationError) throw new AppError('NOTIFICATION_WEBHOOK_SIGNATURE_INVALID');
        throw err;
      }
      let event: ResendEvent;
      try {
        event = JSON.parse(raw) as ResendEvent;
      } catch {
        throw new AppError('NOTIFICATION_WEBHOOK_MALFORMED', { message: 'webhook body is not JSON' });
      }
      if (!event || typeof event.type !== 'string') throw new AppError('NOTIFICATION_WEBHOOK_MALFORMED', { message: 'webhook event has no type' });
      const { handled } = await handleResendEvent(opts.db, event, headers['svix-id']);
      request.log.info({ type: event.type, handled }, 'resend webhook received');
      return { received: true, handled };
    },
  );
}
