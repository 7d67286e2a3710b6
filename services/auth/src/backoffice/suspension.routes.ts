import { Type } from '@sinclair/typebox';
import { AuditReason, ref, type Role } from '@imlab/contracts';
import { AppError, errors, operation, type App } from '@imlab/http';
import type { AuthDeps } from '../deps.js';
import type { SessionService } from '../sessions/sessions.service.js';
import { callerOf, requireCaller } from '../http/request-auth.js';
import type { SuspensionService } from './suspension.service.js';

const Suspension = Type.Object(
  {
    userId: Type.String({ format: 'uuid' }),
    suspended: Type.Boolean(),
    auditId: Type.String({ format: 'uuid', description: 'The audit record of this action.' }),
  },
  { $id: 'AccountSuspension', description: 'The account\'s suspension state after the action.' },
);
export const suspensionSchemas = [Suspension];

export const ADMIN: readonly Role[] = ['admin'];
export const requireAdmin = (roles: readonly Role[]) => {
  if (!roles.some((r) => ADMIN.includes(r))) throw new AppError('FORBIDDEN', { message: 'requires role admin' });
};

export function registerSuspensionRoutes(app: App, deps: AuthDeps, sessions: SessionService, suspension: SuspensionService): void {
  const authed = requireCaller(deps.keys, sessions);
  const params = Type.Object({ id: Type.String({ format: 'uuid' }) });
  const body = Type.Object({ reason: AuditReason }, { additionalProperties: false });
  const response = {
    200: ref(Suspension, { description: 'Done' }),
    ...errors({ 400: ['VALIDATION_FAILED'], 401: ['UNAUTHENTICATED'], 403: ['FORBIDDEN'], 404: ['ACCOUNT_NOT_FOUND'], 409: ['ACCOUNT_SUSPENSION_UNCHANGED'] }),
  };
  app.post(
    '/v1/admin/accounts/:id/suspend',
    {
      preHandler: authed,
      schema: {
        ...operation('suspendAccount', {
          tag: 'back-office',
          access: { roles: ADMIN },
          summary: 'Suspend an account',
          description:
            'Every session of the account ends at once (at every gateway too); signing in answers 403 `ACCOUNT_SUSPENDED`, and so do creating, publishing and buying. The person is told by email. The written reason goes to the audit log.',
        }),
        params,
        body,
        response,
      },
    },
    async (request) => {
      requireAdmin(callerOf(request).roles);
      return suspension.suspend(callerOf(request).userId, request.params.id, request.body.reason);
    },
  );
  app.post(
    '/v1/admin/accounts/:id/unsuspend',
    {
      preHandler: authed,
      schema: {
        ...operation('unsuspendAccount', {
          tag: 'back-office',
          access: { roles: ADMIN },
          summary: 'Lift a suspension',
          description: 'The account may sign in again; the person is told by email. The written reason goes to the audit log.',
        }),
        params,
        body,
        response,
      },
    },
    async (request) => {
      requireAdmin(callerOf(request).roles);
      return suspension.unsuspend(callerOf(request).userId, request.params.id, request.body.reason);
    },
  );
}
