import type { Updateable } from 'kysely';
import type { Db, Kysely, Transaction } from '@imlab/db';
import type { Bus } from '@imlab/queue';
import type { Logger } from '@imlab/logger';
import type { GenerationEndCode } from '@imlab/contracts';
import type { DB, GenerationRow, GenerationStatus, GenerationTable } from '../db.js';
import { OPEN_STATUSES } from '../db.js';
import type { GenerationMetrics } from '../metrics.js';
import type { StatusEvents } from './status-events.js';
import type { Config } from '../config.js';
import * as repo from './generations.repository.js';

/**
 * The generation's state machine, the one place it is written: every move and the states it may
 * start from. States only change through `move` (a conditional update: a row that is not in one of
 * `from` any more is left alone and the caller learns that someone else won).
 *
 *   reserving → queued | rejected | canceled | failed
 *   queued    → running | canceled | failed
 *   running   → succeeded | queued (transient retry) | running (taken over) | failed | canceled
 */
export const MOVES = {
  /** The ledger placed the hold: the render job is written in the same transaction. */
  queue: { from: ['reserving'], to: 'queued' },
  /** The ledger refused the hold (not enough credits): nothing was held. */
  reject: { from: ['reserving'], to: 'rejected' },
  /** A worker takes the job under a new lease (running: a crashed or stalled attempt taken over). */
  claim: { from: ['queued', 'running'], to: 'running' },
  /** A transient render failure: queued again for the next attempt (under the attempt's lease). */
  retry: { from: ['running'], to: 'queued' },
  /** Images stored; the capture is written in the same transaction (under the attempt's lease). */
  succeed: { from: ['running'], to: 'succeeded' },
  /** An ending: the hold is given back (see ENDINGS). */
  fail: { from: OPEN_STATUSES, to: 'failed' },
  cancel: { from: OPEN_STATUSES, to: 'canceled' },
} as const satisfies Record<string, { from: readonly GenerationStatus[]; to: GenerationStatus }>;

export type MoveName = keyof typeof MOVES;

/** One move of the state machine: the row after it, or undefined when the generation had moved on. */
export function move(db: Db<DB>, id: string, name: MoveName, patch: Omit<Updateable<GenerationTable>, 'status'> = {}, extra: { lease?: string } = {}): Promise<GenerationRow | undefined> {
  const m = MOVES[name];
  return repo.transition(db, id, [...m.from], { ...patch, status: m.to }, extra);
}

/** How an unfinished generation ends without images, and the messages that go with it. */
export interface Ending {
  move: 'fail' | 'cancel';
  code: GenerationEndCode;
  /** `ledger.release`'s reason; null when the ledger gave the hold back itself (it expired there). */
  release: string | null;
  /** The `imlab_generation_refunds_total{reason}` label. */
  refund: 'canceled' | 'hold-expired' | 'provider-error';
}

export const ENDINGS = {
  /** The person canceled (a release that beats the reserve is repeated on hold-placed). */
  canceled: { move: 'cancel', code: 'GENERATION_CANCELED', release: 'canceled', refund: 'canceled' },
  /** The hold's time ran out here (the sweeper, or a render too late to capture): released. */
  holdRanOut: { move: 'fail', code: 'GENERATION_HOLD_EXPIRED', release: 'hold-expired', refund: 'hold-expired' },
  /** The ledger expired the hold and said so: nothing to release. */
  ledgerExpired: { move: 'fail', code: 'GENERATION_HOLD_EXPIRED', release: null, refund: 'hold-expired' },
  /** The image service failed for good (or for the last attempt). */
  renderFailed: (code: GenerationEndCode): Ending => ({ move: 'fail', code, release: code.slice(0, 100), refund: 'provider-error' }),
} as const satisfies Record<string, Ending | ((code: GenerationEndCode) => Ending)>;

export interface LifecycleDeps {
  db: Kysely<DB>;
  bus: Bus<DB>;
  events: StatusEvents;
  metrics: GenerationMetrics;
  logger: Logger;
  config: Pick<Config, 'RENDER_USER_QUEUED'>;
}

