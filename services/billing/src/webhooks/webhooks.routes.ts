import { Type } from '@sinclair/typebox';
import { ref } from '@imlab/contracts';
import { binaryContent, errors, operation, type App } from '@imlab/http';
import { receiveWebhook, type WebhookDeps } from './stripe-events.service.js';

const Receipt = Type.Object(
  { received: Type.Boolean(), duplicate: Type.Boolean({ description: 'The event was received before; it is not processed again.' }) },
  { $id: 'StripeWebhookReceipt', examples: [{ received: true, duplicate: false }] },
);
/** The webhook route's components, registered with the app. */
export const webhookSchemas = [Receipt];

/**
 * POST /v1/billing/webhook: Stripe calls it directly (no session, no internal token). The
 * signature covers the exact bytes sent, so this route keeps the body as a raw Buffer; the JSON
 * parser of the rest of the app never sees it.
 */
export async function registerWebhookRoutes(app: App, deps: WebhookDeps): Promise<void> {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 512 * 1024 }, (_req, body, done) => done(null, body));
    scope.post(
      '/v1/billing/webhook',
      {
        schema: {
          ...operation('receiveStripeWebhook', {
            tag: 'webhooks',
            access: 'signed',
            summary: 'Stripe events',
            description:
              'Stripe calls this with payment, refund and dispute events. The `Stripe-Signature` header must sign the exact bytes of the body (within the tolerance); each event is stored once and processed in the background.',
          }),
          headers: Type.Object({ 'stripe-signature': Type.Optional(Type.String({ description: "Stripe's signature over the raw body." })) }),
          body: { content: binaryContent(['application/json'], 'A Stripe Event object; its exact bytes are what the signature covers.') },
          response: {
            200: ref(Receipt, { description: 'Received' }),
            ...errors({ 400: ['BILLING_WEBHOOK_SIGNATURE_MISSING', 'BILLING_WEBHOOK_SIGNATURE_INVALID', 'BILLING_WEBHOOK_MALFORMED'], 413: ['PAYLOAD_TOO_LARGE'] }),
          },
        },
      },
      async (request) => {
        const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const sig = request.headers['stripe-signature'];
        const { duplicate } = await receiveWebhook(deps, raw, typeof sig === 'string' ? sig : undefined, request.id);
        return { received: true, duplicate };
      },
    );
  });
}
