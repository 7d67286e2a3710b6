import { Type } from '@sinclair/typebox';
import { requireRole, type App } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import { Currency, ProblemBody } from '../schemas.js';
import { reconcile } from './reconciliation.service.js';

const Credits = Type.Object({ granted: Type.Integer(), clawedBack: Type.Integer(), restored: Type.Integer() });

/** GET /v1/admin/billing/reconciliation: finance audits orders against the ledger. */
export function registerReconciliationRoutes(app: App, db: Kysely<DB>): void {
  app.get(
    '/v1/admin/billing/reconciliation',
    {
      preValidation: requireRole('finance', 'admin'),
      schema: {
        tags: ['finance'],
        summary: 'Orders paid in a period against the ledger\'s grants and clawbacks',
        querystring: Type.Object(
          { from: Type.String({ format: 'date-time' }), to: Type.String({ format: 'date-time' }) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            from: Type.String(),
            to: Type.String(),
            orders: Type.Array(
              Type.Object({
                orderId: Type.String(),
                status: Type.String(),
                currency: Currency,
                amount: Type.Integer(),
                refundedAmount: Type.Integer(),
                disputedAmount: Type.Integer(),
                paidAt: Type.String(),
                expected: Credits,
                ledger: Type.Object({ ...Credits.properties, debt: Type.Integer() }),
                matches: Type.Boolean(),
              }),
            ),
            mismatches: Type.Array(Type.Object({ orderId: Type.String(), reasons: Type.Array(Type.String()) })),
            totals: Type.Array(
              Type.Object({
                currency: Currency,
                orders: Type.Integer(),
                gross: Type.Integer(),
                refunded: Type.Integer(),
                disputesLost: Type.Integer(),
                net: Type.Integer(),
                creditsGranted: Type.Integer(),
                creditsClawedBack: Type.Integer(),
                creditsRestored: Type.Integer(),
              }),
            ),
          }),
          400: ProblemBody,
          401: ProblemBody,
          403: ProblemBody,
        },
      },
    },
    async (request) => reconcile(db, request.query.from, request.query.to),
  );
}
