import { Type } from '@sinclair/typebox';
import { Locale } from '@imlab/contracts';

export const Email = Type.String({ format: 'email', maxLength: 254 });
/** Policy (8-128 characters after NFKC, not common) is checked by the service with a clear code. */
export const Password = Type.String({ minLength: 1, maxLength: 1024 });
export const EmailToken = Type.String({ minLength: 1, maxLength: 256 });

export const SignupBody = Type.Object(
  { email: Email, password: Password, displayName: Type.Optional(Type.String({ maxLength: 64 })), locale: Type.Optional(Locale) },
  { additionalProperties: false },
);
export const LoginBody = Type.Object({ email: Email, password: Password }, { additionalProperties: false });
export const EmailBody = Type.Object({ email: Email }, { additionalProperties: false });
export const TokenBody = Type.Object({ token: EmailToken }, { additionalProperties: false });
export const ResetBody = Type.Object({ token: EmailToken, password: Password }, { additionalProperties: false });

/** One answer for every address, known or not. */
export const Accepted = Type.Object({ status: Type.Literal('accepted'), message: Type.String() });

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
);
