import { Type } from '@sinclair/typebox';
import { ref } from '@imlab/contracts';
import { badRequest, errors, notFound, operation, requireRole, type App } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const OrderIds = Type.Object(
  {
    items: Type.Array(
      Type.Object({
        orderId: Type.String({ format: 'uuid' }),
        userId: Nullable(Type.String({ format: 'uuid', description: 'null once the person was purged' })),
        status: Type.String(),
        paymentIntentId: Nullable(Type.String()),
        chargeId: Nullable(Type.String()),
      }),
    ),
  },
  { $id: 'BillingOrderLookup', description: 'Ids only: the orders, their person and their Stripe payment and charge.' },
);
export const lookupSchemas = [OrderIds];

/**
 * GET /v1/admin/billing/lookup: finance goes from an order, a Stripe charge or PaymentIntent id, or
 * a person's id to the orders (and on to the ledger's lookup with the person's id) — ids only.
 * A charge id is known once Stripe's balance transactions were imported (or named by a refund).
 */
export function registerLookupRoutes(app: App, db: Kysely<DB>): void {
  app.get(
    '/v1/admin/billing/lookup',
    {
      preValidation: requireRole('finance', 'admin'),
      schema: {
        ...operation('lookupBillingOrders', {
          tag: 'finance',
          access: { roles: ['finance', 'admin'] },
          summary: 'From an order, a Stripe charge or a person to the orders',
          description: 'Give one of `orderId`, `chargeId`, `paymentIntentId`, `userId`; answers the orders with their person and Stripe ids.',
        }),
        querystring: Type.Object(
          {
            orderId: Type.Optional(Type.String({ format: 'uuid' })),
            chargeId: Type.Optional(Type.String({ pattern: '^ch_[A-Za-z0-9_]{1,250}$' })),
            paymentIntentId: Type.Optional(Type.String({ pattern: '^pi_[A-Za-z0-9_]{1,250}$' })),
            userId: Type.Optional(Type.String({ format: 'uuid' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: ref(OrderIds, { description: 'The orders' }), ...errors({ 400: ['VALIDATION_FAILED'], 401: ['UNAUTHENTICATED'], 403: ['FORBIDDEN'], 404: ['NOT_FOUND'] }) },
      },
    },
    async (request) => {
      const q = request.query;
      const given = [q.orderId, q.chargeId, q.paymentIntentId, q.userId].filter((v) => v !== undefined).length;
      if (given !== 1) throw badRequest('VALIDATION_FAILED', 'give exactly one of orderId, chargeId, paymentIntentId, userId');
      let query = db.selectFrom('orders').select(['id', 'user_id', 'status', 'stripe_payment_intent_id', 'stripe_charge_id']);
      if (q.orderId) query = query.where('id', '=', q.orderId);
      else if (q.userId) query = query.where('user_id', '=', q.userId);
      else if (q.paymentIntentId) query = query.where('stripe_payment_intent_id', '=', q.paymentIntentId);
      else {
        // The order's own charge id, or the PaymentIntent an imported transaction gives that charge.
        const charge = q.chargeId!;
        query = query.where((eb) =>
          eb.or([
            eb('stripe_charge_id', '=', charge),
            eb('stripe_payment_intent_id', 'in', eb.selectFrom('stripe_balance_transactions').select('payment_intent_id').where('source_id', '=', charge).where('payment_intent_id', 'is not', null)),
            eb('id', 'in', eb.selectFrom('stripe_events').select('order_id').where('object_id', '=', charge).where('order_id', 'is not', null)),
          ]),
        );
      }
      const rows = await query.orderBy('id').limit(500).execute();
      if (rows.length === 0) throw notFound('order');
      return { items: rows.map((o) => ({ orderId: o.id, userId: o.user_id, status: o.status, paymentIntentId: o.stripe_payment_intent_id, chargeId: o.stripe_charge_id })) };
    },
  );
}
