import { Type } from '@sinclair/typebox';
import { AUDIT_ACTIONS, Page, StringEnum, ref, type Role } from '@imlab/contracts';
import { AppError, errors, operation, type App } from '@imlab/http';
import type { AuthDeps } from '../deps.js';
import type { SessionService } from '../sessions/sessions.service.js';
import { callerOf, requireCaller } from '../http/request-auth.js';
import * as audit from './audit.service.js';

const AuditEntry = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    at: Type.String({ format: 'date-time', description: 'When the action committed.' }),
    service: Type.String({ description: 'The service that acted.' }),
    actorId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], { description: 'Who acted (null once their account was purged).' }),
    action: StringEnum(AUDIT_ACTIONS),
    targetUserId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], { description: 'Whom it concerns (null: nobody in particular, or purged since).' }),
    targetIds: Type.Record(Type.String(), Type.String({ format: 'uuid' }), { description: 'Other ids it touched (image, posting…).' }),
    reason: Type.String({ description: 'The written reason given.' }),
  },
  { $id: 'AuditEntry', description: 'One back-office action: ids only, never an address or a name.' },
);
const AuditPage = Page('AuditPage', ref(AuditEntry), { description: 'One page of the audit log, newest first.' });
export const auditSchemas = [AuditEntry, AuditPage];

const AUDIT_ROLES: readonly Role[] = ['admin'];

export function registerAuditRoutes(app: App, deps: AuthDeps, sessions: SessionService): void {
  const authed = requireCaller(deps.keys, sessions);
  app.get(
    '/v1/admin/audit',
    {
      preHandler: authed,
      schema: {
        ...operation('listAuditLog', {
          tag: 'back-office',
          access: { roles: AUDIT_ROLES },
          summary: 'The audit log',
          description: 'Every back-office action (moderation, suspensions, goodwill credits, support look-ups), newest first; filter by actor, target person or action. Append-only.',
        }),
        querystring: Type.Object(
          {
            actorId: Type.Optional(Type.String({ format: 'uuid' })),
            targetUserId: Type.Optional(Type.String({ format: 'uuid' })),
            action: Type.Optional(StringEnum(AUDIT_ACTIONS)),
            cursor: Type.Optional(Type.String({ description: 'The `nextCursor` of the previous page; empty or absent for the first.' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: ref(AuditPage, { description: 'One page of the log' }), ...errors({ 400: ['VALIDATION_FAILED', 'INVALID_CURSOR'], 401: ['UNAUTHENTICATED'], 403: ['FORBIDDEN'] }) },
      },
    },
    async (request) => {
      if (!callerOf(request).roles.some((r) => AUDIT_ROLES.includes(r))) throw new AppError('FORBIDDEN', { message: 'requires role admin' });
      const q = request.query;
      return audit.list(deps.db, { ...q, limit: q.limit ?? 50 });
    },
  );
}
