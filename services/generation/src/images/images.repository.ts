import type { Db } from '@imlab/db';
import type { Insertable } from 'kysely';
import type { DB, ImageRow, ImageTable } from '../db.js';

export async function insertImages(db: Db<DB>, rows: Insertable<ImageTable>[]): Promise<void> {
  if (rows.length) await db.insertInto('images').values(rows).execute();
}

export async function imagesOfGenerations(db: Db<DB>, generationIds: string[]): Promise<ImageRow[]> {
  if (generationIds.length === 0) return [];
  return db.selectFrom('images').selectAll().where('generation_id', 'in', generationIds).orderBy('generation_id').orderBy('idx').execute();
}

export async function findImage(db: Db<DB>, id: string): Promise<ImageRow | undefined> {
  return db.selectFrom('images').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Publishing a taken-down image changes nothing (undefined), like an image of someone else. */
export async function setPublished(db: Db<DB>, id: string, userId: string, at: Date | null): Promise<ImageRow | undefined> {
  let q = db.updateTable('images').set({ published_at: at }).where('id', '=', id).where('user_id', '=', userId);
  if (at !== null) q = q.where('taken_down_at', 'is', null);
  return q.returningAll().executeTakeFirst();
}

export async function isReported(db: Db<DB>, imageId: string): Promise<boolean> {
  return (await db.selectFrom('image_reports').select('id').where('image_id', '=', imageId).limit(1).executeTakeFirst()) !== undefined;
}

export async function deleteImage(db: Db<DB>, id: string, userId: string): Promise<ImageRow | undefined> {
  return db.deleteFrom('images').where('id', '=', id).where('user_id', '=', userId).returningAll().executeTakeFirst();
}

export async function imagesOfUser(db: Db<DB>, userId: string): Promise<ImageRow[]> {
  return db.selectFrom('images').selectAll().where('user_id', '=', userId).orderBy('created_at').execute();
}

export interface GalleryRow {
  id: string;
  width: number;
  height: number;
  published_at: Date;
  display_name: string | null;
}

/** Published images, newest first; keyset on (published_at, id). */
export async function galleryPage(db: Db<DB>, opts: { after?: { publishedAt: Date; id: string }; limit: number }): Promise<GalleryRow[]> {
  let q = db
    .selectFrom('images')
    .leftJoin('user_profiles', 'user_profiles.user_id', 'images.user_id')
    .select(['images.id', 'images.width', 'images.height', 'images.published_at', 'user_profiles.display_name'])
    .where('images.published_at', 'is not', null)
    // reported by enough people: out of the gallery until a moderator reviews it
    .where('images.hidden_at', 'is', null);
  if (opts.after) {
    const { publishedAt, id } = opts.after;
    q = q.where((eb) => eb.or([eb('images.published_at', '<', publishedAt), eb.and([eb('images.published_at', '=', publishedAt), eb('images.id', '<', id)])]));
  }
  const rows = await q.orderBy('images.published_at', 'desc').orderBy('images.id', 'desc').limit(opts.limit).execute();
  return rows as GalleryRow[];
}

/** Takes every image of a person off the public gallery (their account is being deleted). */
/** A deletion request: nothing of theirs stays public; each image remembers when it was published. */
export async function unpublishAllOfUser(db: Db<DB>, userId: string): Promise<number> {
  const res = await db
    .updateTable('images')
    .set((eb) => ({ withdrawn_published_at: eb.ref('published_at'), published_at: null }))
    .where('user_id', '=', userId)
    .where('published_at', 'is not', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** The deletion request was undone: what it took off the gallery goes back, as it was. */
export async function republishWithdrawn(db: Db<DB>, userId: string): Promise<number> {
  const res = await db
    .updateTable('images')
    .set((eb) => ({ published_at: eb.ref('withdrawn_published_at'), withdrawn_published_at: null }))
    .where('user_id', '=', userId)
    .where('withdrawn_published_at', 'is not', null)
    // taken down by a moderator meanwhile: it stays down
    .where('taken_down_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}
