import { Type } from '@sinclair/typebox';
import { AuditReason, ref } from '@imlab/contracts';
import { badRequest, errors, operation, type App } from '@imlab/http';
import type { AuthDeps } from '../deps.js';
import type { SessionService } from '../sessions/sessions.service.js';
import { callerOf, requireCaller } from '../http/request-auth.js';
import { ADMIN, requireAdmin } from './suspension.routes.js';
import type { SupportService } from './support.service.js';

const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Integer>>(t: T) => Type.Union([t, Type.Null()]);

const SupportLookupRequest = Type.Object(
  {
    email: Type.Optional(Type.String({ minLength: 3, maxLength: 320, description: 'Find the account by its address…' })),
    userId: Type.Optional(Type.String({ format: 'uuid', description: '…or by its id (exactly one of the two).' })),
    reason: AuditReason,
    showPrompts: Type.Optional(Type.Boolean({ description: 'Show the prompts too (false when left out) (recorded as its own audit action, with the reason).' })),
  },
  { $id: 'SupportLookupRequest', additionalProperties: false },
);
const SupportAccount = Type.Object(
  {
    auditId: Type.String({ format: 'uuid' }),
    promptsShown: Type.Boolean(),
    account: Type.Object({
      id: Type.String({ format: 'uuid' }),
      email: Type.String(),
      emailVerified: Type.Boolean(),
      displayName: Type.String(),
      locale: Type.String(),
      roles: Type.Array(Type.String()),
      status: Type.String({ description: '`active`, or `deleted` (waiting for its purge).' }),
      suspended: Type.Boolean(),
      google: Type.Boolean(),
      createdAt: Type.String({ format: 'date-time' }),
    }),
    balance: Type.Object({ available: Type.Integer(), held: Type.Integer() }),
    creditLines: Type.Array(Type.Object({ kind: Type.String(), amount: Type.Integer(), description: Type.String(), createdAt: Type.String() }), { description: 'The latest 50 lines of the credit history.' }),
    orders: Type.Array(
      Type.Object({ id: Type.String(), status: Type.String(), credits: Nullable(Type.Integer()), amount: Nullable(Type.Integer()), currency: Nullable(Type.String()), createdAt: Type.String() }),
      { description: 'The latest 50 orders.' },
    ),
    generations: Type.Array(
      Type.Object({
        id: Type.String(),
        status: Type.String(),
        model: Type.String(),
        count: Type.Integer(),
        cost: Type.Integer(),
        errorCode: Nullable(Type.String()),
        createdAt: Type.String(),
        images: Type.Integer(),
        published: Type.Integer(),
        prompt: Nullable(Type.String({ description: 'Only with `showPrompts`.' })),
        negativePrompt: Nullable(Type.String()),
      }),
      { description: 'The latest 50 generations, newest first.' },
    ),
  },
  { $id: 'SupportAccount', description: 'One account as support sees it.' },
);
export const supportSchemas = [SupportLookupRequest, SupportAccount];

export function registerSupportRoutes(app: App, deps: AuthDeps, sessions: SessionService, support: SupportService): void {
  app.post(
    '/v1/admin/support/lookup',
    {
      preHandler: requireCaller(deps.keys, sessions),
      schema: {
        ...operation('lookUpAccount', {
          tag: 'back-office',
          access: { roles: ADMIN },
          summary: 'Look an account up (support)',
          description:
            'One account by email or id: profile, balance, latest credit lines, orders and generations. A written reason is required and kept in the audit log; prompts are shown only with `showPrompts`, recorded as its own audit action. A POST so that addresses stay out of URLs and logs.',
        }),
        body: ref(SupportLookupRequest),
        response: {
          200: ref(SupportAccount, { description: 'The account' }),
          ...errors({ 400: ['VALIDATION_FAILED'], 401: ['UNAUTHENTICATED'], 403: ['FORBIDDEN'], 404: ['ACCOUNT_NOT_FOUND'] }, { 503: ['SERVICE_UNAVAILABLE'] }),
        },
      },
    },
    async (request) => {
      requireAdmin(callerOf(request).roles);
      const { email, userId, reason, showPrompts } = request.body;
      if ((email === undefined) === (userId === undefined)) throw badRequest('VALIDATION_FAILED', 'give exactly one of email and userId', { errors: [{ path: '/email', message: 'give exactly one of email and userId' }] });
      return support.lookup(callerOf(request).userId, { email, userId, reason, showPrompts: showPrompts ?? false });
    },
  );
}
