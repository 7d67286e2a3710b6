import { beginPurge, markPurged, type Kysely, type Transaction } from '@imlab/db';
import type { DB } from '../db.js';
import type { ObjectStorage } from '../storage/storage.js';
import { keys } from '../storage/storage.js';
import { StorageDeletions } from '../storage/deletions.js';
import * as generations from '../generations/generations.repository.js';
import * as images from '../images/images.repository.js';
import * as uploads from '../uploads/uploads.repository.js';
import * as users from '../users/users.repository.js';
import { generationView } from '../generations/generations.schemas.js';
import { forgetReporter } from '../moderation/index.js';

/**
 * user.purge: the stored objects go first (idempotent, so a retried purge finishes the job), then
 * every row; recorded object deletions become due at once (the sweep deletes what a render in
 * flight wrote after the prefix went, then the records). A render still in flight for this person
 * finds its row gone and deletes what it wrote. A tombstone (hash of the id) keeps a late profile event from storing their display name again.
 */
export async function purgeUser(db: Transaction<DB>, storage: ObjectStorage, userId: string): Promise<{ generations: number }> {
  await beginPurge(db, userId);
  await storage.deletePrefix(keys.userPrefix(userId));
  await uploads.deleteUploadsOfUser(db, userId);
  const n = await generations.deleteGenerationsOfUser(db, userId);
  // Again, now that the row deletes have waited for any render committing its success meanwhile:
  // files it wrote after the first pass are named by no record any more (its commit took them back).
  await storage.deletePrefix(keys.userPrefix(userId));
  await users.deleteProfile(db, userId);
  // reports they sent stay (they count for their image) but no longer name them
  await forgetReporter(db, userId);
  // Last: an image deletion or upload expiry that held these rows has committed its records by now.
  await StorageDeletions.dueNow(db, userId);
  await markPurged(db, userId);
  return { generations: n };
}

/** Everything this service holds about a person, for the account export (auth builds the archive). */
export async function exportUser(db: Kysely<DB>, userId: string) {
  const gens = await generations.listAllForUser(db, userId);
  const imgs = await images.imagesOfUser(db, userId);
  const ups = await uploads.uploadsOfUser(db, userId);
  return {
    userId,
    generations: gens.map((g) => {
      const view = generationView(g, imgs);
      return {
        ...view,
        images: view.images.map((i) => ({
          ...i,
          url: `/internal/images/${i.id}/original`,
          thumbUrl: `/internal/images/${i.id}/thumb`,
          publishedAt: imgs.find((x) => x.id === i.id)?.published_at?.toISOString() ?? null,
        })),
      };
    }),
    uploads: ups.map((u) => ({ id: u.id, mime: u.mime, width: u.width, height: u.height, bytes: u.bytes, createdAt: u.created_at.toISOString(), url: `/internal/uploads/${u.id}` })),
  };
}
