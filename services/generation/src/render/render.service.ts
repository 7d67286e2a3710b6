import { v7 as uuidv7 } from 'uuid';
import { createHash } from 'node:crypto';
import { DelayedError, type Job } from 'bullmq';
import type { Kysely } from '@imlab/db';
import type { Bus } from '@imlab/queue';
import type { Logger } from '@imlab/logger';
import { AppError } from '@imlab/http';
import type { Config } from '../config.js';
import type { Insertable } from 'kysely';
import type { DB, GenerationRow, ImageTable } from '../db.js';
import type { GenerationMetrics } from '../metrics.js';
import type { StatusEvents } from '../generations/status-events.js';
import type { ObjectStorage } from '../storage/storage.js';
import { keys } from '../storage/storage.js';
import { StorageDeletions } from '../storage/deletions.js';
import * as repo from '../generations/generations.repository.js';
import * as imagesRepo from '../images/images.repository.js';
import * as uploadsRepo from '../uploads/uploads.repository.js';
import { ProviderError, type ImageProvider } from './providers/provider.js';
import { encodeForStorage } from './encode.js';
import { ENDINGS, Lifecycle, MOVES, move, type Ending } from '../generations/lifecycle.js';

/** One attempt at a render: its lease, when it started, and what it stored so far. */
interface Attempt {
  lease: string;
  started: number;
  stored: string[];
}

export interface RenderDeps {
  db: Kysely<DB>;
  bus: Bus<DB>;
  config: Config;
  events: StatusEvents;
  metrics: GenerationMetrics;
  storage: ObjectStorage;
  deletions: StorageDeletions;
  provider: ImageProvider;
  logger: Logger;
}

/** How long after its hold expires an attempt's images are deleted if no commit kept them. */
const UNKEPT_RENDER_GRACE_MS = 3600_000;

function asProviderError(err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  const name = (err as Error)?.name;
  if (name === 'AbortError' || name === 'TimeoutError') return new ProviderError('GENERATION_PROVIDER_TIMEOUT', 'the image provider did not answer in time', { retryable: true, cause: err });
  if (err instanceof AppError) return new ProviderError(err.code, err.message, { retryable: err.retryable, cause: err });
  // Storage hiccups, undecodable provider output: worth another try, then a refund.
  return new ProviderError('GENERATION_RENDER_ERROR', 'rendering failed', { retryable: true, cause: err });
}

/**
 * One render job. The generation row is the source of truth: every step is a conditional update
 * from the state the step expects, under a lease that changes each time a worker takes the job.
 * Capture is written in the same transaction that moves running → succeeded under the current
 * lease, so a job re-run after a crash, or a zombie worker, can never capture twice.
 */
export class RenderService {
  private readonly lifecycle: Lifecycle;
  private readonly d: RenderDeps;
  constructor(d: RenderDeps) {
    this.d = d;
    this.lifecycle = new Lifecycle(d);
  }

  /** Too close to the hold's expiry for a capture to reach the ledger in time (HOLD_CAPTURE_MARGIN). */
  private pastCaptureDeadline(g: Pick<GenerationRow, 'hold_expires_at'>): boolean {
    return g.hold_expires_at.getTime() - this.d.config.HOLD_CAPTURE_MARGIN * 1000 <= Date.now();
  }

