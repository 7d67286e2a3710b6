import { createHash, randomInt } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { Kysely, Transaction } from '@imlab/db';
import { isUniqueViolation } from '@imlab/db';
import { AppError, invalidCursor, notFound } from '@imlab/http';
import { UUID_RE } from '@imlab/contracts';
import type { Bus } from '@imlab/queue';
import type { Logger } from '@imlab/logger';
import { ASPECT_RATIOS, DEFAULT_IMAGE_MODEL, DEFAULT_IMAGE_SIZE, IMAGE_MODEL_IDS, IMAGE_MODELS, parseSize, priceOf, type ImageModelId, type ImageSize } from '@imlab/contracts';
import { capabilitiesFor, nearestSize, type TierCapabilities } from '../render/providers/index.js';
import type { DB, GenerationRow, GenerationStatus } from '../db.js';
import type { Config } from '../config.js';
import type { GenerationMetrics } from '../metrics.js';
import type { StatusEvents } from './status-events.js';
import * as repo from './generations.repository.js';
import { ENDINGS, Lifecycle, move } from './lifecycle.js';
import * as images from '../images/images.repository.js';
import * as uploads from '../uploads/uploads.repository.js';
import { checkPrompts, normalisePrompt, policyRefusal } from './policy.js';
import { ModerationUnavailable, type Moderation } from '../moderation/moderation.js';
import type { ObjectStorage } from '../storage/storage.js';
import type { UploadRow } from '../db.js';
import { generationView, type GenerationRequest, type GenerationView } from './generations.schemas.js';

export interface GenerationDeps {
  db: Kysely<DB>;
  bus: Bus<DB>;
  config: Config;
  events: StatusEvents;
  metrics: GenerationMetrics;
  logger: Logger;
  /** Reads reference uploads for the moderation model. */
  storage: ObjectStorage;
  moderation: Moderation;
}

export interface NormalisedRequest {
  prompt: string;
  negativePrompt: string | null;
  model: ImageModelId;
  size: ImageSize;
  width: number;
  height: number;
  count: number;
  seed: number | undefined;
  referenceUploadIds: string[];
  creditsPerImage: number;
  cost: number;
}

/** The ledger's answer to ledger.reserve (its job result). */
export type ReserveResult = { status: 'placed' } | { status: 'rejected'; code: string; shortfall: number };

/**
 * Validates, normalises, checks the content policy and prices a request. Pure: no side effects,
 * so quote and create share it and a rejected prompt costs nothing.
 */
