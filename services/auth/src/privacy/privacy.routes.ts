import { createReadStream } from 'node:fs';
import { Type } from '@sinclair/typebox';
import { ref, StringEnum } from '@imlab/contracts';
import { AppError, binaryContent, errors, operation, type App } from '@imlab/http';
import type { AuthDeps } from '../deps.js';
import type { SessionService } from '../sessions/sessions.service.js';
import type { PrivacyService } from './privacy.service.js';
import { exportView } from './privacy.service.js';
import { clearSessionCookie } from '../sessions/cookies.js';
import { callerOf, requireCaller } from '../http/request-auth.js';
import { Password } from '../accounts/accounts.schemas.js';

const ExportView = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    status: StringEnum(['pending', 'running', 'ready', 'failed']),
    createdAt: Type.String({ format: 'date-time' }),
    completedAt: Type.Optional(Type.String({ format: 'date-time' })),
    expiresAt: Type.Optional(Type.String({ format: 'date-time', description: 'When the archive is deleted.' })),
    downloadUrl: Type.Optional(Type.String({ description: 'Once ready: where to download the zip.' })),
  },
  {
    $id: 'DataExport',
    description: 'An export of everything the account holds (profile, credits, images, orders), built in the background; an email says when it is ready.',
    examples: [
      {
        id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a70',
        status: 'ready',
        createdAt: '2026-11-03T10:00:00.000Z',
        completedAt: '2026-11-03T10:00:41.000Z',
        expiresAt: '2026-11-10T10:00:41.000Z',
        downloadUrl: '/v1/me/exports/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a70/download',
      },
    ],
  },
);
const DeletionRequest = Type.Object(
  { password: Type.Optional(Password) },
  {
    $id: 'AccountDeletionRequest',
    additionalProperties: false,
    description: 'The password, unless the session signed in recently (Google-only accounts sign in again instead).',
    examples: [{ password: 'lantern-harbour-fog-7' }],
  },
);
const DeletionScheduled = Type.Object(
  { status: Type.Literal('scheduled'), purgeAfter: Type.String({ format: 'date-time', description: 'When everything the account holds is deleted.' }) },
  { $id: 'AccountDeletionScheduled', examples: [{ status: 'scheduled', purgeAfter: '2026-11-10T10:00:00.000Z' }] },
);
const IdParams = Type.Object({ id: Type.String({ format: 'uuid', description: 'The export id.' }) });

