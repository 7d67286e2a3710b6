import type { JobsOptions } from 'bullmq';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { isPersistent, type MessageName, type QueueName } from '@imlab/contracts';
import type { Logger } from '@imlab/logger';
import { unpackOrigin, type Envelope } from './envelope.js';
import type { QueueTables } from './migrations.js';

/** One job for BullMQ's addBulk. */
export interface OutgoingJob {
  name: string;
  data: Envelope;
  opts: JobsOptions;
}

export interface RelayOptions {
  db: Kysely<QueueTables>;
  /** Needed for LISTEN (wakes on commit where the outbox has the NOTIFY trigger); omit to poll only. */
  databaseUrl?: string;
  logger: Logger;
  /** Poll interval when nothing wakes the relay. */
  pollMs?: number;
  /** Publishes the jobs of one batch, per queue (BullMQ addBulk: one round trip per queue). */
  publish: (queue: QueueName, jobs: OutgoingJob[]) => Promise<unknown>;
  /** More options for a message's job (BullMQ's telemetry metadata). */
  jobOptions?: (data: Envelope) => JobsOptions;
  /** Job options a persistent message (`user.purge`) is sent with. */
  persistentJobOptions: JobsOptions;
  /** Runs on the poll timer: housekeeping that shares its schedule (pruning). */
  onPoll?: () => void;
}

/**
 * The outbox relay: publishes committed outbox rows to BullMQ (jobId = message id), then marks them
 * sent. Woken by LISTEN/NOTIFY where the outbox has the trigger, by the inbox when a message it
 * handled sent more (kick after commit), and by a poll as the safety net.
 */
export class Relay {
  private timer: NodeJS.Timeout | undefined;
  private listener: pg.Client | undefined;
  private running: Promise<number> | undefined;
  private again = false;
  private closed = false;
  /** Test hook: throw here to simulate a relay that dies after publishing, before marking sent. */
  afterPublishHook: (() => Promise<void> | void) | undefined;

  private readonly opts: RelayOptions;
  constructor(opts: RelayOptions) {
    this.opts = opts;
  }

  async start(): Promise<void> {
    if (this.opts.databaseUrl) {
      this.listener = new pg.Client({ connectionString: this.opts.databaseUrl });
      this.listener.on('error', (err) => this.opts.logger.warn({ err: { message: err.message } }, 'outbox listener error'));
      await this.listener.connect();
      this.listener.on('notification', () => this.kick());
      await this.listener.query('listen imlab_outbox');
    }
    const poll = () => {
      this.timer = setTimeout(() => {
        this.kick();
        this.opts.onPoll?.();
        if (!this.closed) poll();
      }, this.opts.pollMs ?? 1000);
      this.timer.unref();
    };
    poll();
    this.kick();
  }

  /** Asks the relay to run now (coalesces concurrent kicks). */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.flush()
      .catch((err) => {
        this.opts.logger.error({ err }, 'outbox relay failed');
        return 0;
      })
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /**
   * Publishes every unsent outbox row, with jobId = message id, then marks them sent, in one
   * transaction holding the rows (SKIP LOCKED, so several relays can run): per batch one SELECT,
   * one addBulk per target queue, one UPDATE. A crash between publishing and marking re-publishes:
   * BullMQ drops a duplicate jobId still known, and consumers dedupe by message id otherwise.
   */
  async flush(batch = 500): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.opts.db.transaction().execute(async (tx) => {
        const rows = await tx.selectFrom('outbox').selectAll().where('sent_at', 'is', null).orderBy('id').limit(batch).forUpdate().skipLocked().execute();
        if (rows.length === 0) return 0;
        const byQueue = new Map<QueueName, OutgoingJob[]>();
        for (const row of rows) {
          const data = { id: row.id, name: row.name, payload: row.payload, occurredAt: row.created_at.toISOString(), ...unpackOrigin(row.request_id) } as Envelope;
          const persistent = isPersistent(row.name as MessageName) ? this.opts.persistentJobOptions : {};
          for (const target of row.targets as QueueName[]) {
            const list = byQueue.get(target) ?? [];
            list.push({ name: row.name, data, opts: { jobId: row.id, ...persistent, ...(row.delay_ms > 0 ? { delay: row.delay_ms } : {}), ...this.opts.jobOptions?.(data) } });
            byQueue.set(target, list);
          }
        }
        await Promise.all([...byQueue].map(([queue, jobs]) => this.opts.publish(queue, jobs)));
        if (this.afterPublishHook) await this.afterPublishHook();
        await tx
          .updateTable('outbox')
          .set({ sent_at: new Date() })
          .where(
            'id',
            'in',
            rows.map((r) => r.id),
          )
          .execute();
        return rows.length;
      });
      total += n;
      if (n < batch) return total;
    }
  }

  /** Stops waking; waits for a flush under way. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.running) await this.running;
    await this.listener?.end().catch(() => {});
  }
}
