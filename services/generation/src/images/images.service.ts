import type { Kysely } from '@imlab/db';
import { AppError, invalidCursor, notFound } from '@imlab/http';
import { UUID_RE } from '@imlab/contracts';
import type { DB, ImageRow } from '../db.js';
import type { ObjectStorage } from '../storage/storage.js';
import { StorageDeletions } from '../storage/deletions.js';
import * as repo from './images.repository.js';
import * as generations from '../generations/generations.repository.js';
import { checkPrompts, policyRefusal } from '../generations/policy.js';
import { ModerationUnavailable, type Moderation } from '../moderation/moderation.js';
import type { GenerationMetrics } from '../metrics.js';

export interface ImageFile {
  bytes: Buffer;
  contentType: string;
  etag: string;
  published: boolean;
}

/** Who asks for an image: nobody (signed out), or a person with their roles. */
export interface Viewer {
  id: string;
  roles: readonly string[];
}

/**
 * Owner, or anyone once published (and not hidden after reports); moderators also see what was
 * reported or taken down. Not found (never forbidden) otherwise: existence stays private.
 */
async function visible(db: Kysely<DB>, id: string, viewer: Viewer | undefined): Promise<ImageRow> {
  const img = await repo.findImage(db, id);
  if (!img) throw notFound('image', 'IMAGE_NOT_FOUND');
  if (img.user_id === viewer?.id || (img.published_at !== null && img.hidden_at === null)) return img;
  if (viewer?.roles.some((r) => r === 'moderator' || r === 'admin') && (img.published_at !== null || img.taken_down_at !== null || (await repo.isReported(db, img.id)))) return img;
  throw notFound('image', 'IMAGE_NOT_FOUND');
}

export async function readImage(db: Kysely<DB>, storage: ObjectStorage, id: string, viewer: Viewer | undefined, variant: 'original' | 'thumb'): Promise<ImageFile> {
  const img = await visible(db, id, viewer);
  return load(storage, img, variant);
}

/** For internal callers (export): no visibility rule. */
export async function readImageInternal(db: Kysely<DB>, storage: ObjectStorage, id: string, variant: 'original' | 'thumb'): Promise<ImageFile> {
  const img = await repo.findImage(db, id);
  if (!img) throw notFound('image', 'IMAGE_NOT_FOUND');
  return load(storage, img, variant);
}

async function load(storage: ObjectStorage, img: ImageRow, variant: 'original' | 'thumb'): Promise<ImageFile> {
  const key = variant === 'original' ? img.storage_key : img.thumb_key;
  const bytes = await storage.get(key);
  if (!bytes) throw new AppError('IMAGE_MISSING', { message: 'the stored image is missing' });
  return {
    bytes,
    contentType: variant === 'original' ? 'image/png' : 'image/webp',
    etag: `"${variant === 'original' ? img.sha256 : img.thumb_sha256}"`,
    // shared caches may keep only what anyone may see
    published: img.published_at !== null && img.hidden_at === null,
  };
}

type PublishDeps = { db: Kysely<DB>; storage: ObjectStorage; moderation: Moderation; metrics: GenerationMetrics };

/**
 * Publishes one of the person's images after checking it again: the content policy as it is now
 * on its prompts (rules change after an image is made), then, when enabled, the moderation model
 * on its prompt and the image itself — which must answer: its outage refuses (fail closed).
 */
export async function publish(deps: PublishDeps, id: string, userId: string): Promise<ImageRow> {
  const img = await repo.findImage(deps.db, id);
  if (!img || img.user_id !== userId) throw notFound('image', 'IMAGE_NOT_FOUND');
  try {
    await checkForPublishing(deps, img);
  } catch (err) {
    if (err instanceof AppError && err.code === 'IMAGE_CONTENT_POLICY') deps.metrics.policyRefusals.inc({ check: 'publish', rule: String(err.details?.rule) });
    throw err;
  }
  return setPublished(deps.db, id, userId, true);
}

async function checkForPublishing({ db, storage, moderation, metrics }: PublishDeps, img: ImageRow): Promise<void> {
  const generation = await generations.findGeneration(db, img.generation_id);
  const prompt = generation?.prompt ?? '';
  checkPrompts('IMAGE_CONTENT_POLICY', prompt, generation?.negative_prompt ?? null);
  if (!moderation.enabled) return;
  const bytes = await storage.get(img.storage_key);
  if (!bytes) throw new AppError('IMAGE_MISSING', { message: 'the stored image is missing' });
  let flag;
  try {
    flag = await moderation.check([
      { field: 'prompt', text: prompt },
      { field: 'image', image: { bytes, mime: 'image/png' } },
    ]);
  } catch (err) {
    if (!(err instanceof ModerationUnavailable)) throw err;
    metrics.moderationOutages.inc({ check: 'publish', outcome: 'refused' });
    throw new AppError('MODERATION_UNAVAILABLE', { message: `moderation unavailable: ${err.message}`, cause: err });
  }
  if (flag) throw policyRefusal('IMAGE_CONTENT_POLICY', flag.rule, flag.field);
}

export async function setPublished(db: Kysely<DB>, id: string, userId: string, published: boolean): Promise<ImageRow> {
  const img = await repo.setPublished(db, id, userId, published ? new Date() : null);
  if (!img) {
    // a taken-down image stays unpublished until a moderator restores it
    if (published && (await repo.findImage(db, id))?.user_id === userId) throw new AppError('IMAGE_TAKEN_DOWN');
    throw notFound('image', 'IMAGE_NOT_FOUND');
  }
  return img;
}

/**
 * The row goes first (the image stops being served) with the record of its stored objects, which
 * are deleted right after; if storage fails, the sweep retries (the image is gone for the person
 * either way).
 */
export async function deleteImage(db: Kysely<DB>, deletions: StorageDeletions, id: string, userId: string): Promise<void> {
  const img = await db.transaction().execute(async (tx) => {
    const row = await repo.deleteImage(tx, id, userId);
    if (row) await StorageDeletions.request(tx, [row.storage_key, row.thumb_key].map((key) => ({ userId, key })));
    return row;
  });
  if (!img) throw notFound('image', 'IMAGE_NOT_FOUND');
  await deletions.deleteNow([img.storage_key, img.thumb_key]);
}

export function encodeGalleryCursor(row: { published_at: Date; id: string }): string {
  return Buffer.from(`${row.published_at.toISOString()}|${row.id}`).toString('base64url');
}

export function decodeGalleryCursor(cursor: string): { publishedAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  // Exactly the form encodeGalleryCursor writes (a Date Postgres can hold), nothing JavaScript merely parses.
  const publishedAt = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(at ?? '') ? new Date(at!) : new Date(Number.NaN);
  if (!id || !UUID_RE.test(id) || Number.isNaN(publishedAt.getTime())) throw invalidCursor();
  return { publishedAt, id };
}

export async function gallery(db: Kysely<DB>, cursor: string | undefined, limit: number) {
  const rows = await repo.galleryPage(db, { ...(cursor ? { after: decodeGalleryCursor(cursor) } : {}), limit: limit + 1 });
  const page = rows.slice(0, limit);
  return {
    items: page.map((r) => ({
      id: r.id,
      url: `/v1/images/${r.id}`,
      thumbUrl: `/v1/images/${r.id}/thumb`,
      width: r.width,
      height: r.height,
      publishedAt: r.published_at.toISOString(),
      author: { displayName: r.display_name || null }, // none set (or none known yet)
    })),
    nextCursor: rows.length > limit ? encodeGalleryCursor(page[page.length - 1]!) : null,
  };
}
