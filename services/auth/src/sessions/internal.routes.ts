import { Type } from '@sinclair/typebox';
import { Locale, Problem, ROLES } from '@imlab/contracts';
import { requireInternalToken, type App } from '@imlab/http';
import type { AuthDeps } from '../deps.js';
import type { SessionService } from './sessions.service.js';

const ResolveBody = Type.Object({ token: Type.String({ maxLength: 512 }), audience: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
const Resolved = Type.Object({
  token: Type.String(),
  userId: Type.String({ format: 'uuid' }),
  sessionId: Type.String({ format: 'uuid' }),
  roles: Type.Array(Type.Union(ROLES.map((r) => Type.Literal(r)))),
  /** The account's language (also the token's `locale` claim): the gateway answers its own problems in it. */
  locale: Type.Optional(Locale),
  expiresIn: Type.Integer(),
});
const Jwks = Type.Object({ keys: Type.Array(Type.Object({}, { additionalProperties: true })) });

export function registerInternalRoutes(app: App, deps: AuthDeps, sessions: SessionService): void {
  app.get('/.well-known/jwks.json', { schema: { hide: true, tags: ['internal'], response: { 200: Jwks } } }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300');
    return deps.keys.jwks;
  });

  app.post(
    '/internal/sessions/resolve',
    {
      preValidation: requireInternalToken(deps.config.INTERNAL_API_TOKEN),
      schema: { hide: true, tags: ['internal'], body: ResolveBody, response: { 200: Resolved, 400: Problem, 401: Problem, 403: Problem } },
    },
    async (request) => sessions.resolve(request.body.token, request.body.audience),
  );
}
