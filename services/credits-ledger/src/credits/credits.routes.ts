import { authenticate, invalidCursor, requestLocale, type App } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import { Balance, MovementPage, PageQuery, problems } from './credits.schemas.js';
import { balanceOf, decodeCursor, movementsOf } from './credits.service.js';

/** The person's own credits; the user is always the token's subject, never a parameter. */
export function creditsRoutes(app: App, db: Kysely<DB>): void {
  app.get(
    '/v1/credits/balance',
    { preHandler: authenticate, schema: { tags: ['credits'], response: { 200: Balance, 401: problems[401] } } },
    async (request) => balanceOf(db, request.user.sub),
  );

  app.get(
    '/v1/credits/transactions',
    { preHandler: authenticate, schema: { tags: ['credits'], querystring: PageQuery, response: { 200: MovementPage, 400: problems[400], 401: problems[401] } } },
    async (request) => {
      const { cursor, limit } = request.query;
      let before: number | null = null;
      if (cursor) {
        const id = decodeCursor(cursor);
        if (id === undefined) throw invalidCursor();
        before = id;
      }
      return movementsOf(db, request.user.sub, before, limit, requestLocale(request));
    },
  );
}