  /**
   * One render job, as claim → render → commit → recover: the generation is taken under a new
   * lease, the provider's images stored under that lease, success and capture committed in one
   * transaction, and any failure sorted into a retry or an ending with the hold given back.
   */
  async process(generationId: string, job: Job, token: string | undefined, log: Logger, userId?: string): Promise<unknown> {
    const g = await repo.findGeneration(this.d.db, generationId);
    if (!g) {
      // Purged (or deleted) meanwhile: anything an earlier attempt kept goes too.
      if (userId) await this.d.storage.deletePrefix(keys.generationPrefix(userId, generationId));
      return { skipped: 'gone' };
    }
    if (!(MOVES.claim.from as readonly string[]).includes(g.status)) {
      // A failed or canceled generation has no images; what an earlier attempt kept is stray.
      if (g.status === 'failed' || g.status === 'canceled') await this.d.storage.deletePrefix(keys.generationPrefix(g.user_id, g.id));
      return { skipped: g.status };
    }
    if (this.pastCaptureDeadline(g)) return this.end(g, g.lease, ENDINGS.holdRanOut);

    const claimed = await this.claim(g, job, token);
    if (!claimed) return { skipped: 'state-changed' };
    const attempt: Attempt = { lease: claimed.lease!, started: performance.now(), stored: [] };
    try {
      const rows = await this.render(claimed, g.lease, attempt);
      return await this.commit(claimed, rows, attempt, log);
    } catch (err) {
      return this.recover(err, claimed, attempt, job, log);
    }
  }

  /** Claim: queued|running → running under a new lease, unless this person already uses their share of the workers. */
  private async claim(g: GenerationRow, job: Job, token: string | undefined): Promise<GenerationRow | undefined> {
    const lease = uuidv7();
    const claimed = await this.d.db.transaction().execute(async (tx) => {
      await repo.lockUser(tx, g.user_id);
      if ((await repo.countRunning(tx, g.user_id, g.id)) >= this.d.config.RENDER_USER_CAP) return 'busy' as const;
      return repo.claim(tx, g.id, lease, MOVES.claim.from);
    });
    if (claimed === 'busy') {
      // Step aside so others' jobs run.
      await job.moveToDelayed(Date.now() + 200 + Math.floor(Math.random() * 400), token);
      throw new DelayedError();
    }
    if (!claimed) return undefined;
    if (claimed.attempt === 1 && claimed.queued_at) this.d.metrics.enqueueToStart.observe((Date.now() - claimed.queued_at.getTime()) / 1000);
    await this.lifecycle.publish(claimed);
    return claimed;
  }

  /** Render: the provider's images, re-encoded with thumbnails and stored under the attempt's lease. */
  private async render(claimed: GenerationRow, previousLease: string | null, attempt: Attempt): Promise<Insertable<ImageTable>[]> {
    const { lease, stored } = attempt;
    // What the attempt before this one wrote (a killed worker, an unreadable outcome) is stray:
    // its lease was replaced by ours, so it can never commit. Only that lease's folder is cleared,
    // never the generation's: a later attempt that overtook this one may already have committed.
    if (previousLease) await this.d.storage.deletePrefix(`${keys.generationPrefix(claimed.user_id, claimed.id)}/${previousLease}`);
    const references = await this.loadReferences(claimed);
    // Progress goes out as whole percents, each once (a provider may report many steps).
    let reported = -1;
    const onProgress = (percent: number) => {
      const p = Math.floor(percent);
      if (p <= reported) return;
      reported = p;
      this.d.events.publishProgress(claimed.id, p).catch(() => {});
    };
    const raw = await this.d.provider.render({
      onProgress,
      prompt: claimed.prompt,
      negativePrompt: claimed.negative_prompt,
      model: claimed.model,
      width: claimed.width,
      height: claimed.height,
      count: claimed.count,
      seed: claimed.seed,
      references,
      signal: AbortSignal.timeout(this.d.config.PROVIDER_TIMEOUT_MS),
    });
    const rows: Insertable<ImageTable>[] = [];
    // Recorded before anything is written: if this attempt never commits (a crash, a lost
    // commit), the sweep deletes its files once no commit can happen any more. The commit keeps them.
    await StorageDeletions.provisional(
      this.d.db,
      raw.flatMap((_, idx) => [keys.image(claimed.user_id, claimed.id, lease, idx), keys.thumb(claimed.user_id, claimed.id, lease, idx)].map((key) => ({ userId: claimed.user_id, key }))),
      new Date(claimed.hold_expires_at.getTime() + UNKEPT_RENDER_GRACE_MS),
    );
    for (const [idx, bytes] of raw.entries()) {
      // Re-encode whatever the provider sent: exact size, PNG, no metadata; and its thumbnail.
      const { png, thumb } = await encodeForStorage(bytes, claimed.width, claimed.height);
      const key = keys.image(claimed.user_id, claimed.id, lease, idx);
      const thumbKey = keys.thumb(claimed.user_id, claimed.id, lease, idx);
      await this.d.storage.put(key, png, 'image/png');
      stored.push(key);
      await this.d.storage.put(thumbKey, thumb, 'image/webp');
      stored.push(thumbKey);
      rows.push({
        id: uuidv7(),
        generation_id: claimed.id,
        user_id: claimed.user_id,
        idx,
        width: claimed.width,
        height: claimed.height,
        bytes: png.length,
        sha256: createHash('sha256').update(png).digest('hex'),
        storage_key: key,
        thumb_key: thumbKey,
        thumb_sha256: createHash('sha256').update(thumb).digest('hex'),
        published_at: null,
      });
    }
    return rows;
  }

