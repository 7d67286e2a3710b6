import { Type } from '@sinclair/typebox';
import { authenticate, type App } from '@imlab/http';
import { ProblemBody } from '../schemas.js';
import { startCheckout, type CheckoutDeps } from './checkout.service.js';

/** POST /v1/billing/checkout: signed-in person buys a pack; answers the Stripe Checkout URL. */
export function registerCheckoutRoutes(app: App, deps: CheckoutDeps): void {
  app.post(
    '/v1/billing/checkout',
    {
      preValidation: authenticate,
      schema: {
        tags: ['billing'],
        summary: 'Start a Stripe Checkout for a credit pack (Idempotency-Key: a repeated request gets the same order and page)',
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7E]+$' })) }),
        body: Type.Object(
          {
            packId: Type.String({ minLength: 1, maxLength: 40 }),
            locale: Type.Optional(Type.Union([Type.Literal('en'), Type.Literal('zh')])),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ orderId: Type.String({ format: 'uuid' }), url: Type.String({ format: 'uri' }) }),
          201: Type.Object({ orderId: Type.String({ format: 'uuid' }), url: Type.String({ format: 'uri' }) }),
          400: ProblemBody,
          401: ProblemBody,
          404: ProblemBody,
          409: ProblemBody,
          422: ProblemBody,
          502: ProblemBody,
        },
      },
    },
    async (request, reply) => {
      const result = await startCheckout(
        { ...deps, log: deps.log.child({ requestId: request.id }) },
        { userId: request.user.sub, packId: request.body.packId, locale: request.body.locale ?? 'en', idempotencyKey: request.headers['idempotency-key'] },
      );
      reply.code(result.replayed ? 200 : 201);
      return { orderId: result.orderId, url: result.url };
    },
  );
}