export function prepare(config: Config, input: GenerationRequest): NormalisedRequest {
  const prompt = normalisePrompt(input.prompt);
  if (prompt.length === 0) throw new AppError('GENERATION_PROMPT_EMPTY');
  if ([...prompt].length > config.PROMPT_MAX_CHARS) {
    throw new AppError('GENERATION_PROMPT_TOO_LONG', { params: { maxChars: config.PROMPT_MAX_CHARS }, details: { maxChars: config.PROMPT_MAX_CHARS } });
  }
  const negative = input.negativePrompt === undefined || input.negativePrompt === null ? '' : normalisePrompt(input.negativePrompt);
  // Both prompts, before anything else about the request: a refusal is answered before any hold.
  checkPrompts('GENERATION_CONTENT_POLICY', prompt, negative || null);
  const model = input.model ?? DEFAULT_IMAGE_MODEL;
  const tier = capabilitiesFor(config).tiers[model];
  const unsupported = (field: string, allowed: string[]) => new AppError('GENERATION_UNSUPPORTED_OPTION', { params: { field, model, allowed }, details: { field, model, allowed } });
  if (negative && !tier.negativePrompt) throw unsupported('negativePrompt', []);
  if (input.seed !== undefined && !tier.seed) throw unsupported('seed', []);
  if (input.size && input.aspectRatio) {
    const { width, height } = parseSize(input.size);
    const [aw, ah] = input.aspectRatio.split(':').map(Number);
    if (width * ah! !== height * aw! && Math.abs(width / height - aw! / ah!) > 0.1) {
      throw new AppError('GENERATION_SIZE_MISMATCH', { params: { size: input.size, aspectRatio: input.aspectRatio } });
    }
  }
  if (input.size && !tier.sizes.includes(input.size)) throw unsupported('size', tier.sizes);
  const size = (input.size ?? sizeFor(tier, input.aspectRatio)) as ImageSize;
  const count = input.count ?? 1;
  if (count > tier.maxCount) throw unsupported('count', Array.from({ length: tier.maxCount }, (_, i) => String(i + 1)));
  // One spelling per id (UUIDs are case-insensitive): the same upload twice is a mistake, and a retry
  // spelled differently is the same request.
  const referenceUploadIds = (input.referenceUploadIds ?? []).map((id) => id.toLowerCase());
  if (new Set(referenceUploadIds).size !== referenceUploadIds.length) {
    throw new AppError('VALIDATION_FAILED', { message: 'referenceUploadIds names the same upload twice', details: { errors: [{ path: 'body/referenceUploadIds', message: 'must not repeat an upload' }] } });
  }
  if (referenceUploadIds.length > 0 && !IMAGE_MODELS[model].acceptsReferences) {
    throw new AppError('GENERATION_REFERENCES_UNSUPPORTED', { params: { model } });
  }
  if (referenceUploadIds.length > 0 && !tier.references) throw unsupported('referenceUploadIds', []);
  if (tier.references && referenceUploadIds.length > tier.references.max) {
    throw unsupported('referenceUploadIds', Array.from({ length: tier.references.max }, (_, i) => `${i + 1} image${i ? 's' : ''}`));
  }
  const { creditsPerImage, cost } = priceOf(model, size, count);
  return { prompt, negativePrompt: negative || null, model, size, ...parseSize(size), count, seed: input.seed, referenceUploadIds, creditsPerImage, cost };
}

/**
 * The size rendered for an aspect ratio (or none): the tier's size nearest to it — a model that
 * does not render the catalog's size for a ratio (gpt-image-1 has no 16:9) makes the closest it
 * does, and the answer names it.
 */
function sizeFor(tier: TierCapabilities, aspectRatio: keyof typeof ASPECT_RATIOS | undefined): string {
  const wanted: string = aspectRatio ? ASPECT_RATIOS[aspectRatio] : DEFAULT_IMAGE_SIZE;
  if (tier.sizes.includes(wanted)) return wanted;
  const { width, height } = parseSize(wanted as ImageSize);
  const [aw, ah] = aspectRatio ? aspectRatio.split(':').map(Number) : [1, 1];
  return nearestSize(tier.sizes, { w: aw!, h: ah! }, width * height);
}

/** The formats of the reference uploads the tier takes; checked before anything is held. */
function checkReferenceFormats(config: Config, model: ImageModelId, mimes: string[]): void {
  const refs = capabilitiesFor(config).tiers[model].references;
  if (refs && mimes.some((m) => !refs.formats.includes(m))) {
    const allowed = refs.formats;
    throw new AppError('GENERATION_UNSUPPORTED_OPTION', { params: { field: 'referenceUploadIds', model, allowed }, details: { field: 'referenceUploadIds', model, allowed } });
  }
}

/** What each tier offers with the configured provider (GET /v1/generations/options). */
export function options(config: Config) {
  const caps = capabilitiesFor(config);
  return {
    tiers: IMAGE_MODEL_IDS.map((id) => {
      const t = caps.tiers[id];
      const m = IMAGE_MODELS[id];
      return {
        id,
        label: m.label,
        description: m.description,
        creditsPerImage: m.creditsPerImage,
        largeImageSurcharge: m.largeImageSurcharge,
        sizes: t.sizes.map((size) => ({ size, ...parseSize(size as ImageSize), creditsPerImage: priceOf(id, size as ImageSize, 1).creditsPerImage })),
        aspectRatios: Object.fromEntries((Object.keys(ASPECT_RATIOS) as (keyof typeof ASPECT_RATIOS)[]).map((r) => [r, sizeFor(t, r)])),
        maxCount: t.maxCount,
        seed: t.seed,
        negativePrompt: t.negativePrompt,
        references: t.references ? { max: t.references.max, formats: [...t.references.formats] } : null,
        progress: t.progress,
      };
    }),
  };
}