const IncompleteDeletion = Type.Object(
  {
    id: Type.String({ format: 'uuid', description: 'The deletion id: random, names nobody.' }),
    dueAt: Type.String({ format: 'date-time', description: 'When the purge was due (the end of the grace period).' }),
    purgedAt: Type.String({ format: 'date-time', description: "When auth did its part and told the services." }),
    partsDone: Type.Array(Type.String(), { description: 'Services that reported their part done.' }),
    partsPending: Type.Array(Type.String(), { description: 'Services that have not yet.' }),
  },
  { $id: 'IncompleteDeletion', additionalProperties: false },
);
const IncompleteDeletions = Type.Object(
  { olderThanDays: Type.Number(), deletions: Type.Array(ref(IncompleteDeletion), { description: 'At most 500, the oldest first.' }) },
  {
    $id: 'IncompleteDeletions',
    additionalProperties: false,
    examples: [
      {
        olderThanDays: 2,
        deletions: [{ id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a71', dueAt: '2026-11-10T10:00:00.000Z', purgedAt: '2026-11-10T10:00:04.000Z', partsDone: ['billing', 'credits-ledger', 'notification'], partsPending: ['generation'] }],
      },
    ],
  },
);

/** The privacy routes' schemas, registered with the app. */
export const privacySchemas = [ExportView, DeletionRequest, DeletionScheduled, IncompleteDeletion, IncompleteDeletions];

const OPS_ROLES = ['ops', 'admin'] as const;
const incompleteDeletionsSchema = {
  ...operation('listIncompleteDeletions', {
    tag: 'operations',
    access: { roles: OPS_ROLES },
    summary: 'Deletions not finished everywhere',
    description: 'Account purges some service has not reported done, due more than `olderThanDays` days ago (default 0: every unfinished one). Each names only its random deletion id.',
  }),
  querystring: Type.Object({ olderThanDays: Type.Optional(Type.Number({ minimum: 0, maximum: 3650, default: 0 })) }, { additionalProperties: false }),
  response: { 200: ref(IncompleteDeletions, { description: 'The unfinished deletions' }), ...errors({ 400: ['VALIDATION_FAILED'], 401: ['UNAUTHENTICATED'], 403: ['FORBIDDEN'] }) },
};

const startExportSchema = {
  ...operation('createExport', {
    tag: 'account',
    access: 'session',
    summary: 'Start an export of the account',
    description: 'Starts building an archive of everything the account holds, or answers the export already under way.',
  }),
  response: { 202: ref(ExportView, { description: 'The export, being built' }), ...errors({ 401: ['UNAUTHENTICATED'] }) },
};
const getExportSchema = {
  ...operation('getExport', { tag: 'account', access: 'session', summary: 'An export\'s status', description: 'Whether the export is ready, and where to download it once it is.' }),
  params: IdParams,
  response: { 200: ref(ExportView, { description: 'The export' }), ...errors({ 400: ['VALIDATION_FAILED'], 401: ['UNAUTHENTICATED'], 404: ['NOT_FOUND'] }) },
};

export function registerPrivacyRoutes(app: App, deps: AuthDeps, privacy: PrivacyService, sessions: SessionService): void {
  const authed = requireCaller(deps.keys, sessions);

  app.get('/v1/admin/accounts/deletions', { preHandler: authed, schema: incompleteDeletionsSchema }, async (request) => {
    if (!callerOf(request).roles.some((r) => (OPS_ROLES as readonly string[]).includes(r))) throw new AppError('FORBIDDEN', { message: `requires role ${OPS_ROLES.join(' or ')}` });
    const olderThanDays = request.query.olderThanDays ?? 0;
    return { olderThanDays, deletions: await privacy.receipts.incomplete(deps.db, olderThanDays * 86400) };
  });

  app.delete(
    '/v1/me',
    {
      preHandler: authed,
      // a DELETE usually has no body: treat none as {} so the schema still guards a given one
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
      schema: {
        ...operation('deleteAccount', {
          tag: 'account',
          access: 'session',
          summary: 'Delete the account',
          description:
            'Disables the account at once (every session ends, the images leave the gallery) and deletes everything it holds after the grace period. Needs the password, or a recent sign-in. The body is optional.',
          optionalBody: true,
        }),
        body: ref(DeletionRequest),
        response: {
          202: ref(DeletionScheduled, { description: 'Disabled; the purge is scheduled' }),
          ...errors({ 400: ['VALIDATION_FAILED'], 401: ['UNAUTHENTICATED'], 403: ['AUTH_REAUTH_REQUIRED'], 413: ['PAYLOAD_TOO_LARGE'], 415: ['UNSUPPORTED_MEDIA_TYPE'], 429: ['AUTH_TOO_MANY_ATTEMPTS'] }),
        },
      },
    },
    async (request, reply) => {
      const { purgeAfter } = await privacy.requestDeletion(callerOf(request), request.body.password);
      clearSessionCookie(reply, deps.config);
      return reply.code(202).send({ status: 'scheduled' as const, purgeAfter });
    },
  );

  app.post('/v1/me/exports', { preHandler: authed, schema: startExportSchema }, async (request, reply) => {
    const row = await privacy.requestExport(callerOf(request).userId);
    return reply.code(202).send(exportView(row));
  });

  app.get('/v1/me/exports/:id', { preHandler: authed, schema: getExportSchema }, async (request) =>
    exportView(await privacy.getExport(callerOf(request).userId, request.params.id)),
  );

  app.get(
    '/v1/me/exports/:id/download',
    {
      preHandler: authed,
      schema: {
        ...operation('downloadExport', { tag: 'account', access: 'session', summary: 'Download an export', description: 'The zip archive of a ready export (until it expires).' }),
        params: IdParams,
        response: {
          200: {
            description: 'The zip archive',
            headers: { 'content-disposition': Type.String({ description: 'attachment; filename="imagemakerlab-export-<id>.zip"' }) },
            content: binaryContent(['application/zip']),
          },
          ...errors({ 400: ['VALIDATION_FAILED'], 401: ['UNAUTHENTICATED'], 404: ['NOT_FOUND'] }),
        },
      },
    },
    async (request, reply) => {
      const path = await privacy.exportFile(callerOf(request).userId, request.params.id);
      reply
        .header('content-type', 'application/zip')
        .header('content-disposition', `attachment; filename="imagemakerlab-export-${request.params.id}.zip"`)
        .header('cache-control', 'private, no-store');
      return reply.send(createReadStream(path));
    },
  );
}