  /** Commit: running → succeeded under the attempt's lease, with the images and the capture, in one transaction. */
  private async commit(claimed: GenerationRow, rows: Insertable<ImageTable>[], attempt: Attempt, log: Logger): Promise<unknown> {
    const { lease, stored } = attempt;
    if (this.pastCaptureDeadline(claimed)) {
      // The ledger has given these credits back, or would before the capture reaches it: this
      // render cannot be paid for.
      await this.d.deletions.deleteNow(stored);
      return this.end(claimed, lease, ENDINGS.holdRanOut);
    }
    // A provider may deliver fewer images than asked (some OpenAI-compatible servers ignore `n`):
    // the person pays for the images they get, and the rest of the hold goes back.
    const charged = rows.length < claimed.count ? (claimed.cost / claimed.count) * rows.length : claimed.cost;
    if (charged !== claimed.cost) log.info({ generationId: claimed.id, asked: claimed.count, delivered: rows.length }, 'provider delivered fewer images than asked; charging for those delivered');
    const done = await this.d.db.transaction().execute(async (tx) => {
      const row = await move(tx, claimed.id, 'succeed', { finished_at: new Date(), error_code: null, cost: charged }, { lease });
      if (!row) return undefined;
      await imagesRepo.insertImages(tx, rows);
      await StorageDeletions.keep(tx, stored);
      await this.d.bus.send(tx, 'ledger.capture', charged === claimed.cost ? { holdId: claimed.id } : { holdId: claimed.id, amount: charged });
      await this.d.bus.send(tx, 'generation.finished', { generationId: claimed.id, userId: claimed.user_id, status: 'succeeded', refunded: false });
      return row;
    });
    if (!done) {
      // Canceled meanwhile, or another worker took the job over: nothing of this attempt stays.
      await this.d.deletions.deleteNow(stored);
      this.d.metrics.renderDuration.labels('discarded').observe((performance.now() - attempt.started) / 1000);
      log.info({ generationId: claimed.id }, 'render discarded: the generation moved on');
      return { discarded: true };
    }
    this.d.metrics.renderDuration.labels('succeeded').observe((performance.now() - attempt.started) / 1000);
    await this.lifecycle.publish(done);
    // The person's next queued generation takes the slot this one leaves on the queue.
    await this.lifecycle.dispatch(done.user_id);
    return { status: 'succeeded', images: rows.length };
  }

