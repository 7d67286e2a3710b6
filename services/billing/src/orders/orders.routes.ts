import { Type } from '@sinclair/typebox';
import { Page, ref, StringEnum } from '@imlab/contracts';
import { authenticate, errors, operation, type App } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import { Currency } from '../schemas.js';
import { listOwnOrders } from './orders.service.js';

export const OrderViewSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    packId: Type.String(),
    credits: Type.Integer(),
    amount: Type.Integer({ description: "The price paid, in the currency's minor unit." }),
    currency: Currency,
    // OrderView keeps it a plain string.
    status: StringEnum<string>(['pending', 'paid', 'refunded', 'disputed', 'failed', 'expired']),
    refundedAmount: Type.Integer({ description: "Refunded so far, in the currency's minor unit." }),
    createdAt: Type.String({ format: 'date-time' }),
    paidAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  {
    $id: 'Order',
    description: 'A purchase of a credit pack.',
    examples: [
      {
        id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4aa0',
        packId: 'starter',
        credits: 100,
        amount: 500,
        currency: 'usd',
        status: 'paid',
        refundedAmount: 0,
        createdAt: '2026-11-03T11:00:00.000Z',
        paidAt: '2026-11-03T11:01:30.000Z',
      },
    ],
  },
);
const OrderPage = Page('OrderPage', ref(OrderViewSchema), { description: "One page of the person's orders, newest first." });
/** The order routes' components, registered with the app. */
export const orderSchemas = [OrderViewSchema, OrderPage];

/** GET /v1/billing/orders: the caller's own orders, newest first. */
export function registerOrderRoutes(app: App, db: Kysely<DB>): void {
  app.get(
    '/v1/billing/orders',
    {
      preValidation: authenticate,
      schema: {
        ...operation('listOrders', { tag: 'billing', access: 'session', summary: 'My orders', description: "The person's orders of credit packs, newest first." }),
        querystring: Type.Object(
          {
            cursor: Type.Optional(Type.String()), // any length: one not given out is INVALID_CURSOR
            // Optional: the default fills it in (a client need not send it, and the document says so).
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: ref(OrderPage, { description: 'One page of orders' }), ...errors({ 400: ['VALIDATION_FAILED', 'INVALID_CURSOR'], 401: ['UNAUTHENTICATED'] }) },
      },
    },
    async (request) => listOwnOrders(db, request.user.sub, request.query.cursor, request.query.limit ?? 20),
  );
}
