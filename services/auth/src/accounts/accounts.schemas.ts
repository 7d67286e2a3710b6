import { Type } from '@sinclair/typebox';
import { Locale } from '@imlab/contracts';

export const Email = Type.String({ format: 'email', maxLength: 254 });
/** Policy (8-256 characters after NFKC, not common) is checked by the service with a clear code. */
export const Password = Type.String({ minLength: 1, maxLength: 1024 });
export const EmailToken = Type.String({ minLength: 1, maxLength: 256 });

export const SignupBody = Type.Object(
  { email: Email, password: Password, displayName: Type.Optional(Type.String({ maxLength: 64 })), locale: Type.Optional(Locale) },
  {
    $id: 'SignupRequest',
    additionalProperties: false,
    description: 'The password must have 8–256 characters and not be a common one. Without `locale`, the `locale` cookie (or English) decides the language of the emails.',
    examples: [{ email: 'mei@example.com', password: 'lantern-harbour-fog-7', displayName: 'Mei', locale: 'en' }],
  },
);
export const LoginBody = Type.Object(
  { email: Email, password: Password },
  { $id: 'LoginRequest', additionalProperties: false, examples: [{ email: 'mei@example.com', password: 'lantern-harbour-fog-7' }] },
);
export const EmailBody = Type.Object({ email: Email }, { $id: 'EmailRequest', additionalProperties: false, examples: [{ email: 'mei@example.com' }] });
export const TokenBody = Type.Object(
  { token: EmailToken },
  { $id: 'EmailTokenRequest', additionalProperties: false, description: 'The token from the link in the email.', examples: [{ token: 'q3v6Jt0cH2m9sXh1bE4yR8wK5nA7pL0z' }] },
);
export const ResetBody = Type.Object(
  { token: EmailToken, password: Password },
  { $id: 'PasswordResetRequest', additionalProperties: false, description: 'The token from the reset email and the new password.', examples: [{ token: 'q3v6Jt0cH2m9sXh1bE4yR8wK5nA7pL0z', password: 'new-lantern-harbour-8' }] },
);

/** One answer for every address, known or not. */
export const Accepted = Type.Object(
  { status: Type.Literal('accepted'), message: Type.String() },
  {
    $id: 'EmailAccepted',
    description: 'The same answer whether or not the address is known: it never tells who has an account.',
    examples: [{ status: 'accepted', message: 'If the address can be used, an email is on its way.' }],
  },
);

export const EmailVerified = Type.Object(
  {
    verified: Type.Literal(true),
    passwordResetRequired: Type.Boolean({
      description: 'Sign-ups with different passwords claimed the address: no password was kept, and a reset link is on its way.',
    }),
  },
  { $id: 'EmailVerified', examples: [{ verified: true, passwordResetRequired: false }] },
);

export const Me = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    email: Type.String(),
    emailVerified: Type.Boolean(),
    displayName: Type.String(),
    locale: Locale,
    roles: Type.Array(Type.String()),
    hasPassword: Type.Boolean(),
    google: Type.Boolean(),
    createdAt: Type.String({ format: 'date-time' }),
  },
  {
    $id: 'Account',
    description: 'The signed-in person. `displayName` is "" until they set one.',
    examples: [
      {
        id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
        email: 'mei@example.com',
        emailVerified: true,
        displayName: 'Mei',
        locale: 'en',
        roles: ['user'],
        hasPassword: true,
        google: false,
        createdAt: '2026-11-02T09:15:00.000Z',
      },
    ],
  },
);

/** The account's request and answer schemas, registered with the app. */
export const accountSchemas = [SignupBody, LoginBody, EmailBody, TokenBody, ResetBody, Accepted, EmailVerified, Me];