/**
 * Every ending in one place: fail or cancel + release + generation.finished in the caller's
 * transaction (`endIn`), then the refund metric and the status publish once it committed
 * (`ended`); `end` does both in a transaction of its own.
 */
export class Lifecycle {
  private readonly d: LifecycleDeps;
  constructor(d: LifecycleDeps) {
    this.d = d;
  }

  async endIn(tx: Db<DB>, id: string, ending: Ending, opts: { lease?: string | null; now?: Date } = {}): Promise<GenerationRow | undefined> {
    const row = await move(tx, id, ending.move, { error_code: ending.code, finished_at: opts.now ?? new Date(), lease: null }, opts.lease ? { lease: opts.lease } : {});
    if (!row) return undefined;
    if (ending.release !== null) await this.d.bus.send(tx, 'ledger.release', { holdId: id, reason: ending.release });
    await this.d.bus.send(tx, 'generation.finished', { generationId: id, userId: row.user_id, status: row.status === 'canceled' ? 'canceled' : 'failed', refunded: true, errorCode: ending.code });
    return row;
  }

  /**
   * A hold placed for a generation already canceled (the cancel's release reached the ledger
   * before its reserve): released again, as the cancel's release.
   */
  async releaseLateHold(tx: Db<DB>, id: string): Promise<void> {
    await this.d.bus.send(tx, 'ledger.release', { holdId: id, reason: ENDINGS.canceled.release });
  }

  /** After the commit: counted, and (unless the caller notifies itself) published. */
  async ended(row: GenerationRow, ending: Ending, opts: { publish?: boolean } = {}): Promise<void> {
    this.d.metrics.refunds.labels(ending.refund).inc();
    if (opts.publish !== false) await this.publish(row);
  }

  async end(id: string, ending: Ending, opts: { lease?: string | null } = {}): Promise<GenerationRow | undefined> {
    const row = await this.d.db.transaction().execute((tx) => this.endIn(tx, id, ending, opts));
    if (row) {
      await this.ended(row, ending);
      await this.dispatch(row.user_id);
    }
    return row;
  }

  /**
   * Fair dispatch: puts the person's oldest queued, undispatched generations on the render queue
   * while they have fewer than RENDER_USER_QUEUED there, in `tx`. Takes the person's lock first
   * (the claim's lock: the count and the marks cannot race another dispatch or a claim). A caller
   * that also moves one of the person's generations in `tx` takes the lock before that move, so
   * the order is always person, then rows.
   */
  async dispatchIn(tx: Transaction<DB>, userId: string): Promise<number> {
    await repo.lockUser(tx, userId);
    const rows = await repo.markDispatched(tx, userId, this.d.config.RENDER_USER_QUEUED);
    for (const g of rows) await this.d.bus.send(tx, 'generation.render', { generationId: g.id, userId: g.user_id });
    return rows.length;
  }

  /**
   * dispatchIn in a transaction of its own, after one of the person's generations ended (an
   * ending never waits for it; a failure here is left to the sweep, which dispatches what waits).
   */
  async dispatch(userId: string): Promise<void> {
    await this.d.db
      .transaction()
      .execute((tx) => this.dispatchIn(tx, userId))
      .catch((err: unknown) => this.d.logger.warn({ err: { message: (err as Error).message } }, 'dispatch after an ending failed; the sweep will do it'));
  }

  /** The safety net: everyone with generations waiting for a slot gets a dispatch. */
  async sweepDispatch(): Promise<number> {
    let n = 0;
    for (const user of await repo.usersWaitingForDispatch(this.d.db)) n += await this.d.db.transaction().execute((tx) => this.dispatchIn(tx, user));
    return n;
  }

  async publish(row: GenerationRow | undefined): Promise<void> {
    if (!row) return;
    await this.d.events.publish(row.id, row.status).catch((err) => this.d.logger.warn({ err: { message: (err as Error).message } }, 'status publish failed'));
  }
}
