import type { Generated } from 'kysely';
import type { QueueTables } from '@imlab/queue';

export type Locale = 'en' | 'zh';

export interface ContactTable {
  user_id: string;
  email: string;
  locale: Locale;
  display_name: string;
  source_at: Date;
  updated_at: Generated<Date>;
}

export interface PurgedUserTable {
  /** SHA-256 hex of the user id (migration 0002). */
  user_hash: string;
  purged_at: Generated<Date>;
}

/**
 * pending → sending (leased) → sent | failed; a retryable failure goes back to pending.
 * suppressed: never attempted. bounced / complained: set later by Resend's webhooks.
 */
export type DeliveryStatus = 'sending' | 'pending' | 'sent' | 'failed' | 'suppressed' | 'bounced' | 'complained';

export interface DeliveryTable {
  id: string;
  idempotency_key: string;
  template: string;
  user_id: string | null;
  recipient_hash: string | null;
  locale: Locale;
  status: DeliveryStatus;
  provider: string;
  provider_id: string | null;
  attempts: Generated<number>;
  failure_reason: string | null;
  lease_until: Date | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  sent_at: Date | null;
}

export interface SuppressionTable {
  address_hash: string;
  reason: 'bounced' | 'complained';
  provider_event_id: string | null;
  created_at: Generated<Date>;
}

export interface DB extends QueueTables {
  contacts: ContactTable;
  purged_user_hashes: PurgedUserTable;
  deliveries: DeliveryTable;
  suppressions: SuppressionTable;
}
