import { Type } from '@sinclair/typebox';
import { ref } from '@imlab/contracts';
import { requireServiceToken, type App } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import { ProblemBody } from '../schemas.js';
import { OrderViewSchema } from '../orders/orders.routes.js';
import { exportOrders } from '../orders/orders.service.js';

/** Auth's export saga collects the person's purchase history here (auth's service token only). */
export function registerPrivacyRoutes(app: App, db: Kysely<DB>): void {
  app.get(
    '/internal/users/:userId/export',
    {
      preValidation: requireServiceToken('auth'),
      schema: {
        hide: true,
        params: Type.Object({ userId: Type.String({ format: 'uuid' }) }),
        response: {
          200: Type.Object({ userId: Type.String(), orders: Type.Array(ref(OrderViewSchema)) }),
          400: ProblemBody,
          403: ProblemBody,
        },
      },
    },
    async (request) => ({ userId: request.params.userId, orders: await exportOrders(db, request.params.userId) }),
  );
}
