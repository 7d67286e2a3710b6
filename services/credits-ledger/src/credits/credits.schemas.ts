import { Type } from '@sinclair/typebox';
import { Problem } from '@imlab/contracts';

export const Balance = Type.Object({ available: Type.Integer({ minimum: 0 }), held: Type.Integer({ minimum: 0 }) }, { additionalProperties: false });

export const Movement = Type.Object(
  {
    id: Type.String(),
    kind: Type.String({ description: 'purchase | promo | generation | refund | clawback | restore' }),
    amount: Type.Integer({ description: 'signed change to the available balance' }),
    description: Type.String(),
    reference: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

export const MovementPage = Type.Object({ items: Type.Array(Movement), nextCursor: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false });

export const PageQuery = Type.Object(
  {
    cursor: Type.Optional(Type.String()), // any length: one not given out is INVALID_CURSOR
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  },
  { additionalProperties: false },
);

export const problems = { 400: Problem, 401: Problem, 403: Problem };
