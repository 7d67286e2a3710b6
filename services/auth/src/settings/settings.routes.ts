import { Type } from '@sinclair/typebox';
import { INTERNAL_HEADERS, ref } from '@imlab/contracts';
import { errors, JSON_BODY_ERRORS, operation, type App } from '@imlab/http';
import type { AuthDeps } from '../deps.js';
import type { AccountService } from '../accounts/accounts.service.js';
import type { ProfileService } from '../profile/profile.service.js';
import type { SessionService } from '../sessions/sessions.service.js';
import { deviceLabel } from '../sessions/sessions.service.js';
import { Accepted, Email, EmailToken, Me, Password, TokenBody } from '../accounts/accounts.schemas.js';
import { sessionCookie, setLocaleCookie, setSessionCookie, clearSessionCookie } from '../sessions/cookies.js';
import { callerOf, requireCaller } from '../http/request-auth.js';
import type { SettingsService } from './settings.service.js';

const CurrentPassword = Type.Optional(
  Type.String({ minLength: 1, maxLength: 1024, description: 'The current password. Without it (or on an account without one), a sign-in within the last few minutes is needed.' }),
);

const PasswordChange = Type.Object(
  { currentPassword: CurrentPassword, newPassword: Password },
  {
    $id: 'PasswordChangeRequest',
    additionalProperties: false,
    description: 'The new password must have 8–256 characters and not be a common one. On an account that signs in only with Google this sets its first password (a recent sign-in confirms it).',
    examples: [{ currentPassword: 'lantern-harbour-fog-7', newPassword: 'quiet-workshop-lamp-9' }],
  },
);
const EmailChange = Type.Object(
  { newEmail: Email, currentPassword: CurrentPassword },
  { $id: 'EmailChangeRequest', additionalProperties: false, examples: [{ newEmail: 'mei.new@example.com', currentPassword: 'lantern-harbour-fog-7' }] },
);
const EmailChanged = Type.Object(
  { email: Type.String({ description: 'The account\'s address from now on.' }) },
  { $id: 'EmailChanged', examples: [{ email: 'mei.new@example.com' }] },
);
const EmailChangePreview = Type.Object(
  {
    from: Type.Optional(
      Type.String({ description: "The account's address now, masked (`m•••@example.com`): only for the take-it-back link (the old inbox's mail showed the new address so). The new-address link's preview has none." }),
    ),
    to: Type.String({ description: 'The address the account will have once the link is used, in full: the inbox the link was sent to.' }),
  },
  { $id: 'EmailChangePreview', description: 'What the link will do. Looking does not use the link.', examples: [{ to: 'mei.new@example.com' }, { from: 'm•••@example.com', to: 'mei@example.com' }] },
);
const Confirmation = Type.Object(
  { currentPassword: CurrentPassword },
  { $id: 'Reauthentication', additionalProperties: false, description: 'The current password, or nothing after a recent sign-in.', examples: [{ currentPassword: 'lantern-harbour-fog-7' }] },
);
const GoogleLinkStart = Type.Object(
  { url: Type.String({ description: 'Where to send the browser (a same-site path) to choose the Google account.' }) },
  { $id: 'GoogleLinkStart', examples: [{ url: '/v1/auth/google/start?intent=link&returnTo=%2Fsettings%2Fsecurity' }] },
);
const RestoreBody = Type.Object(
  { token: EmailToken },
  { $id: 'AccountRestoreRequest', additionalProperties: false, description: 'The `restoreToken` of the AUTH_DELETION_SCHEDULED answer to a sign-in (valid for a few minutes, once).', examples: [{ token: 'q3v6Jt0cH2m9sXh1bE4yR8wK5nA7pL0z' }] },
);

export const settingsSchemas = [PasswordChange, EmailChange, EmailChanged, EmailChangePreview, Confirmation, GoogleLinkStart, RestoreBody];

