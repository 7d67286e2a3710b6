import { Type } from '@sinclair/typebox';
import { authenticate, type App } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import { Currency, ProblemBody } from '../schemas.js';
import { listOwnOrders } from './orders.service.js';

export const OrderViewSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  packId: Type.String(),
  credits: Type.Integer(),
  amount: Type.Integer(),
  currency: Currency,
  status: Type.Union(['pending', 'paid', 'refunded', 'disputed', 'failed', 'expired'].map((s) => Type.Literal(s))),
  refundedAmount: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  paidAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

/** GET /v1/billing/orders: the caller's own orders, newest first. */
export function registerOrderRoutes(app: App, db: Kysely<DB>): void {
  app.get(
    '/v1/billing/orders',
    {
      preValidation: authenticate,
      schema: {
        tags: ['billing'],
        summary: 'My orders',
        querystring: Type.Object(
          {
            cursor: Type.Optional(Type.String()), // any length: one not given out is INVALID_CURSOR
            limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ items: Type.Array(OrderViewSchema), nextCursor: Type.Union([Type.String(), Type.Null()]) }),
          400: ProblemBody,
          401: ProblemBody,
        },
      },
    },
    async (request) => listOwnOrders(db, request.user.sub, request.query.cursor, request.query.limit),
  );
}
