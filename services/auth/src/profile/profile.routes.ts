import { Type } from '@sinclair/typebox';
import { Locale, Problem } from '@imlab/contracts';
import { AppError, type App, invalidCursor } from '@imlab/http';
import type { AuthDeps } from '../deps.js';
import type { ProfileService } from './profile.service.js';
import type { SessionService } from '../sessions/sessions.service.js';
import { Me } from '../accounts/accounts.schemas.js';
import { setLocaleCookie } from '../sessions/cookies.js';
import { callerOf, requireCaller } from '../http/request-auth.js';

const PatchMe = Type.Object(
  {
    // "" (or only spaces) removes the name: the gallery then says anonymous.
    displayName: Type.Optional(Type.String({ maxLength: 64 })),
    locale: Type.Optional(Locale),
  },
  { additionalProperties: false, minProperties: 1 },
);

const SessionItem = Type.Object({
  id: Type.String({ format: 'uuid' }),
  createdAt: Type.String({ format: 'date-time' }),
  lastSeenAt: Type.String({ format: 'date-time' }),
  device: Type.String(),
  current: Type.Boolean(),
});

export function registerProfileRoutes(app: App, deps: AuthDeps, profiles: ProfileService, sessions: SessionService): void {
  const authed = requireCaller(deps.keys, sessions);

  app.get('/v1/me', { preHandler: authed, schema: { tags: ['me'], response: { 200: Me, 401: Problem } } }, async (request) => profiles.get(callerOf(request).userId));

  app.patch('/v1/me', { preHandler: authed, schema: { tags: ['me'], body: PatchMe, response: { 200: Me, 400: Problem, 401: Problem } } }, async (request, reply) => {
    const displayName = request.body.displayName?.trim();
    const me = await profiles.update(callerOf(request).userId, { ...(displayName !== undefined ? { displayName } : {}), ...(request.body.locale ? { locale: request.body.locale } : {}) });
    // Set from the stored, validated value: the request's text never reaches Set-Cookie.
    if (request.body.locale) {
      setLocaleCookie(reply, deps.config, me.locale);
      // Cached session lookups carry the old locale (the internal tokens' claim): drop them.
      await sessions.invalidateUser(me.id);
    }
    return me;
  });

  app.get(
    '/v1/me/sessions',
    {
      preHandler: authed,
      schema: {
        tags: ['me'],
        querystring: Type.Object({ cursor: Type.Optional(Type.String()), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) }),
        response: { 200: Type.Object({ items: Type.Array(SessionItem), nextCursor: Type.Null() }), 400: Problem, 401: Problem },
      },
    },
    async (request) => {
      // One page, so no cursor was ever given out: any non-empty one is refused, as on every list.
      if (request.query.cursor) throw invalidCursor();
      const caller = callerOf(request);
      const rows = await sessions.list(caller.userId);
      return {
        items: rows.map((s) => ({ id: s.id, createdAt: s.created_at.toISOString(), lastSeenAt: s.last_seen_at.toISOString(), device: s.device, current: s.id === caller.sessionId })),
        // A person's active sessions fit one page; the list has the shape of every other list.
        nextCursor: null,
      };
    },
  );

  app.delete(
    '/v1/me/sessions/:id',
    { preHandler: authed, schema: { tags: ['me'], params: Type.Object({ id: Type.String({ format: 'uuid' }) }), response: { 204: Type.Null(), 401: Problem, 404: Problem } } },
    async (request, reply) => {
      const revoked = await sessions.revokeOne(callerOf(request).userId, request.params.id);
      if (!revoked) throw new AppError('NOT_FOUND', { message: 'session not found' });
      return reply.code(204).send(null);
    },
  );
}
