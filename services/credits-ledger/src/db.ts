import type { Generated, ColumnType } from 'kysely';
import type { QueueTables } from '@imlab/queue';
import type { PurgeTombstoneTables } from '@imlab/db';

export const USER_ACCOUNT_TYPES = ['available', 'held'] as const;
export const SYSTEM_ACCOUNT_TYPES = ['issuance', 'promo', 'consumed', 'forfeited', 'debt', 'erased', 'goodwill'] as const;
export type UserAccountType = (typeof USER_ACCOUNT_TYPES)[number];
export type SystemAccountType = (typeof SYSTEM_ACCOUNT_TYPES)[number];
export type AccountType = UserAccountType | SystemAccountType;

export type HoldStatus = 'open' | 'captured' | 'released' | 'expired' | 'rejected' | 'void';

export type TransferKind =
  | 'grant_purchase'
  | 'grant_promo'
  | 'grant_goodwill'
  | 'reserve'
  | 'capture'
  | 'capture_return'
  | 'release'
  | 'expire'
  | 'clawback'
  | 'clawback_debt'
  | 'restore'
  | 'restore_debt'
  /** Credits a returned hold gave back, taken for what the person owed from a clawback (available → debt). */
  | 'debt_repay';

/** A goodwill grant: who gave how much to whom (the per-admin daily cap). */
export interface GoodwillGrantTable {
  posting_key: string;
  actor_id: string | null;
  user_id: string;
  amount: number;
  created_at: Generated<Date>;
  /** The grant's audit record (migration 0013; null on older rows). */
  audit_id: string | null;
  /** SHA-256 of the request (recipient, amount, reason): a replayed key must ask the same. */
  request_hash: string | null;
}

export interface AccountTable {
  id: Generated<string>;
  owner_id: string | null;
  type: AccountType;
  balance: Generated<number>;
  anonymized_at: Date | null;
  created_at: Generated<Date>;
}

export interface PostingTable {
  id: Generated<number>;
  idempotency_key: string;
  request_hash: string;
  kind: 'grant' | 'clawback' | 'restore';
  subject_id: string | null;
  result: ColumnType<unknown, string | undefined, string>;
  created_at: Generated<Date>;
  /** What a purchase grant was sold for, net of tax (migration 0008). */
  value_amount: ColumnType<number | null, number | null | undefined, number | null>;
  value_currency: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface HoldTable {
  id: string;
  subject_id: string | null;
  held_account_id: string | null;
  amount: number | null;
  request_hash: string | null;
  status: HoldStatus;
  captured: number | null;
  shortfall: number | null;
  expires_at: Date | null;
  reference: string | null;
  reason: string | null;
  created_at: Generated<Date>;
  resolved_at: Date | null;
}

export interface TransferTable {
  id: Generated<number>;
  xid: Generated<string>;
  debit_account_id: string;
  credit_account_id: string;
  amount: number;
  kind: TransferKind;
  subject_id: string | null;
  posting_id: number | null;
  hold_id: string | null;
  reference: string | null;
  created_at: Generated<Date>;
}

export interface CheckpointTable {
  id: Generated<number>;
  last_xid: string;
  last_transfer_id: number;
  transfer_count: number;
  prev_hash: string;
  hash: string;
  seal: string;
  sealed_at: Generated<Date>;
}

/** What the chain keeps of a sealed transfer erased at purge: its position and the chain hash before and after it. */
export interface ErasedTransferHashTable {
  transfer_id: number;
  xid: string;
  prev_hash: string;
  hash: string;
  erased_at: Generated<Date>;
}

export type LotSource = 'purchase' | 'free' | 'restore' | 'unpriced';
export type MovementKind = 'sold' | 'granted_free' | 'spent' | 'refunded' | 'clawed_back' | 'restored';

/** A grant of credits to a person and what is left of it (migration 0008). */
export interface RevenueLotTable {
  id: Generated<number>;
  pool: string | null;
  source: LotSource;
  reference: string | null;
  currency: string | null;
  credits: number;
  value: number;
  remaining: number;
  remaining_value: number;
  created_at: Date;
}

export interface RevenueMovementTable {
  id: Generated<number>;
  transfer_id: number;
  lot_id: number | null;
  kind: MovementKind;
  credits: number;
  amount: number;
  currency: string | null;
  reference: string | null;
  created_at: Date;
}

export interface RevenueCursorTable {
  id: number;
  last_xid: string;
  last_transfer_id: number;
}

export interface PeriodCloseTable {
  month: string;
  tz: string;
  period_from: Date;
  period_to: Date;
  closed_at: Generated<Date>;
  checkpoint_id: number | null;
  checkpoint_hash: string | null;
  last_transfer_id: number | null;
  figures: ColumnType<unknown, string, string>;
}

/** A UTC day whose totals are in daily_totals (migration 0009). */
export interface TotalDayTable {
  day: Date;
  rolled_at: Generated<Date>;
}

/** Debits and credits on one day: per system account (account_id), per user account type (account_id null). */
export interface DailyTotalTable {
  day: Date;
  type: string;
  account_id: string | null;
  debits: number;
  credits: number;
}

/** Per account type: its accounts, their stored balances, their transfers' debits and credits; in rows per database session (slot: its backend pid, 0: folded); migration 0010. */
export interface AccountTotalTable {
  type: string;
  slot: number;
  accounts: number;
  balance: number;
  debits: number;
  credits: number;
}

export interface DB extends QueueTables, PurgeTombstoneTables {
  account_totals: AccountTotalTable;
  total_days: TotalDayTable;
  daily_totals: DailyTotalTable;
  revenue_lots: RevenueLotTable;
  revenue_movements: RevenueMovementTable;
  revenue_cursor: RevenueCursorTable;
  period_closes: PeriodCloseTable;
  erased_transfer_hashes: ErasedTransferHashTable;
  accounts: AccountTable;
  postings: PostingTable;
  holds: HoldTable;
  transfers: TransferTable;
  checkpoints: CheckpointTable;
  goodwill_grants: GoodwillGrantTable;
}
