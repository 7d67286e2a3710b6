import type { Db } from '@imlab/db';
import { AppError, monthPeriod, resolvePeriod, type PeriodQuery } from '@imlab/http';
import type { DB } from '../db.js';
import * as repo from './stripe-money.repository.js';
import { tieOut } from './stripe-money.service.js';

type TieOut = Awaited<ReturnType<typeof tieOut>>;

/**
 * Closes a month (in a time zone) on billing's side once it is over: the Stripe tie-out is stored
 * and answered from then on. Stripe money imported later but dated inside the month counts from
 * the end of the last closed month (`effective_at`), so the closed month never changes.
 */
export async function closeMonth(db: Db<DB>, month: string, tz: string, now = new Date()): Promise<TieOut> {
  const period = monthPeriod(month, tz);
  if (period.to.getTime() > now.getTime()) throw new AppError('FINANCE_PERIOD_NOT_OVER', { params: { month } });
  if (await repo.findClose(db, month, period.tz)) throw new AppError('FINANCE_PERIOD_CLOSED', { params: { month } });
  const figures = await tieOut(db, period);
  const inserted = await repo.insertClose(db, { month, tz: period.tz, period_from: period.from, period_to: period.to, figures: JSON.stringify(figures) });
  if (!inserted) throw new AppError('FINANCE_PERIOD_CLOSED', { params: { month } });
  const row = (await repo.findClose(db, month, period.tz))!;
  return { ...(row.figures as TieOut), closed: { closedAt: row.closed_at.toISOString() } };
}

/** The tie-out: a closed month in the same zone answers what was frozen at its close. */
export async function tieOutReport(db: Db<DB>, q: PeriodQuery): Promise<TieOut> {
  const period = resolvePeriod(q);
  if (q.month !== undefined) {
    const closed = await repo.findClose(db, q.month, period.tz);
    if (closed) return { ...(closed.figures as TieOut), closed: { closedAt: closed.closed_at.toISOString() } };
  }
  return tieOut(db, period);
}
