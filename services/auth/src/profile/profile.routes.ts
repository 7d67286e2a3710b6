import { Type } from '@sinclair/typebox';
import { DEVICE_BROWSERS, DEVICE_SYSTEMS, Locale, parseDeviceLabel, ref } from '@imlab/contracts';
import { AppError, type App, errors, invalidCursor, JSON_BODY_ERRORS, operation } from '@imlab/http';
import type { AuthDeps } from '../deps.js';
import type { ProfileService } from './profile.service.js';
import type { SessionService } from '../sessions/sessions.service.js';
import { Me } from '../accounts/accounts.schemas.js';
import { setLocaleCookie } from '../sessions/cookies.js';
import { checkDisplayName, cleanDisplayName } from '../lib/email.js';
import { callerOf, requireCaller } from '../http/request-auth.js';

const PatchMe = Type.Object(
  {
    // "" (or only spaces) removes the name: the gallery then says anonymous.
    displayName: Type.Optional(Type.String({ maxLength: 64 })),
    locale: Type.Optional(Locale),
  },
  {
    $id: 'AccountUpdate',
    additionalProperties: false,
    minProperties: 1,
    description: 'What to change. A blank `displayName` removes the name (the gallery then says anonymous). Bidi controls, zero-width and other invisible characters are removed.',
    examples: [{ displayName: 'Mei', locale: 'zh' }],
  },
);

const SessionItem = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    createdAt: Type.String({ format: 'date-time' }),
    lastSeenAt: Type.String({ format: 'date-time' }),
    device: Type.String({ description: 'A coarse label in English, such as "Firefox on macOS", "Browser on Linux" or "Unknown device".' }),
    browser: Type.Union([...DEVICE_BROWSERS.map((b) => Type.Literal(b)), Type.Null()], { description: 'The browser, by name (no version); null when not known. For a client to word the device in its own language.' }),
    os: Type.Union([...DEVICE_SYSTEMS.map((o) => Type.Literal(o)), Type.Null()], { description: 'The operating system, by name (no version); null when not known.' }),
    current: Type.Boolean({ description: 'The session of this request.' }),
  },
  { $id: 'Session' },
);

const SessionList = Type.Object(
  { items: Type.Array(ref(SessionItem)), nextCursor: Type.Null({ description: 'Always null: every active session is on this one page.' }) },
  {
    $id: 'SessionList',
    description: 'Every active session of the account, newest first.',
    examples: [
      {
        items: [{ id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a60', createdAt: '2026-11-02T09:15:00.000Z', lastSeenAt: '2026-11-03T18:40:12.000Z', device: 'Firefox on macOS', browser: 'Firefox', os: 'macOS', current: true }],
        nextCursor: null,
      },
    ],
  },
);

/** The profile's schemas, registered with the app. */
export const profileSchemas = [PatchMe, SessionItem, SessionList];

const sessionParams = Type.Object({ id: Type.String({ format: 'uuid', description: 'The session id.' }) });

export function registerProfileRoutes(app: App, deps: AuthDeps, profiles: ProfileService, sessions: SessionService): void {
  const authed = requireCaller(deps.keys, sessions);

  const getSchema = {
    ...operation('getAccount', { tag: 'account', access: 'session', summary: 'The account', description: 'The signed-in person: email, display name, locale, roles and sign-in methods.' }),
    response: { 200: ref(Me, { description: 'The account' }), ...errors({ 401: ['UNAUTHENTICATED'] }) },
  };
  const patchSchema = {
    ...operation('updateAccount', {
      tag: 'account',
      access: 'session',
      summary: 'Change the display name or locale',
      description:
        'Changes the display name and/or the locale (emails are then sent in it; the `locale` cookie is set too). A display name the content policy forbids is refused (422 `AUTH_DISPLAY_NAME_POLICY`, naming the rule) and nothing changes.',
    }),
    body: ref(PatchMe),
    response: { 200: ref(Me, { description: 'The changed account' }), ...errors(JSON_BODY_ERRORS, { 401: ['UNAUTHENTICATED'], 422: ['AUTH_DISPLAY_NAME_POLICY'] }) },
  };

  app.get('/v1/me', { preHandler: authed, schema: getSchema }, async (request) => profiles.get(callerOf(request).userId));

  app.patch('/v1/me', { preHandler: authed, schema: patchSchema }, async (request, reply) => {
    const displayName = request.body.displayName === undefined ? undefined : cleanDisplayName(request.body.displayName);
    if (displayName) checkDisplayName(displayName);
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
        ...operation('listSessions', {
          tag: 'account',
          access: 'session',
          summary: 'Active sessions',
          description: 'Every active session of the account in one page (`nextCursor` is always null; a non-empty `cursor` is `INVALID_CURSOR`).',
        }),
        querystring: Type.Object({
          cursor: Type.Optional(Type.String({ description: 'Only the empty cursor (the first page) exists.' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Accepted as on every list; the one page holds every session.' })),
        }),
        response: { 200: ref(SessionList, { description: 'The active sessions' }), ...errors({ 400: ['VALIDATION_FAILED', 'INVALID_CURSOR'], 401: ['UNAUTHENTICATED'] }) },
      },
    },
    async (request) => {
      // One page, so no cursor was ever given out: any non-empty one is refused, as on every list.
      if (request.query.cursor) throw invalidCursor();
      const caller = callerOf(request);
      const rows = await sessions.list(caller.userId);
      return {
        items: rows.map((s) => ({ id: s.id, createdAt: s.created_at.toISOString(), lastSeenAt: s.last_seen_at.toISOString(), device: s.device, ...parseDeviceLabel(s.device), current: s.id === caller.sessionId })),
        // A person's active sessions fit one page; the list has the shape of every other list.
        nextCursor: null,
      };
    },
  );

  app.delete(
    '/v1/me/sessions/:id',
    {
      preHandler: authed,
      schema: {
        ...operation('deleteSession', { tag: 'account', access: 'session', summary: 'End one session', description: 'Ends one of the account\'s sessions (signs that device out).' }),
        params: sessionParams,
        response: { 204: Type.Null({ description: 'The session ended' }), ...errors({ 400: ['VALIDATION_FAILED'], 401: ['UNAUTHENTICATED'], 404: ['NOT_FOUND'] }) },
      },
    },
    async (request, reply) => {
      const revoked = await sessions.revokeOne(callerOf(request).userId, request.params.id);
      if (!revoked) throw new AppError('NOT_FOUND', { message: 'session not found' });
      return reply.code(204).send(null);
    },
  );
}
