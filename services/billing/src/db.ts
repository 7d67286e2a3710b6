import type { ColumnType, Generated } from 'kysely';
import type { QueueTables } from '@imlab/queue';

export type OrderStatus = 'pending' | 'paid' | 'refunded' | 'disputed' | 'failed' | 'expired';

export interface OrderTable {
  id: string;
  user_id: string | null;
  pack_id: string;
  credits: number;
  amount: number;
  currency: string;
  status: OrderStatus;
  stripe_session_id: string | null;
  stripe_payment_intent_id: string | null;
  refunded_amount: Generated<number>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  paid_at: Date | null;
  closed_at: Date | null;
  /** When billing asked Stripe to refund it because it was paid after its owner's purge. */
  auto_refund_requested_at: Date | null;
  /** What Stripe reported as paid (the session's amount_total and currency). */
  paid_amount: number | null;
  paid_currency: string | null;
  /** When a refund of the order first failed (or was canceled) at Stripe; see migration 0005. */
  refund_failed_at: Date | null;
  /** The checkout request's Idempotency-Key, the hash of what it asked, and the page it answered (migration 0006). */
  idempotency_key: ColumnType<string | null, string | null | undefined, string | null>;
  request_hash: ColumnType<string | null, string | null | undefined, string | null>;
  checkout_url: ColumnType<string | null, string | null | undefined, string | null>;
  /** The payment's charge, learnt from the imported balance transactions (migration 0007). */
  stripe_charge_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** Tax Stripe Tax computed for the session (`total_details.amount_tax`), and the price's behaviour then. */
  tax_amount: ColumnType<number | null, number | null | undefined, number | null>;
  tax_behavior: ColumnType<TaxBehavior | null, TaxBehavior | null | undefined, TaxBehavior | null>;
}

export type TaxBehavior = 'inclusive' | 'exclusive';

export interface OrderDisputeTable {
  id: string;
  order_id: string;
  amount: number;
  status: string;
  funds_reinstated: Generated<boolean>;
  updated_at: Generated<Date>;
}

export type PostingKind = 'grant' | 'clawback' | 'restore';
export type PostingCause = 'purchase' | 'refund' | 'dispute';

export interface OrderPostingTable {
  idempotency_key: string;
  order_id: string;
  kind: PostingKind;
  cause: PostingCause;
  credits: number;
  created_at: Generated<Date>;
  /** The order in which billing sent the order's commands. */
  seq: Generated<string>;
}

export type StripeEventStatus = 'received' | 'processed' | 'parked' | 'ignored';

export interface StripeEventTable {
  id: string;
  type: string;
  created: ColumnType<Date, Date, never>;
  received_at: Generated<Date>;
  status: Generated<StripeEventStatus>;
  processed_at: Date | null;
  order_id: string | null;
  object_id: string | null;
  payment_intent_id: string | null;
  object_status: string | null;
  amount: number | null;
  currency: string | null;
  tax_amount: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface LedgerPostingTable {
  idempotency_key: string;
  order_id: string | null;
  kind: PostingKind;
  amount: number;
  debt: number;
  received_at: Generated<Date>;
}

/** A Stripe balance transaction: ids, amounts, fee, currency, dates, type, source (migration 0007). */
export interface BalanceTransactionTable {
  id: string;
  type: string;
  reporting_category: string | null;
  amount: number;
  fee: number;
  net: number;
  currency: string;
  created: Date;
  available_on: Date | null;
  status: string | null;
  source_id: string | null;
  payment_intent_id: string | null;
  payout_id: string | null;
  imported_at: Generated<Date>;
  updated_at: Generated<Date>;
  /** When the books count it: Stripe's `created`, or the end of the last closed month if that is later (migration 0008). */
  effective_at: Generated<Date>;
}

export interface PayoutTable {
  id: string;
  amount: number;
  currency: string;
  status: string;
  created: Date;
  arrival_date: Date | null;
  balance_transaction_id: string | null;
  imported_at: Generated<Date>;
  updated_at: Generated<Date>;
  effective_at: Generated<Date>;
}

export interface BillingPeriodCloseTable {
  month: string;
  tz: string;
  period_from: Date;
  period_to: Date;
  closed_at: Generated<Date>;
  figures: ColumnType<unknown, string, string>;
}

export interface DB extends QueueTables {
  stripe_balance_transactions: BalanceTransactionTable;
  stripe_payouts: PayoutTable;
  billing_period_closes: BillingPeriodCloseTable;
  orders: OrderTable;
  order_disputes: OrderDisputeTable;
  order_postings: OrderPostingTable;
  stripe_events: StripeEventTable;
  ledger_postings: LedgerPostingTable;
}
