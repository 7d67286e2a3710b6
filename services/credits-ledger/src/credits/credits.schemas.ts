import { Type } from '@sinclair/typebox';
import { GENERATION_END_CODES, Problem, type GenerationEndCode } from '@imlab/contracts';
import { MOVEMENT_KINDS } from './credits.service.js';

export const Balance = Type.Object({ available: Type.Integer({ minimum: 0 }), held: Type.Integer({ minimum: 0 }) }, { additionalProperties: false });

export const Movement = Type.Object(
  {
    id: Type.String({ description: 'Opaque id of the line (also a cursor position).' }),
    kind: Type.Unsafe<(typeof MOVEMENT_KINDS)[number]>({
      type: 'string',
      enum: [...MOVEMENT_KINDS],
      description:
        'purchase: credits bought; bonus: credits given (the sign-up bonus); goodwill: credits our support team gave (with a reason, kept in the audit log); generation: credits held for a generation; ' +
        'refund: credits back from a generation that was canceled, failed, expired or delivered fewer images; ' +
        'clawback: credits taken back after a purchase was refunded or disputed; restore: credits given back after a dispute was won.',
    }),
    amount: Type.Integer({ description: 'Signed change to the available balance, in credits.' }),
    reason: Type.Union([Type.Unsafe<GenerationEndCode>({ type: 'string', enum: [...GENERATION_END_CODES] }), Type.Null()], {
      description:
        'For a refund, why the credits came back: the registered error code the generation ended with (its message is in the error registry); null when there is none (credits of images not delivered, or a reason the ledger does not know).',
    }),
    generationId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], { description: 'The generation a generation or refund line is about; null for other kinds.' }),
    orderId: Type.Union([Type.String(), Type.Null()], { description: 'The order a purchase, clawback or restore line is about; null for other kinds.' }),
    description: Type.String({
      description: "The line in words, in the person's language (the locale cookie, else the account's locale, else Accept-Language): e.g. \"Refund — the image could not be rendered\" / \"退款 — 图像生成失败\".",
    }),
    reference: Type.Union([Type.String(), Type.Null()], {
      description: 'The raw reference the posting carried (`order:…`, `generation:…`, `signup-bonus`); prefer generationId and orderId.',
      deprecated: true,
    }),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

export const MovementPage = Type.Object({ items: Type.Array(Movement), nextCursor: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false });

export const PageQuery = Type.Object(
  {
    cursor: Type.Optional(Type.String()), // any length: one not given out is INVALID_CURSOR
    // Optional: the default fills it in (a client need not send it, and the document says so).
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  },
  { additionalProperties: false },
);

export const problems = { 400: Problem, 401: Problem, 403: Problem };
