import { Type } from '@sinclair/typebox';
import { ref } from '@imlab/contracts';
import { errors, operation, requireRole, type App } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import { Currency } from '../schemas.js';
import { reconcile } from './reconciliation.service.js';

const Credits = Type.Object({ granted: Type.Integer(), clawedBack: Type.Integer(), restored: Type.Integer() });

const Reconciliation = Type.Object(
  {
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
        tax: Type.Union([Type.Integer(), Type.Null()], { description: 'Tax Stripe Tax computed for the order (minor units); null without Stripe Tax.' }),
        taxBehavior: Type.Union([Type.Literal('inclusive'), Type.Literal('exclusive'), Type.Null()]),
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
        tax: Type.Integer({ description: 'Tax collected on the orders, in minor units (not revenue).' }),
        creditsGranted: Type.Integer(),
        creditsClawedBack: Type.Integer(),
        creditsRestored: Type.Integer(),
      }),
    ),
  },
  { $id: 'Reconciliation', description: 'Each order paid in the period with the credits it should have moved and those the ledger moved; the mismatches; totals per currency.' },
);
/** The reconciliation route's components, registered with the app. */
export const reconciliationSchemas = [Reconciliation];

/** GET /v1/admin/billing/reconciliation: finance audits orders against the ledger. */
export function registerReconciliationRoutes(app: App, db: Kysely<DB>): void {
  app.get(
    '/v1/admin/billing/reconciliation',
    {
      preValidation: requireRole('finance', 'admin'),
      schema: {
        ...operation('getBillingReconciliation', {
          tag: 'finance',
          access: { roles: ['finance', 'admin'] },
          summary: 'Orders against the ledger for a period',
          description: "Orders paid from `from` to `to` (at most 366 days) against the ledger's grants, clawbacks and restores.",
        }),
        querystring: Type.Object(
          { from: Type.String({ format: 'date-time' }), to: Type.String({ format: 'date-time' }) },
          { additionalProperties: false },
        ),
        response: {
          200: ref(Reconciliation, { description: 'The reconciliation' }),
          ...errors({ 400: ['VALIDATION_FAILED', 'BILLING_RECONCILIATION_PERIOD_INVALID'], 401: ['UNAUTHENTICATED'], 403: ['FORBIDDEN'] }),
        },
      },
    },
    async (request) => reconcile(db, request.query.from, request.query.to),
  );
}
