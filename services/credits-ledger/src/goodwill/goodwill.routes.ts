import { Type } from '@sinclair/typebox';
import { AuditReason, IdempotencyKey, ref } from '@imlab/contracts';
import { errors, operation, requireRole, type App } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import type { LedgerDeps } from '../ledger/ledger.service.js';
import { grantGoodwill, type GoodwillLimits } from './goodwill.service.js';

const GoodwillRequest = Type.Object(
  {
    userId: Type.String({ format: 'uuid', description: 'The account to credit.' }),
    amount: Type.Integer({ minimum: 1, description: 'Credits; at most the per-grant cap.' }),
    reason: AuditReason,
  },
  { $id: 'GoodwillRequest', additionalProperties: false },
);
const GoodwillGrant = Type.Object(
  {
    postingKey: Type.String({ description: 'The ledger posting (its idempotency key).' }),
    userId: Type.String({ format: 'uuid' }),
    amount: Type.Integer({ minimum: 1 }),
    auditId: Type.String({ format: 'uuid', description: 'The audit record of this grant.' }),
    grantedTodayByYou: Type.Integer({ minimum: 0, description: 'Goodwill credits this admin granted today (UTC), this grant included.' }),
  },
  { $id: 'GoodwillGrant', description: 'The credits are in the person\'s balance and history now.' },
);
export const goodwillSchemas = [GoodwillRequest, GoodwillGrant];

export function goodwillRoutes(app: App, db: Kysely<DB>, deps: () => Promise<LedgerDeps>, limits: GoodwillLimits): void {
  app.post(
    '/v1/admin/ledger/goodwill',
    {
      preHandler: requireRole('admin'),
      schema: {
        ...operation('grantGoodwillCredits', {
          tag: 'back-office',
          access: { roles: ['admin'] },
          summary: 'Grant goodwill credits',
          description:
            'Credits from the `goodwill` system account to a person, at once, with a written reason (kept in the audit log). At most GOODWILL_MAX_PER_GRANT per grant and GOODWILL_MAX_PER_ADMIN_PER_DAY per admin per UTC day (422 `LEDGER_GOODWILL_CAP`). The person\'s history shows the line as `goodwill`. The `Idempotency-Key` is required: the same request again with the same key (an answer lost on the way back) answers the first grant (200) and grants nothing; the same key with another recipient, amount or reason is 409 `LEDGER_IDEMPOTENCY_CONFLICT`.',
        }),
        headers: Type.Object({
          'idempotency-key': IdempotencyKey('One key per grant (per admin): repeating the request with it answers the first grant again, never grants twice.'),
        }),
        body: ref(GoodwillRequest),
        response: {
          200: ref(GoodwillGrant, { description: 'The same request again (same Idempotency-Key): the first grant, nothing granted now' }),
          201: ref(GoodwillGrant, { description: 'Granted' }),
          ...errors({ 400: ['VALIDATION_FAILED'], 401: ['UNAUTHENTICATED'], 403: ['FORBIDDEN'], 404: ['ACCOUNT_NOT_FOUND'], 409: ['LEDGER_IDEMPOTENCY_CONFLICT'], 422: ['LEDGER_GOODWILL_CAP'] }),
        },
      },
    },
    async (request, reply) => {
      const { replayed, ...result } = await grantGoodwill(db, await deps(), limits, { actorId: request.user.sub, ...request.body, idempotencyKey: request.headers['idempotency-key'] });
      return reply.code(replayed ? 200 : 201).send(result);
    },
  );
}
