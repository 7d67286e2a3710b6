import { Type } from '@sinclair/typebox';
import type { App } from '@imlab/http';
import { ProblemBody } from '../schemas.js';
import { receiveWebhook, type WebhookDeps } from './stripe-events.service.js';

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
          tags: ['billing'],
          summary: 'Stripe webhook endpoint (signed by Stripe)',
          headers: Type.Object({ 'stripe-signature': Type.Optional(Type.String()) }),
          response: {
            200: Type.Object({ received: Type.Boolean(), duplicate: Type.Boolean() }),
            400: ProblemBody,
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