export function quote(config: Config, input: GenerationRequest) {
  const r = prepare(config, input);
  return { model: r.model, size: r.size, width: r.width, height: r.height, count: r.count, creditsPerImage: r.creditsPerImage, cost: r.cost };
}

/** What the request asked for, so a reused Idempotency-Key with a different body is caught. */
function requestHash(r: NormalisedRequest): string {
  const { prompt, negativePrompt, model, size, count, seed, referenceUploadIds } = r;
  return createHash('sha256').update(JSON.stringify({ prompt, negativePrompt, model, size, count, seed: seed ?? null, referenceUploadIds })).digest('hex');
}

export type CreateOutcome = { kind: 'accepted'; generation: GenerationRow } | { kind: 'insufficient'; generation: GenerationRow };

function outcomeOf(g: GenerationRow): CreateOutcome {
  return g.status === 'rejected' && g.error_code === 'LEDGER_INSUFFICIENT_CREDITS' ? { kind: 'insufficient', generation: g } : { kind: 'accepted', generation: g };
}

export class GenerationService {
  private readonly lifecycle: Lifecycle;
  private readonly d: GenerationDeps;
  constructor(d: GenerationDeps) {
    this.d = d;
    this.lifecycle = new Lifecycle(d);
  }

  private async publish(g: GenerationRow | undefined): Promise<void> {
    await this.lifecycle.publish(g);
  }

  /**
   * Stores the generation (reserving) and the ledger.reserve command in one transaction, then waits
   * briefly for the ledger's answer. When the wait times out the saga finishes through the
   * ledger's hold-placed / hold-rejected events.
   */
  async create(userId: string, input: GenerationRequest, idempotencyKey: string | undefined, requestId: string): Promise<CreateOutcome> {
    try {
      return await this.createChecked(userId, input, idempotencyKey, requestId);
    } catch (err) {
      if (err instanceof AppError && err.code === 'GENERATION_CONTENT_POLICY') this.d.metrics.policyRefusals.inc({ check: 'create', rule: String(err.details?.rule) });
      throw err;
    }
  }

  private async createChecked(userId: string, input: GenerationRequest, idempotencyKey: string | undefined, requestId: string): Promise<CreateOutcome> {
    const r = prepare(this.d.config, input);
    const hash = requestHash(r);
    if (idempotencyKey) {
      const existing = await repo.findByIdempotencyKey(this.d.db, userId, idempotencyKey);
      if (existing) return this.replay(existing, hash);
    }
    let references: UploadRow[] = [];
    if (r.referenceUploadIds.length) {
      const owned = await uploads.findOwnedUploads(this.d.db, userId, r.referenceUploadIds);
      references = owned.filter((u) => u.expires_at === null || u.expires_at.getTime() > Date.now());
      if (references.length !== r.referenceUploadIds.length) throw referenceMissing();
      checkReferenceFormats(this.d.config, r.model, references.map((u) => u.mime));
    }
    await this.moderate(r.prompt, references);
    const id = uuidv7();
    const expiresAt = new Date(Date.now() + this.d.config.HOLD_TTL * 1000);
    let reserveMessageId: string;
    try {
      reserveMessageId = await this.d.db.transaction().execute(async (tx) => {
        await repo.insertGeneration(tx, {
          id,
          user_id: userId,
          status: 'reserving',
          prompt: r.prompt,
          negative_prompt: r.negativePrompt,
          model: r.model,
          width: r.width,
          height: r.height,
          count: r.count,
          seed: r.seed ?? randomInt(0, 2 ** 32),
          reference_upload_ids: r.referenceUploadIds,
          cost: r.cost,
          idempotency_key: idempotencyKey ?? null,
          request_hash: hash,
          hold_expires_at: expiresAt,
        });
        // Checked again here, atomically with the insert: an upload that expired (or was swept) meanwhile fails the request, not the render.
        if ((await uploads.markUsed(tx, userId, r.referenceUploadIds)) !== r.referenceUploadIds.length) throw referenceMissing();
        return this.d.bus.send(
          tx,
          'ledger.reserve',
          { holdId: id, userId, amount: r.cost, expiresAt: expiresAt.toISOString(), reference: `generation:${id}` },
          { requestId },
        );
      });
    } catch (err) {
      if (idempotencyKey && isUniqueViolation(err)) {
        // A concurrent retry with the same key won the insert.
        const existing = await repo.findByIdempotencyKey(this.d.db, userId, idempotencyKey);
        if (existing) return this.replay(existing, hash);
      }
      throw err;
    }
    const answer = await this.d.bus.waitForResult<ReserveResult>('credits-ledger', reserveMessageId, this.d.config.RESERVE_WAIT_MS).catch((err) => {
      this.d.logger.warn({ err: { message: (err as Error).message }, generationId: id }, 'ledger reserve failed; the saga continues by events');
      return { timedOut: true as const };
    });
    if (!answer.timedOut && answer.result) {
      if (answer.result.status === 'placed') await this.onHoldPlaced(id);
      else if (answer.result.status === 'rejected') await this.onHoldRejected(id, answer.result.shortfall ?? 0, answer.result.code);
    }
    const g = (await repo.findGeneration(this.d.db, id))!;
    return outcomeOf(g);
  }

