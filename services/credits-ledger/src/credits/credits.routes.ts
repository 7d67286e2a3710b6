import { asComponent, ref } from '@imlab/contracts';
import { authenticate, errors, invalidCursor, operation, requestLocale, type App } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import { Balance, MovementPage, PageQuery } from './credits.schemas.js';
import { balanceOf, decodeCursor, movementsOf } from './credits.service.js';

/** The answers as components (their shapes are in credits.schemas.ts). */
const CreditBalance = asComponent('CreditBalance', Balance, {
  description: 'Credits that can be spent (`available`) and credits set aside for generations under way (`held`).',
  examples: [{ available: 34, held: 6 }],
});
const CreditTransactionPage = asComponent('CreditTransactionPage', MovementPage, { description: "One page of the person's credit history, newest first." });
export const creditSchemas = [CreditBalance, CreditTransactionPage];

/** The person's own credits; the user is always the token's subject, never a parameter. */
export function creditsRoutes(app: App, db: Kysely<DB>): void {
  app.get(
    '/v1/credits/balance',
    {
      preHandler: authenticate,
      schema: {
        ...operation('getCreditBalance', { tag: 'credits', access: 'session', summary: 'Credit balance', description: 'The credits available to spend and those held for generations under way.' }),
        response: { 200: ref(CreditBalance, { description: 'The balance' }), ...errors({ 401: ['UNAUTHENTICATED'] }) },
      },
    },
    async (request) => balanceOf(db, request.user.sub),
  );

  app.get(
    '/v1/credits/transactions',
    {
      preHandler: authenticate,
      schema: {
        ...operation('listCreditTransactions', {
          tag: 'credits',
          access: 'session',
          summary: 'Credit history',
          description: 'Every change to the available balance (purchases, bonuses, generations, refunds, clawbacks), newest first.',
        }),
        querystring: PageQuery,
        response: { 200: ref(CreditTransactionPage, { description: 'One page of the history' }), ...errors({ 400: ['VALIDATION_FAILED', 'INVALID_CURSOR'], 401: ['UNAUTHENTICATED'] }) },
      },
    },
    async (request) => {
      const { cursor, limit } = request.query;
      let before: number | null = null;
      if (cursor) {
        const id = decodeCursor(cursor);
        if (id === undefined) throw invalidCursor();
        before = id;
      }
      return movementsOf(db, request.user.sub, before, limit ?? 20, requestLocale(request));
    },
  );
}