  /** Recover: a lost commit answer kept, a transient failure queued for a retry, anything else (or the last attempt) failed and refunded. */
  private async recover(err: unknown, claimed: GenerationRow, attempt: Attempt, job: Job, log: Logger): Promise<unknown> {
    if (err instanceof DelayedError) throw err;
    const { lease, stored } = attempt;
    if (stored.length > 0) {
      // The commit may have gone through even though its answer was lost (connection dropped at
      // COMMIT): then the images are the person's and paid for, and must not be deleted. A row
      // that is gone (purged meanwhile) or moved on falls through: what this attempt wrote goes.
      // The read waits for a commit still in flight (a plain read would see the row as it was
      // and the images would be deleted under a charged generation).
      let outcome: GenerationRow | undefined | 'unreadable';
      try {
        outcome = await repo.findGenerationSettled(this.d.db, claimed.id);
      } catch {
        outcome = 'unreadable';
      }
      if (outcome === 'unreadable') {
        // Cannot tell: keep the files and retry; a retry that renders again first clears what
        // earlier attempts of this generation left (see render); if the commit did not happen,
        // the sweep deletes them after the grace (they are recorded as provisional).
        log.warn({ generationId: claimed.id }, 'render outcome unclear after an error; stored images kept for the retry to sort out');
        throw err;
      }
      if (outcome?.status === 'succeeded' && outcome.lease === lease) {
        log.warn({ generationId: claimed.id }, 'success committed although its answer was lost; images kept');
        return { status: 'succeeded', afterLostCommitAnswer: true };
      }
    }
    await this.d.deletions.deleteNow(stored);
    const pe = asProviderError(err);
    this.d.metrics.providerErrors.labels(this.d.provider.name, pe.code).inc();
    const attemptNo = job.attemptsMade + 1;
    const maxAttempts = Math.min(this.d.config.RENDER_MAX_ATTEMPTS, job.opts.attempts ?? 1);
    if (pe.retryable && attemptNo < maxAttempts) {
      log.warn({ generationId: claimed.id, code: pe.code, attempt: attemptNo }, 'transient render failure; retrying');
      const back = await move(this.d.db, claimed.id, 'retry', { error_code: pe.code }, { lease });
      await this.lifecycle.publish(back);
      throw pe;
    }
    log.warn({ generationId: claimed.id, code: pe.code, attempt: attemptNo }, 'render failed; releasing the hold');
    this.d.metrics.renderDuration.labels('failed').observe((performance.now() - attempt.started) / 1000);
    return this.end(claimed, lease, ENDINGS.renderFailed(pe.code));
  }

  /**
   * The render job failed for good without the processor ending the generation: BullMQ fails a job
   * whose worker died under it more than `maxStalledCount` times (a render that crashes its worker
   * every time) without running the processor again, and an error the processor did not sort (the
   * database gone at the last attempt) fails it too. No job will run for the generation any more,
   * so it ends here, failed and refunded, instead of holding the person's credits and one of their
   * render slots until its hold runs out. Under any lease: every attempt is dead or has lost its
   * lock, and a late commit of one finds the row moved on. A generation already ended (or not yet queued) is left alone.
   */
  async gaveUp(generationId: string, reason: string, log: Logger): Promise<void> {
    const g = await repo.findGeneration(this.d.db, generationId);
    if (!g || !(MOVES.claim.from as readonly string[]).includes(g.status)) return;
    const ended = await this.lifecycle.end(g.id, ENDINGS.renderFailed('GENERATION_RENDER_ERROR'));
    if (ended) log.warn({ generationId, reason }, 'render job failed for good; generation failed and its hold released');
  }

  /** The generation fails and its hold goes back (lifecycle.ts), under the attempt's lease when it has one. */
  private async end(g: GenerationRow, lease: string | null, ending: Ending): Promise<unknown> {
    await this.lifecycle.end(g.id, ending, { lease });
    return { status: 'failed', code: ending.code };
  }

  private async loadReferences(g: GenerationRow): Promise<{ bytes: Buffer; mime: string }[]> {
    if (g.reference_upload_ids.length === 0) return [];
    const rows = await uploadsRepo.findUploads(this.d.db, g.reference_upload_ids);
    const out = [];
    for (const id of g.reference_upload_ids) {
      const row = rows.find((r) => r.id === id);
      const bytes = row ? await this.d.storage.get(row.storage_key) : undefined;
      if (!row || !bytes) throw new ProviderError('GENERATION_REFERENCE_MISSING', 'a reference image is gone', { retryable: false });
      out.push({ bytes, mime: row.mime });
    }
    return out;
  }
}
