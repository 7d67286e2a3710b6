import { Type, type Static } from '@sinclair/typebox';
import { command } from './define.js';
import { Uuid, IsoDate } from './common.js';
import { SERVICES } from '../queues.js';

/** Every back-office action, by name (the audit log's `action`). */
export const AUDIT_ACTIONS = [
  'image.reports-dismissed',
  'image.taken-down',
  'image.restored',
  'account.suspended',
  'account.unsuspended',
  'credits.goodwill-granted',
  'support.account-viewed',
  'support.prompts-viewed',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** The written reason every back-office action needs. */
export const AuditReason = Type.String({ minLength: 3, maxLength: 1000, description: 'Why: a written reason, kept in the audit log.' });

/**
 * One audit record: who (actor id), what (action and the ids it touched), when, why. Ids only:
 * never an address, a name or a prompt. `id` makes redelivery harmless (the log keeps it once).
 */
export const AuditRecord = Type.Object(
  {
    id: Uuid,
    at: IsoDate,
    /** The service that acted. */
    service: Type.Union(SERVICES.map((s) => Type.Literal(s))),
    actorId: Uuid,
    action: Type.Union(AUDIT_ACTIONS.map((a) => Type.Literal(a))),
    /** The person the action concerns (their export includes it; their purge removes their id from it). */
    targetUserId: Type.Optional(Uuid),
    /** Other ids it touched: image, generation, posting… (names of ids → uuid). */
    targetIds: Type.Record(Type.String({ pattern: '^[a-zA-Z]{1,40}$' }), Uuid),
    reason: AuditReason,
  },
  { additionalProperties: false },
);
export type AuditRecord = Static<typeof AuditRecord>;

export const auditMessages = {
  /**
   * Auth owns the audit log: a service that acts sends this in the transaction of the action, so
   * the record exists exactly when the action committed. Persistent: a record must not be lost to
   * a long auth outage.
   */
  'audit.record': command('auth', AuditRecord, { persistent: true }),
};
