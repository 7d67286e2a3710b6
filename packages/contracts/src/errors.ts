import { Type, type Static } from '@sinclair/typebox';

/** RFC 9457 problem details, with the stable `code` and the `requestId` every answer carries. */
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String(),
    detail: Type.Optional(Type.String()),
    requestId: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { $id: 'Problem', additionalProperties: true },
);

/** A problem+json body as it travels; services may add fields (`shortfall`, `retryAfter`, …). */
export type ProblemBody = Static<typeof Problem> & { [extra: string]: unknown };

/** Codes shared by every service; each service adds its own, namespaced (`LEDGER_…`, `AUTH_…`). */
export const COMMON_ERROR_CODES = [
  'VALIDATION_FAILED',
  'NOT_FOUND',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'CONFLICT',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'RATE_LIMITED',
  'SERVICE_UNAVAILABLE',
  'UPSTREAM_FAILED',
  'UPSTREAM_TIMEOUT',
  'INTERNAL',
] as const;
