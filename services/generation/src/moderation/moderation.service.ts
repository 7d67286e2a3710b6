import { v7 as uuidv7 } from 'uuid';
import type { Bus, Redis } from '@imlab/queue';
import type { Kysely, Transaction } from '@imlab/db';
import { AppError, invalidCursor, notFound } from '@imlab/http';
import { UUID_RE, type AuditAction, type ModerationReason } from '@imlab/contracts';

import type { Config } from '../config.js';
import type { DB, ImageReportRow, ImageRow } from '../db.js';
import * as repo from './moderation.repository.js';

export interface ModerationDeps {
  db: Kysely<DB>;
  bus: Bus<DB>;
  redis: Redis;
  prefix: string;
  config: Pick<Config, 'REPORT_HIDE_THRESHOLD' | 'REPORT_RATE_LIMIT' | 'REPORT_RATE_WINDOW'>;
}

/** Who reports: a signed-in person by id, a signed-out one by the gateway's hash of their address. */
export type Reporter = { userId: string } | { ipHash: string };

const reporterKey = (r: Reporter): string => ('userId' in r ? `u:${r.userId}` : `a:${r.ipHash}`);

/**
 * Reports per hashed address and window, counted in Redis (a fixed window: INCR, and EXPIRE on the
 * first). The key holds the gateway's HMAC of the address, never the address.
 */
async function spendReportBudget(deps: ModerationDeps, ipHash: string): Promise<void> {
  const key = `${deps.prefix}generation:report-rate:${ipHash}`;
  const window = deps.config.REPORT_RATE_WINDOW;
  const [[, count], [, ttl]] = (await deps.redis.multi().incr(key).ttl(key).exec()) as [[unknown, number], [unknown, number]];
  if (ttl < 0) await deps.redis.expire(key, window);
  if (count > deps.config.REPORT_RATE_LIMIT) {
    throw new AppError('IMAGE_REPORT_RATE_LIMITED', { message: 'too many reports from this address', details: { retryAfter: ttl > 0 ? ttl : window } });
  }
}

/**
 * Anyone may report a published image, once. When REPORT_HIDE_THRESHOLD distinct reporters have an
 * open report on it, it leaves the gallery until a moderator reviews it.
 */
export async function report(deps: ModerationDeps, input: { imageId: string; reporter: Reporter; ipHash: string; reason: ModerationReason; note: string | null }): Promise<{ hidden: boolean }> {
  await spendReportBudget(deps, input.ipHash);
  return deps.db.transaction().execute(async (tx) => {
    const img = await repo.lockImage(tx, input.imageId);
    // Only what the gallery shows (or hid after reports) can be reported; anything else is not there for the reporter.
    if (!img || img.published_at === null) throw notFound('image', 'IMAGE_NOT_FOUND');
    const id = await repo.insertReport(tx, { id: uuidv7(), image_id: img.id, reporter_key: reporterKey(input.reporter), reason: input.reason, note: input.note });
    if (!id) throw new AppError('IMAGE_ALREADY_REPORTED');
    if (img.hidden_at === null && (await repo.openReportCount(tx, img.id)) >= deps.config.REPORT_HIDE_THRESHOLD) {
      await repo.setHidden(tx, img.id, new Date());
      return { hidden: true };
    }
    return { hidden: img.hidden_at !== null };
  });
}

/** The audit record of a moderator's action, in the action's transaction (auth keeps the log). */
async function audit(tx: Transaction<DB>, bus: Bus<DB>, actorId: string, action: AuditAction, img: ImageRow, reason: string): Promise<string> {
  const id = uuidv7();
  await bus.send(tx, 'audit.record', { id, at: new Date().toISOString(), service: 'generation', actorId, action, targetUserId: img.user_id, targetIds: { image: img.id }, reason });
  return id;
}

async function decide<T>(deps: ModerationDeps, imageId: string, act: (tx: Transaction<DB>, img: ImageRow) => Promise<T>): Promise<T> {
  return deps.db.transaction().execute(async (tx) => {
    const img = await repo.lockImage(tx, imageId);
    // A moderator sees reported, published or taken-down images; a private, unreported one is not theirs to touch.
    if (!img || (img.published_at === null && img.taken_down_at === null && !(await repo.hasReports(tx, img.id)))) throw notFound('image', 'IMAGE_NOT_FOUND');
    return act(tx, img);
  });
}

export interface Decision {
  id: string;
  state: ModerationState;
  auditId: string;
}

