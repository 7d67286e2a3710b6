import { Type, type Static } from '@sinclair/typebox';
import { ErrorCodeSchema } from './error-codes.js';

/**
 * RFC 9457 problem details, with the stable `code` (one of the registry's, error-codes.ts) and the
 * `requestId` every answer carries. `title` (the status phrase) and `detail` (the code's message)
 * are in the person's language: the `locale` cookie, else the account's locale, else
 * Accept-Language, else English.
 */
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String({ description: "The HTTP status phrase, in the person's language." }),
    status: Type.Integer(),
    code: ErrorCodeSchema,
    detail: Type.Optional(Type.String({ description: "What went wrong, a sentence in the person's language (the code's message)." })),
    requestId: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { $id: 'Problem', additionalProperties: true },
);

/** A problem+json body as it travels; services may add fields (`shortfall`, `retryAfter`, …). */
export type ProblemBody = Static<typeof Problem> & { [extra: string]: unknown };
