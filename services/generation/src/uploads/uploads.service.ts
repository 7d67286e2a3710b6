import { createHash } from 'node:crypto';
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { v7 as uuidv7 } from 'uuid';
import type { Kysely, Transaction } from '@imlab/db';
import { AppError } from '@imlab/http';
import type { DB, UploadRow } from '../db.js';
import type { Config } from '../config.js';
import type { ObjectStorage } from '../storage/storage.js';
import { keys } from '../storage/storage.js';
import { StorageDeletions } from '../storage/deletions.js';
import * as repo from './uploads.repository.js';

export type ImageKind = 'png' | 'jpeg' | 'webp';
const MIME: Record<ImageKind, string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };
const EXT: Record<ImageKind, string> = { png: 'png', jpeg: 'jpg', webp: 'webp' };

/** The type from the first bytes; the file name and Content-Type are never trusted. */
export function sniff(buf: Buffer): ImageKind | undefined {
  if (buf.length >= 8 && buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'jpeg';
  if (buf.length >= 12 && buf.toString('latin1', 0, 4) === 'RIFF' && buf.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  return undefined;
}

/** How long an upload's object may wait for its row before the sweep deletes it. */
const UNKEPT_UPLOAD_GRACE_MS = 3600_000;

export interface StoredUpload {
  upload: UploadRow;
  deduplicated: boolean;
}

/**
 * Accepts a reference image: sniffed type, declared dimensions checked before any pixel is
 * decoded (decompression bombs), fully decoded and re-encoded so that metadata (EXIF, GPS, XMP,
 * ICC comments) and anything hidden after or inside the file (polyglots) is left behind.
 */
export async function storeUpload(
  db: Kysely<DB>,
  store: { storage: ObjectStorage; deletions: StorageDeletions },
  config: Config,
  userId: string,
  body: Buffer,
): Promise<StoredUpload> {
  if (body.length === 0) throw new AppError('UPLOAD_EMPTY');
  if (body.length > config.UPLOAD_MAX_BYTES) throw new AppError('PAYLOAD_TOO_LARGE', { params: { maxBytes: config.UPLOAD_MAX_BYTES } });
  const kind = sniff(body);
  if (!kind) throw new AppError('UPLOAD_UNSUPPORTED_TYPE');

  let meta: Metadata;
  try {
    meta = await sharp(body, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new AppError('UPLOAD_UNREADABLE', { cause: err });
  }
  if (meta.format !== kind || !meta.width || !meta.height) throw new AppError('UPLOAD_UNREADABLE');
  if (meta.width * meta.height > config.UPLOAD_MAX_PIXELS) {
    throw new AppError('UPLOAD_TOO_MANY_PIXELS', { params: { maxPixels: config.UPLOAD_MAX_PIXELS }, details: { width: meta.width, height: meta.height } });
  }

  const sha256 = createHash('sha256').update(body).digest('hex');
  const expiresAt = new Date(Date.now() + config.UPLOAD_TTL * 1000);
  const existing = await repo.findUploadByHash(db, userId, sha256);
  if (existing) {
    await repo.refreshExpiry(db, existing.id, expiresAt);
    // The answer carries the new expiry, not the one read before (which may already have passed).
    return { upload: { ...existing, expires_at: existing.expires_at === null ? null : expiresAt }, deduplicated: true };
  }

  let clean: { data: Buffer; info: OutputInfo };
  try {
    // failOn 'warning' (sharp's strictest) refuses truncated and corrupt data instead of guessing.
    let pipeline = sharp(body, { limitInputPixels: config.UPLOAD_MAX_PIXELS, failOn: 'warning' }).rotate();
    pipeline = kind === 'png' ? pipeline.png() : kind === 'jpeg' ? pipeline.jpeg({ quality: 92 }) : pipeline.webp({ quality: 92 });
    clean = await pipeline.toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new AppError('UPLOAD_UNREADABLE', { message: 'the image is damaged or truncated', cause: err });
  }

  const id = uuidv7();
  const key = keys.upload(userId, id, EXT[kind]);
  // Recorded first: if the row never commits (a crash, the database failing), the sweep deletes the object.
  await StorageDeletions.provisional(db, [{ userId, key }], new Date(Date.now() + UNKEPT_UPLOAD_GRACE_MS));
  await store.storage.put(key, clean.data, MIME[kind]);
  const { row, created } = await db.transaction().execute(async (tx) => {
    const inserted = await repo.insertUpload(tx, {
      id,
      user_id: userId,
      sha256,
      mime: MIME[kind],
      width: clean.info.width,
      height: clean.info.height,
      bytes: clean.data.length,
      storage_key: key,
      expires_at: expiresAt,
    });
    if (inserted.created) await StorageDeletions.keep(tx, [key]);
    return inserted;
  });
  if (!created) await store.deletions.deleteNow([key]); // the same bytes raced in twice; keep the first
  return { upload: row, deduplicated: !created };
}

/** Deletes unused uploads past their expiry, objects included (retried by the sweep if storage fails). */
export async function sweepExpiredUploads(db: Kysely<DB>, deletions: StorageDeletions, now = new Date()): Promise<number> {
  const gone = await db.transaction().execute(async (tx: Transaction<DB>) => {
    const rows = await repo.takeExpired(tx, now);
    await StorageDeletions.request(tx, rows.map((u) => ({ userId: u.user_id, key: u.storage_key })));
    return rows;
  });
  await deletions.deleteNow(gone.map((u) => u.storage_key));
  return gone.length;
}
