import type { Static } from '@sinclair/typebox';
import { authMessages } from './auth.js';
import { billingMessages } from './billing.js';
import { generationMessages } from './generation.js';
import { ledgerMessages } from './ledger.js';
import { notificationMessages } from './notification.js';
import { auditMessages } from './audit.js';
import type { MessageDef } from './define.js';
import type { QueueName } from '../queues.js';

export * from './define.js';
export * from './common.js';
export { EMAIL_TEMPLATES, type EmailTemplate } from './notification.js';
export { PURGE_PARTS } from './auth.js';
export { AUDIT_ACTIONS, AuditRecord, AuditReason, type AuditAction } from './audit.js';
export { LedgerReserveResult, LedgerHoldOutcome, LedgerPostingResult } from './ledger.js';

/** Every message name and its schema. Each domain's file is owned by the service that owns the message. */
export const MESSAGES = {
  ...authMessages,
  ...ledgerMessages,
  ...generationMessages,
  ...billingMessages,
  ...notificationMessages,
  ...auditMessages,
} satisfies Record<string, MessageDef>;

export type MessageName = keyof typeof MESSAGES;
export type Payload<N extends MessageName> = Static<(typeof MESSAGES)[N]['schema']>;

/** The queues a message is delivered to. */
export function targetsOf(name: MessageName): readonly QueueName[] {
  const def: MessageDef = MESSAGES[name];
  return def.kind === 'command' ? [def.to] : def.subscribers;
}

/** Messages the bus retries for weeks instead of giving up after its usual attempts. */
export function isPersistent(name: MessageName): boolean {
  const def: MessageDef = MESSAGES[name];
  return def.persistent === true;
}

export function isMessageName(name: string): name is MessageName {
  return Object.prototype.hasOwnProperty.call(MESSAGES, name);
}
