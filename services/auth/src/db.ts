import type { ColumnType, Generated } from 'kysely';
import type { QueueTables } from '@imlab/queue';
import type { Role } from '@imlab/contracts';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface UserTable {
  id: string;
  email: string;
  email_verified_at: Date | null;
  password_hash: string | null;
  display_name: Generated<string>;
  locale: Generated<'en' | 'zh'>;
  roles: ColumnType<Role[], Role[] | undefined, Role[]>;
  status: Generated<'active' | 'deleted'>;
  purge_after: Date | null;
  signup_ip_hash: string | null;
  /** Suspended by an admin (back-office): no sign-in, no session. */
  suspended_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface IdentityTable {
  issuer: string;
  subject: string;
  user_id: string;
  created_at: Timestamp;
}

export interface SessionTable {
  id: string;
  user_id: string;
  token_hash: string;
  device: Generated<string>;
  created_at: Timestamp;
  authenticated_at: Timestamp;
  last_seen_at: Timestamp;
  expires_at: Date;
  revoked_at: Date | null;
}

export type EmailTokenPurpose = 'verify' | 'reset' | 'email-change' | 'email-undo' | 'restore';

export interface EmailTokenTable {
  id: string;
  user_id: string;
  purpose: EmailTokenPurpose;
  token_hash: string;
  /** email-change: the new address; email-undo: the old one to go back to. */
  email: string | null;
  expires_at: Date;
  used_at: Date | null;
  created_at: Timestamp;
}

export interface SignupBonusClaimTable {
  id: string;
  ip_hash: string;
  user_id: string | null;
  granted_at: Timestamp;
}

export interface ExportTable {
  id: string;
  user_id: string;
  status: Generated<'pending' | 'running' | 'ready' | 'failed'>;
  attempts: Generated<number>;
  lease_until: Date | null;
  file_name: string | null;
  error: string | null;
  created_at: Timestamp;
  completed_at: Date | null;
  expires_at: Date | null;
}

/** One purged account: a random id, each service's part as it reported done, the sealed address until the last email went. */
export interface DeletionReceiptTable {
  id: string;
  /** when the purge was due (the end of the grace period) */
  due_at: Date;
  purged_at: Generated<Date>;
  /** service name → ISO time its part of the purge was done */
  parts_done: Generated<Record<string, string>>;
  email_sealed: string | null;
  email_locale: Generated<'en' | 'zh'>;
  completed_at: Date | null;
  email_sent_at: Date | null;
}

/** One back-office action (audit/): ids only; append-only in the database. */
export interface AuditLogTable {
  id: string;
  at: Date;
  recorded_at: Generated<Date>;
  service: string;
  /** null once the actor's account was purged */
  actor_id: string | null;
  action: string;
  /** null when the action concerns nobody in particular, or once that person was purged */
  target_user_id: string | null;
  target_ids: Record<string, string>;
  reason: string;
}

export interface DB extends QueueTables {
  audit_log: AuditLogTable;
  deletion_receipts: DeletionReceiptTable;
  users: UserTable;
  identities: IdentityTable;
  sessions: SessionTable;
  email_tokens: EmailTokenTable;
  signup_bonus_claims: SignupBonusClaimTable;
  exports: ExportTable;
}
