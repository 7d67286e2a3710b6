import { sql, type Db, type Transaction } from '@imlab/db';
import type { DB, ImageReportRow, ImageRow } from '../db.js';

/** The image, locked for a report or a review (one decision at a time per image). */
export async function lockImage(tx: Transaction<DB>, id: string): Promise<ImageRow | undefined> {
  return tx.selectFrom('images').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

/** Inserts the report; undefined when this reporter already reported this image. */
export async function insertReport(
  tx: Transaction<DB>,
  row: { id: string; image_id: string; reporter_key: string; reason: string; note: string | null },
): Promise<string | undefined> {
  const res = await tx
    .insertInto('image_reports')
    // a JavaScript date (milliseconds), so the queue's cursor holds the sort key exactly
    .values({ ...row, created_at: new Date(), resolved_at: null, resolution: null })
    .onConflict((oc) => oc.columns(['image_id', 'reporter_key']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return res?.id;
}

/** Distinct reporters with an open report on the image (one row per reporter and image, so a count). */
export async function openReportCount(db: Db<DB>, imageId: string): Promise<number> {
  const row = await db.selectFrom('image_reports').select((eb) => eb.fn.countAll<number>().as('n')).where('image_id', '=', imageId).where('resolved_at', 'is', null).executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function setHidden(tx: Transaction<DB>, imageId: string, at: Date | null): Promise<void> {
  await tx.updateTable('images').set({ hidden_at: at }).where('id', '=', imageId).execute();
}

export async function resolveOpenReports(tx: Transaction<DB>, imageId: string, resolution: 'dismissed' | 'taken-down'): Promise<number> {
  const r = await tx
    .updateTable('image_reports')
    .set({ resolved_at: sql<Date>`now()`, resolution })
    .where('image_id', '=', imageId)
    .where('resolved_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

export async function takeDown(tx: Transaction<DB>, imageId: string, rule: string, at: Date): Promise<void> {
  await tx.updateTable('images').set({ published_at: null, hidden_at: null, taken_down_at: at, takedown_rule: rule }).where('id', '=', imageId).execute();
}

export async function restore(tx: Transaction<DB>, imageId: string, at: Date): Promise<void> {
  await tx.updateTable('images').set({ published_at: at, hidden_at: null, taken_down_at: null, takedown_rule: null }).where('id', '=', imageId).execute();
}

export async function hasReports(db: Db<DB>, imageId: string): Promise<boolean> {
  return (await db.selectFrom('image_reports').select('id').where('image_id', '=', imageId).limit(1).executeTakeFirst()) !== undefined;
}

export interface QueueRow {
  id: string;
  user_id: string;
  width: number;
  height: number;
  published_at: Date | null;
  hidden_at: Date | null;
  taken_down_at: Date | null;
  takedown_rule: string | null;
  /** open: the oldest open report; taken-down: when it was taken down (the sort key). */
  sort_at: Date;
}

const IMAGE_COLUMNS = ['images.id', 'images.user_id', 'images.width', 'images.height', 'images.published_at', 'images.hidden_at', 'images.taken_down_at', 'images.takedown_rule'] as const;

/** Images with open reports, oldest first report first; keyset on (sort_at, id). */
export async function openQueue(db: Db<DB>, opts: { after?: { at: Date; id: string }; limit: number }): Promise<QueueRow[]> {
  let q = db
    .selectFrom('images')
    .innerJoin('image_reports', 'image_reports.image_id', 'images.id')
    .where('image_reports.resolved_at', 'is', null)
    .select([...IMAGE_COLUMNS, (eb) => eb.fn.min('image_reports.created_at').as('sort_at')])
    .groupBy('images.id');
  if (opts.after) {
    const { at, id } = opts.after;
    q = q.having((eb) => eb.or([eb(eb.fn.min('image_reports.created_at'), '>', at), eb.and([eb(eb.fn.min('image_reports.created_at'), '=', at), eb('images.id', '>', id)])]));
  }
  return (await q.orderBy('sort_at', 'asc').orderBy('images.id', 'asc').limit(opts.limit).execute()) as QueueRow[];
}

/** Taken-down images, latest first; keyset on (taken_down_at, id). */
export async function takenDownQueue(db: Db<DB>, opts: { after?: { at: Date; id: string }; limit: number }): Promise<QueueRow[]> {
  let q = db
    .selectFrom('images')
    .where('images.taken_down_at', 'is not', null)
    .select([...IMAGE_COLUMNS, 'images.taken_down_at as sort_at']);
  if (opts.after) {
    const { at, id } = opts.after;
    q = q.where((eb) => eb.or([eb('images.taken_down_at', '<', at), eb.and([eb('images.taken_down_at', '=', at), eb('images.id', '<', id)])]));
  }
  return (await q.orderBy('images.taken_down_at', 'desc').orderBy('images.id', 'desc').limit(opts.limit).execute()) as QueueRow[];
}

export async function reportsOf(db: Db<DB>, imageIds: string[]): Promise<ImageReportRow[]> {
  if (imageIds.length === 0) return [];
  return db.selectFrom('image_reports').selectAll().where('image_id', 'in', imageIds).orderBy('created_at', 'asc').execute();
}

/** A purged reporter's keys stop naming them and their own words (the note) go; the reports still count for their image, with their reason. */
export async function forgetReporter(tx: Transaction<DB>, userId: string): Promise<number> {
  const r = await tx
    .updateTable('image_reports')
    .set({ reporter_key: sql<string>`'x:' || id::text`, note: null })
    .where('reporter_key', '=', `u:${userId}`)
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}
