import { sql, type Kysely } from '@imlab/db';
import type { DailyMetric, ServiceDailyCount } from '@imlab/http';
import type { DB } from '../db.js';

export const LEDGER_DAILY_METRICS: readonly DailyMetric[] = [
  { metric: 'credits', unit: 'credits', labels: ['flow'], help: 'Credits moved, by flow (sold, bonus, goodwill, spent, refunded, clawed_back)' },
];

/**
 * Credits per UTC day and flow, summed over the transfer log (every account together: no row is
 * about a person). Purged people's transfers are already monthly aggregates on `erased`, dated at
 * the month's start, so their days fold into that day.
 */
export async function ledgerDailyCounts(db: Kysely<DB>, from: string, to: string): Promise<ServiceDailyCount[]> {
  const { rows } = await sql<{ day: string; flow: string; n: string }>`
    select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD') as day,
           case kind when 'grant_purchase' then 'sold' when 'grant_promo' then 'bonus' when 'grant_goodwill' then 'goodwill'
                     when 'capture' then 'spent' when 'clawback' then 'clawed_back' when 'debt_repay' then 'clawed_back' else 'refunded' end as flow,
           sum(amount)::text as n
      from transfers
     where kind in ('grant_purchase', 'grant_promo', 'grant_goodwill', 'capture', 'release', 'expire', 'capture_return', 'clawback', 'debt_repay')
       and created_at >= (${from}::date)::timestamp at time zone 'UTC' and created_at < (${to}::date + 1)::timestamp at time zone 'UTC'
     group by 1, 2`.execute(db);
  return rows.map((r) => ({ day: r.day, metric: 'credits', labels: { flow: r.flow }, value: Number(r.n) }));
}