  /**
   * The moderation model (when enabled) on the prompt and the reference images, before anything is
   * held. Its outage lets the request through or refuses it (503), as MODERATION_CREATE_OUTAGE says.
   */
  private async moderate(prompt: string, references: UploadRow[]): Promise<void> {
    const { moderation, storage } = this.d;
    if (!moderation.enabled) return;
    const images = await Promise.all(
      references.map(async (u) => {
        const bytes = await storage.get(u.storage_key);
        if (!bytes) throw referenceMissing();
        return { field: 'referenceUploadIds' as const, image: { bytes, mime: u.mime } };
      }),
    );
    let flag;
    try {
      flag = await moderation.check([{ field: 'prompt', text: prompt }, ...images]);
    } catch (err) {
      if (!(err instanceof ModerationUnavailable)) throw err;
      this.d.metrics.moderationOutages.inc({ check: 'create', outcome: moderation.createFailsOpen ? 'allowed' : 'refused' });
      if (moderation.createFailsOpen) return;
      throw new AppError('MODERATION_UNAVAILABLE', { message: `moderation unavailable: ${err.message}`, cause: err });
    }
    if (flag) throw policyRefusal('GENERATION_CONTENT_POLICY', flag.rule, flag.field);
  }

  private replay(existing: GenerationRow, hash: string): CreateOutcome {
    if (existing.request_hash !== hash) {
      throw new AppError('GENERATION_IDEMPOTENCY_KEY_REUSED');
    }
    return outcomeOf(existing);
  }

  /** reserving → queued and the render job, in one transaction. Idempotent (event and wait both call it). */
  async onHoldPlaced(id: string, tx?: Transaction<DB>): Promise<void> {
    const run = async (t: Transaction<DB>) => {
      // The person's lock before the row (the order dispatch and the claim use).
      const found = await repo.findGeneration(t, id);
      if (found) await repo.lockUser(t, found.user_id);
      const g = await move(t, id, 'queue', { queued_at: new Date() });
      if (g) {
        // Its render job goes out now if the person has a free slot on the queue, else when one of theirs ends.
        await this.lifecycle.dispatchIn(t, g.user_id);
        return g;
      }
      const current = await repo.findGeneration(t, id);
      if (current?.status === 'canceled') {
        // Canceled while the ledger was still placing the hold: give it back.
        await this.lifecycle.releaseLateHold(t, id);
      }
      return undefined;
    };
    const g = tx ? await run(tx) : await this.d.db.transaction().execute(run);
    if (g && !tx) await this.publish(g);
    return;
  }

  async onHoldRejected(id: string, shortfall: number, code = 'LEDGER_INSUFFICIENT_CREDITS', tx?: Transaction<DB>): Promise<GenerationRow | undefined> {
    const g = await move(tx ?? this.d.db, id, 'reject', { error_code: code, shortfall, finished_at: new Date() });
    if (g && !tx) await this.publish(g);
    return g;
  }

