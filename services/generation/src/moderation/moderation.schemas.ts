import { Type } from '@sinclair/typebox';
import { AuditReason, MODERATION_REASONS, Page, StringEnum, ref } from '@imlab/contracts';

const EXAMPLE_IMAGE_ID = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a81';
const Reason = StringEnum(MODERATION_REASONS, { description: 'Why, from the fixed list (the content policy\'s headings).' });
const State = StringEnum(['published', 'hidden', 'unpublished', 'taken-down'] as const, {
  description: '`hidden`: out of the gallery after reports, until reviewed; `taken-down`: unpublished by a moderator.',
});

export const ReportBody = Type.Object(
  { reason: Reason, note: Type.Optional(Type.String({ maxLength: 500, description: 'Anything the moderators should know (optional).' })) },
  { additionalProperties: false },
);
export const ImageReportReceipt = Type.Object(
  { id: Type.String({ format: 'uuid' }), received: Type.Literal(true) },
  { $id: 'ImageReportReceipt', description: 'The report was received; moderators review it.', examples: [{ id: EXAMPLE_IMAGE_ID, received: true }] },
);

export const ModerationQuery = Type.Object({
  status: Type.Optional(StringEnum(['open', 'taken-down'] as const, { default: 'open', description: '`open`: images with reports to review (oldest first); `taken-down`: to restore (latest first).' })),
  cursor: Type.Optional(Type.String({ description: 'The `nextCursor` of the previous page; empty or absent for the first.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
});

const ReportView = Type.Object({
  reason: Reason,
  note: Type.Union([Type.String(), Type.Null()]),
  reportedAt: Type.String({ format: 'date-time' }),
  resolution: Type.Union([StringEnum(['dismissed', 'taken-down'] as const), Type.Null()], { description: 'null while open.' }),
});
const ModerationItem = Type.Object(
  {
    imageId: Type.String({ format: 'uuid' }),
    ownerId: Type.String({ format: 'uuid', description: 'The owner\'s account id (ids only; support looks people up).' }),
    url: Type.String(),
    thumbUrl: Type.String(),
    width: Type.Integer(),
    height: Type.Integer(),
    state: State,
    takedownRule: Type.Union([Reason, Type.Null()]),
    openReports: Type.Integer({ minimum: 0 }),
    reports: Type.Array(ReportView, { description: 'Every report on the image, oldest first; reporters are never named.' }),
  },
  { $id: 'ModerationItem', description: 'A reported or taken-down image and its reports.' },
);
export const ModerationQueue = Page('ModerationQueue', ref(ModerationItem), { description: 'One page of the review queue.' });

export const DecisionBody = Type.Object({ reason: AuditReason }, { additionalProperties: false });
export const TakedownBody = Type.Object({ rule: Reason, reason: AuditReason }, { additionalProperties: false });
export const ModerationDecision = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    state: State,
    auditId: Type.String({ format: 'uuid', description: 'The audit record of this action.' }),
  },
  { $id: 'ModerationDecision', description: 'The image after the decision.' },
);

export const moderationSchemas = [ImageReportReceipt, ModerationItem, ModerationQueue, ModerationDecision];