/** The reports were unfounded: they are closed and the image is back in the gallery (if its owner still publishes it). */
export async function dismiss(deps: ModerationDeps, actorId: string, imageId: string, reason: string): Promise<Decision> {
  return decide(deps, imageId, async (tx, img) => {
    const closed = await repo.resolveOpenReports(tx, img.id, 'dismissed');
    if (closed === 0) throw new AppError('MODERATION_NOT_APPLICABLE', { params: { action: 'dismiss' } });
    await repo.setHidden(tx, img.id, null);
    const auditId = await audit(tx, deps.bus, actorId, 'image.reports-dismissed', img, reason);
    return { id: img.id, state: stateOf({ ...img, hidden_at: null }), auditId };
  });
}

/**
 * Unpublished and out of the gallery; the owner cannot publish it again until it is restored, and
 * is told by email (in their language) which rule it broke. Open reports are closed.
 */
export async function takeDown(deps: ModerationDeps, actorId: string, imageId: string, rule: ModerationReason, reason: string): Promise<Decision> {
  return decide(deps, imageId, async (tx, img) => {
    if (img.taken_down_at !== null) throw new AppError('MODERATION_NOT_APPLICABLE', { params: { action: 'takedown' } });
    const at = new Date();
    await repo.takeDown(tx, img.id, rule, at);
    await repo.resolveOpenReports(tx, img.id, 'taken-down');
    const auditId = await audit(tx, deps.bus, actorId, 'image.taken-down', img, reason);
    await deps.bus.send(tx, 'email.send', {
      template: 'image-taken-down',
      userId: img.user_id,
      data: { rule, takenDownAt: at.toISOString() },
      // once per takedown (a restored image taken down again is told again)
      idempotencyKey: `image-taken-down:${img.id}:${auditId}`,
    });
    return { id: img.id, state: 'taken-down' as const, auditId };
  });
}

/** A takedown undone: published again (newest in the gallery). */
export async function restore(deps: ModerationDeps, actorId: string, imageId: string, reason: string): Promise<Decision> {
  return decide(deps, imageId, async (tx, img) => {
    if (img.taken_down_at === null) throw new AppError('MODERATION_NOT_APPLICABLE', { params: { action: 'restore' } });
    await repo.restore(tx, img.id, new Date());
    const auditId = await audit(tx, deps.bus, actorId, 'image.restored', img, reason);
    return { id: img.id, state: 'published' as const, auditId };
  });
}

export type ModerationState = 'published' | 'hidden' | 'unpublished' | 'taken-down';

export function stateOf(img: Pick<ImageRow, 'published_at' | 'hidden_at' | 'taken_down_at'>): ModerationState {
  if (img.taken_down_at !== null) return 'taken-down';
  if (img.published_at === null) return 'unpublished';
  return img.hidden_at !== null ? 'hidden' : 'published';
}

function encodeCursor(row: { sort_at: Date; id: string }): string {
  return Buffer.from(`${new Date(row.sort_at).toISOString()}|${row.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { at: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const date = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(at ?? '') ? new Date(at!) : new Date(Number.NaN);
  if (!id || !UUID_RE.test(id) || Number.isNaN(date.getTime())) throw invalidCursor();
  return { at: date, id };
}

const reportView = (r: ImageReportRow) => ({ reason: r.reason as ModerationReason, note: r.note, reportedAt: r.created_at.toISOString(), resolution: r.resolution });

/**
 * The review queue: images with open reports (oldest report first), or taken-down images (latest
 * first, to restore). Reporters are never named, not even by id.
 */
export async function queue(db: Kysely<DB>, status: 'open' | 'taken-down', cursor: string | undefined, limit: number) {
  const after = cursor ? decodeCursor(cursor) : undefined;
  const opts = { ...(after ? { after } : {}), limit: limit + 1 };
  const rows = status === 'open' ? await repo.openQueue(db, opts) : await repo.takenDownQueue(db, opts);
  const page = rows.slice(0, limit);
  const reports = await repo.reportsOf(db, page.map((r) => r.id));
  return {
    items: page.map((r) => {
      const mine = reports.filter((x) => x.image_id === r.id);
      return {
        imageId: r.id,
        ownerId: r.user_id,
        url: `/v1/images/${r.id}`,
        thumbUrl: `/v1/images/${r.id}/thumb`,
        width: r.width,
        height: r.height,
        state: stateOf(r),
        takedownRule: (r.takedown_rule as ModerationReason | null) ?? null,
        openReports: mine.filter((x) => x.resolved_at === null).length,
        reports: mine.map(reportView),
      };
    }),
    nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1]!) : null,
  };
}