  /**
   * The ledger released an expired hold: an unfinished generation can no longer be paid for. A
   * succeeded one was delivered but its capture reached the ledger too late (HOLD_CAPTURE_MARGIN
   * exists to make that rare): it is logged and counted, never changed.
   */
  async onHoldExpired(tx: Transaction<DB>, id: string): Promise<GenerationRow | undefined> {
    const found = await repo.findGeneration(tx, id);
    if (found) await repo.lockUser(tx, found.user_id);
    const g = await this.lifecycle.endIn(tx, id, ENDINGS.ledgerExpired);
    // A slot on the queue may have come free: the person's next generation goes out with this commit.
    if (g) await this.lifecycle.dispatchIn(tx, g.user_id);
    // The inbox handler announces the new status once its transaction committed.
    if (g) await this.lifecycle.ended(g, ENDINGS.ledgerExpired, { publish: false });
    else if ((await repo.findGeneration(tx, id))?.status === 'succeeded') {
      this.d.metrics.uncharged.inc();
      this.d.logger.error({ generationId: id }, 'succeeded generation was never charged: its hold expired before the capture arrived');
    }
    return g;
  }

  async cancel(userId: string, id: string): Promise<GenerationView> {
    const owned = await repo.findOwnedGeneration(this.d.db, id, userId);
    if (!owned) throw notFound('generation', 'GENERATION_NOT_FOUND');
    // Released even while reserving: a release that beats the reserve is repeated on hold-placed.
    const g = await this.lifecycle.end(id, ENDINGS.canceled);
    if (!g) {
      const current = (await repo.findGeneration(this.d.db, id))!;
      if (current.status === 'canceled') return this.view(current);
      throw new AppError('GENERATION_NOT_CANCELABLE', { params: { status: current.status } });
    }
    return this.view(g);
  }

  async get(userId: string, id: string): Promise<GenerationView> {
    const g = await repo.findOwnedGeneration(this.d.db, id, userId);
    if (!g) throw notFound('generation', 'GENERATION_NOT_FOUND');
    return this.view(g);
  }

  async status(id: string): Promise<GenerationStatus | undefined> {
    return (await repo.findGeneration(this.d.db, id))?.status;
  }

  async view(g: GenerationRow): Promise<GenerationView> {
    return generationView(g, await images.imagesOfGenerations(this.d.db, [g.id]));
  }

  async list(userId: string, cursor: string | undefined, limit: number): Promise<{ items: GenerationView[]; nextCursor: string | null }> {
    const before = cursor ? decodeCursor(cursor) : undefined;
    const rows = await repo.listGenerations(this.d.db, userId, { ...(before ? { before } : {}), limit: limit + 1 });
    const page = rows.slice(0, limit);
    const imgs = await images.imagesOfGenerations(this.d.db, page.map((g) => g.id));
    return { items: page.map((g) => generationView(g, imgs)), nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1]!.id) : null };
  }

  /**
   * Fails open generations whose hold has expired (the ledger released it or will) and tells the
   * ledger to release, which is harmless when it already did.
   */
  async sweepExpired(now = new Date()): Promise<number> {
    const failed = await this.d.db.transaction().execute(async (tx) => {
      const rows = await repo.lockExpiredOpen(tx, now);
      const out: GenerationRow[] = [];
      for (const row of rows) {
        const g = await this.lifecycle.endIn(tx, row.id, ENDINGS.holdRanOut, { now });
        if (g) out.push(g);
      }
      return out;
    });
    for (const g of failed) await this.lifecycle.ended(g, ENDINGS.holdRanOut);
    // Outside the sweep's transaction (it holds many people's rows; dispatch takes a person's lock first).
    for (const user of new Set(failed.map((g) => g.user_id))) await this.lifecycle.dispatch(user);
    return failed.length;
  }

  /** Dispatches what waits for a slot (the safety net behind the dispatch at every ending). */
  async sweepDispatch(): Promise<number> {
    return this.lifecycle.sweepDispatch();
  }
}

const referenceMissing = () => new AppError('GENERATION_REFERENCE_NOT_FOUND');

export function encodeCursor(id: string): string {
  return Buffer.from(id).toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString();
  if (!UUID_RE.test(id)) throw invalidCursor();
  return id;
}
