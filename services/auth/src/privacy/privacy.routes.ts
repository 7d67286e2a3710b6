import { createReadStream } from 'node:fs';
import { Type } from '@sinclair/typebox';
import { Problem } from '@imlab/contracts';
import type { App } from '@imlab/http';
import type { AuthDeps } from '../deps.js';
import type { SessionService } from '../sessions/sessions.service.js';
import type { PrivacyService } from './privacy.service.js';
import { exportView } from './privacy.service.js';
import { clearSessionCookie } from '../sessions/cookies.js';
import { callerOf, requireCaller } from '../http/request-auth.js';
import { Password } from '../accounts/accounts.schemas.js';

const ExportView = Type.Object({
  id: Type.String({ format: 'uuid' }),
  status: Type.Union([Type.Literal('pending'), Type.Literal('running'), Type.Literal('ready'), Type.Literal('failed')]),
  createdAt: Type.String({ format: 'date-time' }),
  completedAt: Type.Optional(Type.String({ format: 'date-time' })),
  expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
  downloadUrl: Type.Optional(Type.String()),
});
const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

export function registerPrivacyRoutes(app: App, deps: AuthDeps, privacy: PrivacyService, sessions: SessionService): void {
  const authed = requireCaller(deps.keys, sessions);

  app.delete(
    '/v1/me',
    {
      preHandler: authed,
      // a DELETE usually has no body: treat none as {} so the schema still guards a given one
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
      schema: {
        tags: ['me'],
        body: Type.Object({ password: Type.Optional(Password) }, { additionalProperties: false }),
        response: { 202: Type.Object({ status: Type.Literal('scheduled'), purgeAfter: Type.String({ format: 'date-time' }) }), 401: Problem, 403: Problem, 429: Problem },
      },
    },
    async (request, reply) => {
      const { purgeAfter } = await privacy.requestDeletion(callerOf(request), request.body.password);
      clearSessionCookie(reply, deps.config);
      return reply.code(202).send({ status: 'scheduled' as const, purgeAfter });
    },
  );

  app.post('/v1/me/exports', { preHandler: authed, schema: { tags: ['me'], response: { 202: ExportView, 401: Problem } } }, async (request, reply) => {
    const row = await privacy.requestExport(callerOf(request).userId);
    return reply.code(202).send(exportView(row));
  });

  app.get('/v1/me/exports/:id', { preHandler: authed, schema: { tags: ['me'], params: IdParams, response: { 200: ExportView, 401: Problem, 404: Problem } } }, async (request) =>
    exportView(await privacy.getExport(callerOf(request).userId, request.params.id)),
  );

  app.get(
    '/v1/me/exports/:id/download',
    { preHandler: authed, schema: { tags: ['me'], params: IdParams, response: { 200: Type.Any(), 401: Problem, 404: Problem } } },
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
