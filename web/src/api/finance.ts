/**
 * Finance's month-end calls: Stripe's money (import, tie-out), the credit liability and revenue,
 * the period close and the lookups. Every call goes through the generated client.
 */
import { ok, type Schemas } from '@imlab/client';
import { api, hasStatus } from './index';

export type StripeTieOut = Schemas['StripeTieOut'];
export type LedgerRevenue = Schemas['LedgerRevenue'];
export type LedgerPeriodClose = Schemas['LedgerPeriodClose'];
export type BillingOrderLookup = Schemas['BillingOrderLookup'];
export type LedgerLookup = Schemas['LedgerLookup'];

/** A calendar month read in an IANA time zone (the API checks both). */
export interface MonthQuery {
  month: string;
  tz: string;
}

export function importStripe(q: MonthQuery) {
  return ok(api.POST('/v1/admin/billing/stripe-imports', { body: q }));
}

export function getMonthEnd(q: MonthQuery) {
  return Promise.all([ok(api.GET('/v1/admin/billing/stripe-reconciliation', { params: { query: q } })), ok(api.GET('/v1/admin/ledger/revenue', { params: { query: q } }))]).then(
    ([stripe, revenue]) => ({ stripe, revenue }),
  );
}

const closedAlready = (err: unknown) => (err as { code?: string }).code === 'FINANCE_PERIOD_CLOSED';

/**
 * Closes the month in both books: the ledger (figures and checkpoint), then billing (the Stripe
 * tie-out). A retry after a half-done close finishes it; a month closed in both is refused.
 */
export async function closeMonth(q: MonthQuery): Promise<LedgerPeriodClose> {
  let ledger: LedgerPeriodClose | undefined;
  let ledgerRefused: unknown;
  try {
    ledger = await ok(api.POST('/v1/admin/ledger/periods/close', { body: q }));
  } catch (err) {
    if (!closedAlready(err)) throw err;
    ledgerRefused = err;
  }
  try {
    await ok(api.POST('/v1/admin/billing/periods/close', { body: q }));
  } catch (err) {
    if (!closedAlready(err) || ledgerRefused) throw err;
  }
  if (ledger) return ledger;
  const closes = await ok(api.GET('/v1/admin/ledger/periods'));
  const found = closes.items.find((c) => c.month === q.month && c.tz === q.tz);
  if (!found) throw ledgerRefused;
  return found;
}

export type LookupKind = 'orderId' | 'chargeId' | 'userId';

/** From an order, a Stripe charge or a person to their orders and ledger accounts (ids only). */
export async function lookupBooks(kind: LookupKind, id: string): Promise<{ orders: BillingOrderLookup['items']; ledger: LedgerLookup | null }> {
  // A person who never bought anything has no orders (404): their ledger accounts still answer.
  const orders = await ok(api.GET('/v1/admin/billing/lookup', { params: { query: { [kind]: id } } })).then(
    (r) => r.items,
    (err: unknown) => {
      if (kind === 'userId' && hasStatus(err, 404)) return [];
      throw err;
    },
  );
  const userId = kind === 'userId' ? id : orders.find((o) => o.userId)?.userId;
  const ledger = userId ? await ok(api.GET('/v1/admin/ledger/lookup', { params: { query: { userId } } })).catch(() => null) : null;
  return { orders, ledger };
}

/** The month-end CSVs, each streamed by its service. */
export const MONTH_END_CSVS = [
  { key: 'transactions', path: '/v1/admin/billing/balance-transactions.csv', file: 'stripe-balance-transactions' },
  { key: 'payouts', path: '/v1/admin/billing/payouts.csv', file: 'stripe-payouts' },
  { key: 'revenue', path: '/v1/admin/ledger/revenue.csv', file: 'ledger-revenue' },
  { key: 'movements', path: '/v1/admin/ledger/revenue/movements.csv', file: 'ledger-revenue-movements' },
] as const;
