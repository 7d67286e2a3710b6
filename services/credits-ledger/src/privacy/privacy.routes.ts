import { Type } from '@sinclair/typebox';
import { requestLocale, requireServiceToken, type App } from '@imlab/http';
import { Problem } from '@imlab/contracts';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import { Balance, Movement } from '../credits/credits.schemas.js';
import { balanceOf, decodeCursor, movementsOf, type Movement as MovementT } from '../credits/credits.service.js';

const Export = Type.Object({ userId: Type.String(), balance: Balance, transactions: Type.Array(Movement) }, { additionalProperties: false });

/** Auth's export saga collects the person's transaction history here (auth's service token only). */
export function privacyRoutes(app: App, db: Kysely<DB>): void {
  app.get(
    '/internal/users/:userId/export',
    {
      preValidation: requireServiceToken('auth'),
      schema: {
        hide: true,
        params: Type.Object({ userId: Type.String({ format: 'uuid' }) }),
        response: { 200: Export, 400: Problem, 403: Problem },
      },
    },
    async (request) => {
      const { userId } = request.params;
      const transactions: MovementT[] = [];
      let before: number | null = null;
      for (;;) {
        const page = await movementsOf(db, userId, before, 100, requestLocale(request));
        transactions.push(...page.items);
        if (!page.nextCursor) break;
        before = decodeCursor(page.nextCursor) ?? null;
      }
      return { userId, balance: await balanceOf(db, userId), transactions };
    },
  );
}