const REAUTH_ERRORS = { 401: ['UNAUTHENTICATED'], 403: ['AUTH_REAUTH_REQUIRED'], 429: ['AUTH_TOO_MANY_ATTEMPTS'] } as const;

export function registerSettingsRoutes(app: App, deps: AuthDeps, settings: SettingsService, accounts: AccountService, sessions: SessionService, profiles: ProfileService): void {
  const { config } = deps;
  const authed = requireCaller(deps.keys, sessions);

  app.put(
    '/v1/me/password',
    {
      preHandler: authed,
      schema: {
        ...operation('changePassword', {
          tag: 'account',
          access: 'session',
          summary: 'Change or set the password',
          description: 'Changes the password (the current one, or a recent sign-in, confirms it), or sets a first one on a Google-only account. Every other session ends; this one stays. An email tells the person.',
        }),
        body: ref(PasswordChange),
        response: { 204: Type.Null({ description: 'The password is changed' }), ...errors(JSON_BODY_ERRORS, { ...REAUTH_ERRORS, 400: ['VALIDATION_FAILED', 'AUTH_WEAK_PASSWORD'] }) },
      },
    },
    async (request, reply) => {
      await settings.changePassword(callerOf(request), { newPassword: request.body.newPassword, ...(request.body.currentPassword !== undefined ? { currentPassword: request.body.currentPassword } : {}) });
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/me/email',
    {
      preHandler: authed,
      schema: {
        ...operation('requestEmailChange', {
          tag: 'account',
          access: 'session',
          summary: 'Change the email address',
          description:
            'Sends a link to the new address; the change happens when it is opened (`POST /v1/auth/email/confirm`). The old address is then told and can take it back for a week. The answer is the same whether or not another account has the new address.',
        }),
        body: ref(EmailChange),
        response: { 202: ref(Accepted, { description: 'If the address can be used, a link is on its way to it' }), ...errors(JSON_BODY_ERRORS, { ...REAUTH_ERRORS, 400: ['VALIDATION_FAILED', 'AUTH_EMAIL_UNCHANGED'] }) },
      },
    },
    async (request, reply) => {
      await settings.requestEmailChange(callerOf(request), { newEmail: request.body.newEmail, ...(request.body.currentPassword !== undefined ? { currentPassword: request.body.currentPassword } : {}) });
      return reply.code(202).send({ status: 'accepted', message: 'If the address can be used, an email is on its way.' });
    },
  );

  for (const [path, purpose, operationId, summary, description] of [
    [
      '/v1/auth/email/confirm/preview',
      'email-change',
      'previewEmailChange',
      'See what a new-address link will do',
      'With the token from the link sent to the new address: the address the account will have (`to`). Nothing changes; the link stays usable.',
    ],
    [
      '/v1/auth/email/undo/preview',
      'email-undo',
      'previewEmailUndo',
      'See what a take-it-back link will do',
      'With the token from the link sent to the old address: the address the account has now (masked) and the old one it would go back to. Nothing changes; the link stays usable.',
    ],
  ] as const) {
    app.post(
      path,
      {
        schema: {
          ...operation(operationId, { tag: 'auth', access: 'public', summary, description }),
          body: ref(TokenBody),
          response: { 200: ref(EmailChangePreview, { description: 'What the link will do' }), ...errors(JSON_BODY_ERRORS, { 400: ['VALIDATION_FAILED', 'AUTH_INVALID_TOKEN'] }) },
        },
      },
      async (request) => settings.previewEmailChange(request.body.token, purpose),
    );
  }

  app.post(
    '/v1/auth/email/confirm',
    {
      schema: {
        ...operation('confirmEmailChange', {
          tag: 'auth',
          access: 'public',
          summary: 'Confirm a new email address',
          description: 'With the token from the link sent to the new address: the account signs in with it from now on. The old address is told, with a link that takes the change back.',
        }),
        body: ref(TokenBody),
        response: { 200: ref(EmailChanged, { description: 'The address is changed' }), ...errors(JSON_BODY_ERRORS, { 400: ['VALIDATION_FAILED', 'AUTH_INVALID_TOKEN'], 409: ['AUTH_EMAIL_TAKEN'] }) },
      },
    },
    async (request) => settings.confirmEmailChange(request.body.token),
  );

  app.post(
    '/v1/auth/email/undo',
    {
      schema: {
        ...operation('undoEmailChange', {
          tag: 'auth',
          access: 'public',
          summary: 'Take an email change back',
          description:
            'With the token from the link sent to the old address: the account goes back to it, every session ends, the password is dropped and a Google account linked since the change is unlinked; a reset link goes to the old address to choose a new password.',
        }),
        body: ref(TokenBody),
        response: { 204: Type.Null({ description: 'The change is taken back; a reset link is on its way' }), ...errors(JSON_BODY_ERRORS, { 400: ['VALIDATION_FAILED', 'AUTH_INVALID_TOKEN'], 409: ['AUTH_EMAIL_TAKEN'] }) },
      },
    },
    async (request, reply) => {
      await settings.undoEmailChange(request.body.token);
      clearSessionCookie(reply, config);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/me/google/link',
    {
      preHandler: authed,
      schema: {
        ...operation('startGoogleLink', {
          tag: 'account',
          access: 'session',
          summary: 'Link a Google account',
          description: 'Confirms with the password (or a recent sign-in) and answers where to send the browser: through Google\'s account chooser and back to `/settings/security?google=linked`. Valid for a few minutes, for this session.',
        }),
        body: ref(Confirmation),
        response: { 200: ref(GoogleLinkStart, { description: 'Send the browser there' }), ...errors(JSON_BODY_ERRORS, { ...REAUTH_ERRORS, 404: ['AUTH_GOOGLE_DISABLED'], 409: ['AUTH_GOOGLE_ALREADY_LINKED'] }) },
      },
    },
    async (request) => settings.startGoogleLink(callerOf(request), request.body.currentPassword),
  );

  app.post(
    '/v1/me/google/unlink',
    {
      preHandler: authed,
      schema: {
        ...operation('unlinkGoogle', {
          tag: 'account',
          access: 'session',
          summary: 'Unlink the Google account',
          description: 'Removes Google as a way to sign in. Refused when it is the only one (set a password first). An email tells the person.',
        }),
        body: ref(Confirmation),
        response: { 204: Type.Null({ description: 'Unlinked' }), ...errors(JSON_BODY_ERRORS, { ...REAUTH_ERRORS, 409: ['AUTH_LAST_SIGN_IN_METHOD', 'AUTH_GOOGLE_NOT_LINKED'] }) },
      },
    },
    async (request, reply) => {
      await settings.unlinkGoogle(callerOf(request), request.body.currentPassword);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/auth/account/restore',
    {
      schema: {
        ...operation('restoreAccount', {
          tag: 'auth',
          access: 'public',
          summary: 'Keep an account scheduled for deletion',
          description:
            'With the `restoreToken` a sign-in answered (AUTH_DELETION_SCHEDULED): the deletion is cancelled, published images go back to the gallery, an email confirms it, and this browser is signed in.',
        }),
        body: ref(RestoreBody),
        response: { 200: ref(Me, { description: 'Kept and signed in: the account' }), ...errors(JSON_BODY_ERRORS, { 400: ['VALIDATION_FAILED', 'AUTH_INVALID_TOKEN'], 403: ['ACCOUNT_SUSPENDED'] }) },
      },
    },
    async (request, reply) => {
      const presented = request.cookies[sessionCookie(config)];
      if (presented) await sessions.revokeByToken(presented);
      const { user, token, maxAge } = await accounts.restore(request.body.token, deviceLabel(request.headers[INTERNAL_HEADERS.device]));
      setSessionCookie(reply, config, token, maxAge);
      setLocaleCookie(reply, config, user.locale);
      return profiles.get(user.id);
    },
  );
}
