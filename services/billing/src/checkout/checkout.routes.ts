import { Type } from '@sinclair/typebox';
import { IdempotencyKey, ref, StringEnum } from '@imlab/contracts';
import { authenticate, errors, JSON_BODY_ERRORS, operation, refuseSuspended, type App, type SuspensionSource } from '@imlab/http';
import { startCheckout, type CheckoutDeps } from './checkout.service.js';

const CheckoutRequest = Type.Object(
  {
    packId: Type.String({ minLength: 1, maxLength: 40, description: 'A pack of `GET /v1/pricing`.' }),
    locale: Type.Optional(StringEnum(['en', 'zh'], { description: 'The language of the Stripe page; English by default.' })),
  },
  { $id: 'CheckoutRequest', additionalProperties: false, examples: [{ packId: 'starter', locale: 'en' }] },
);
const CheckoutSession = Type.Object(
  { orderId: Type.String({ format: 'uuid' }), url: Type.String({ format: 'uri', description: 'The Stripe Checkout page to send the browser to.' }) },
  {
    $id: 'CheckoutSession',
    description: 'The order and its Stripe Checkout page. Credits are granted when Stripe reports the payment.',
    examples: [{ orderId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4aa0', url: 'https://checkout.stripe.com/c/pay/cs_test_a1b2c3' }],
  },
);
/** The checkout route's components, registered with the app. */
export const checkoutSchemas = [CheckoutRequest, CheckoutSession];

/** POST /v1/billing/checkout: signed-in person buys a pack; answers the Stripe Checkout URL. */
export function registerCheckoutRoutes(app: App, deps: CheckoutDeps, suspension: SuspensionSource): void {
  app.post(
    '/v1/billing/checkout',
    {
      preValidation: authenticate,
      preHandler: refuseSuspended(suspension),
      schema: {
        ...operation('createCheckoutSession', {
          tag: 'billing',
          access: 'session',
          summary: 'Start a Stripe Checkout for a credit pack',
          description:
            'Creates an order for the pack and answers its Stripe Checkout page. With an `Idempotency-Key`, the same request again answers the same order and page (200); the same key with another pack is 422 `BILLING_IDEMPOTENCY_KEY_REUSED`, a checkout that is over 422 `BILLING_CHECKOUT_OVER`, one still being opened 409 `BILLING_CHECKOUT_IN_PROGRESS`.',
        }),
        headers: Type.Object({
          'idempotency-key': Type.Optional(IdempotencyKey('Repeating a request with the same key answers its first result again (per person).')),
        }),
        body: ref(CheckoutRequest),
        response: {
          200: ref(CheckoutSession, { description: 'The same request again (same Idempotency-Key): the first answer' }),
          201: ref(CheckoutSession, { description: 'The order is created; send the browser to `url`' }),
          ...errors(JSON_BODY_ERRORS, {
            401: ['UNAUTHENTICATED'],
            403: ['ACCOUNT_SUSPENDED'],
            404: ['BILLING_PACK_NOT_FOUND'],
            409: ['BILLING_CHECKOUT_IN_PROGRESS', 'BILLING_CONFLICT'],
            422: ['BILLING_IDEMPOTENCY_KEY_REUSED', 'BILLING_CHECKOUT_OVER'],
            502: ['BILLING_STRIPE_UNAVAILABLE'],
          }),
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
