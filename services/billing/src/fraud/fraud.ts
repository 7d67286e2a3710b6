import { sql, type Kysely } from '@imlab/db';
import { requireServiceToken, type App } from '@imlab/http';
import type { FraudSignal } from '@imlab/contracts';
import type { DB } from '../db.js';

/** What billing flags (never blocks): failed payments, and disputes after heavy buying. */
export const BILLING_FRAUD_RULES = {
  /** Failed checkouts of one account in the window that flag it. */
  failedPayments: 3,
  /** A dispute on an account that paid for at least this many credits in the 30 days before it. */
  heavyCredits: 1000,
  windowDays: 30,
} as const;

export async function billingFraudSignals(db: Kysely<DB>): Promise<FraudSignal[]> {
  const { failedPayments, heavyCredits, windowDays } = BILLING_FRAUD_RULES;
  const failed = await sql<{ user_id: string; n: string; last_at: Date }>`
    select user_id, count(*)::text as n, max(updated_at) as last_at from orders
     where user_id is not null and status = 'failed' and created_at > now() - make_interval(days => ${windowDays})
     group by user_id having count(*) >= ${failedPayments}`.execute(db);
  const disputes = await sql<{ user_id: string; disputes: string; credits: string; last_at: Date }>`
    select o.user_id, count(distinct d.id)::text as disputes,
           (select coalesce(sum(p.credits), 0) from orders p
             where p.user_id = o.user_id and p.paid_at is not null and p.paid_at > min(d.updated_at) - make_interval(days => ${windowDays}))::text as credits,
           max(d.updated_at) as last_at
      from order_disputes d join orders o on o.id = d.order_id
     where o.user_id is not null and d.updated_at > now() - make_interval(days => ${windowDays})
     group by o.user_id`.execute(db);
  return [
    ...failed.rows.map((r) => ({ userId: r.user_id, signal: 'failed-payments' as const, count: Number(r.n), lastAt: new Date(r.last_at).toISOString() })),
    ...disputes.rows
      .filter((r) => Number(r.credits) >= heavyCredits)
      .map((r) => ({ userId: r.user_id, signal: 'dispute-after-heavy-buying' as const, count: Number(r.disputes), lastAt: new Date(r.last_at).toISOString() })),
  ];
}

/** Auth's admin endpoint gathers these (its service token only). */
export function registerFraudRoutes(app: App, db: Kysely<DB>): void {
  app.get('/internal/fraud/signals', { preValidation: requireServiceToken('auth'), schema: { hide: true } as object }, async () => billingFraudSignals(db));
}
