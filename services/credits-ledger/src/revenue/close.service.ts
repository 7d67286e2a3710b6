import type { Kysely } from '@imlab/db';
import { AppError, monthPeriod } from '@imlab/http';
import type { DB } from '../db.js';
import { sealAll } from '../audit/audit.service.js';
import * as repo from './revenue.repository.js';
import { recognise } from './revenue.service.js';
import { revenueFigures, type RevenueReport } from './revenue.report.js';

export interface CloseView {
  month: string;
  tz: string;
  from: string;
  to: string;
  closedAt: string;
  checkpoint: { id: number; hash: string; lastTransferId: number } | null;
  figures: RevenueReport;
}

const view = (r: repo.CloseRow): CloseView => ({
  month: r.month,
  tz: r.tz,
  from: r.period_from.toISOString(),
  to: r.period_to.toISOString(),
  closedAt: r.closed_at.toISOString(),
  checkpoint: r.checkpoint_id !== null ? { id: r.checkpoint_id, hash: r.checkpoint_hash!, lastTransferId: r.last_transfer_id! } : null,
  figures: r.figures as RevenueReport,
});

/**
 * Closes a month (in a time zone) once it is over: the subledger catches up, the sealer seals
 * every final transfer, and the month's figures are stored with the newest checkpoint — the
 * tamper-evidence state of the books at that moment (`GET /v1/admin/ledger/verify` checks it
 * later). From then on the month's report answers the stored figures, and anything recognised
 * later is dated in the next open period. Closing twice is refused.
 */
export async function closeMonth(db: Kysely<DB>, sealSecret: string, month: string, tz: string, now = new Date()): Promise<CloseView> {
  const period = monthPeriod(month, tz);
  if (period.to.getTime() > now.getTime()) throw new AppError('FINANCE_PERIOD_NOT_OVER', { params: { month } });
  if (await repo.findClose(db, month, period.tz)) throw new AppError('FINANCE_PERIOD_CLOSED', { params: { month } });
  await recognise(db);
  await sealAll(db, sealSecret);
  const checkpoint = await repo.latestCheckpoint(db);
  const figures = await revenueFigures(db, period);
  const inserted = await db.transaction().execute((tx) =>
    repo.insertClose(tx, {
      month,
      tz: period.tz,
      period_from: period.from,
      period_to: period.to,
      checkpoint_id: checkpoint?.id ?? null,
      checkpoint_hash: checkpoint?.hash ?? null,
      last_transfer_id: checkpoint?.last_transfer_id ?? null,
      figures: JSON.stringify(figures),
    }),
  );
  if (!inserted) throw new AppError('FINANCE_PERIOD_CLOSED', { params: { month } });
  return view((await repo.findClose(db, month, period.tz))!);
}

export async function findClose(db: Kysely<DB>, month: string, tz: string): Promise<CloseView | null> {
  const row = await repo.findClose(db, month, tz);
  return row ? view(row) : null;
}

export async function listCloses(db: Kysely<DB>): Promise<CloseView[]> {
  return (await repo.listCloses(db)).map(view);
}
