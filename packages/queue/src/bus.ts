import { Queue, QueueEvents, Worker, Job, UnrecoverableError, DelayedError, type JobsOptions, type Processor } from 'bullmq';
import type { Kysely } from 'kysely';
import type { MessageName, Payload, QueueName } from '@imlab/contracts';
import { BullMQOtel } from 'bullmq-otel';
import { activeContext, AppError, instrumentationEnabled, runInContext, SpanKind, startSpan } from '@imlab/http';
import type { Logger } from '@imlab/logger';
import { Gauge, type Registry } from 'prom-client';
import { connectRedis, queuePrefix, type Redis } from './redis.js';
import { envelopeProblem, type Envelope } from './envelope.js';
import type { QueueTables } from './migrations.js';
import { deferOf, MAX_DEFER_MS, retryAfterOf } from './retry-after.js';
import { queueTables, pruneOutbox, writeOutbox, type Executor, type SendOptions } from './outbox.js';
import { Relay } from './relay.js';
import { Inbox, pruneInbox, type Handlers, type InboxBatching } from './inbox.js';

export { prepareMessage, queueTables, type Executor, type SendOptions } from './outbox.js';
export { Inbox, withGroup, type Delivery, type GroupHandler, type GroupItem, type Handler, type Handlers, type InboxBatching } from './inbox.js';

/** How long finished jobs (their payloads can name a person) stay in Redis. */
export const COMPLETED_JOB_RETENTION_S = 24 * 3600;
/**
 * Failed jobs are kept 9 days for ops to see and replay: a persistent message (`user.purge`) retried
 * for ~20 days and then kept as failed stays inside the privacy policy's 30 days (below).
 */
export const FAILED_JOB_RETENTION_S = 9 * 24 * 3600;
/**
 * The privacy policy: "the messages our services pass to each other are deleted within 30 days".
 * A message's retries and then its time kept as failed stay inside it (test/retention.test.ts).
 */
export const MESSAGE_LIFETIME_LIMIT_MS = 30 * 86_400_000;

/**
 * Persistent messages (`user.purge`): back off exponentially from 500 ms up to 15 minutes, then
 * every 15 minutes, for 1900 attempts: about 20 days of retries, inside the privacy policy's 30 days
 * from the deletion request to the purge (7 days by default) plus this.
 */
export const PERSISTENT_JOB_OPTIONS: JobsOptions = { attempts: 1900, backoff: { type: 'capped', delay: 500 } };
export const PERSISTENT_BACKOFF_CAP_MS = 15 * 60_000;
export const cappedBackoff = (attemptsMade: number, type?: string, _err?: Error, job?: { opts: JobsOptions }): number => {
  if (type !== 'capped') throw new Error(`unknown backoff type ${String(type)}`);
  const base = (job?.opts.backoff as { delay?: number } | undefined)?.delay ?? 500;
  return Math.min(base * 2 ** Math.max(0, attemptsMade - 1), PERSISTENT_BACKOFF_CAP_MS);
};

/** How long a persistent message is retried, from its first failure to its last attempt (about 20 days). */
export const PERSISTENT_RETRY_SPAN_MS = Array.from({ length: (PERSISTENT_JOB_OPTIONS.attempts ?? 1) - 1 }, (_, i) =>
  cappedBackoff(i + 1, 'capped', undefined, { opts: PERSISTENT_JOB_OPTIONS }),
).reduce((a, b) => a + b, 0);

/** How long a metrics scrape waits for Redis or Postgres before reporting the last values. */
export const METRICS_READ_TIMEOUT_MS = 1000;

/** `promise`, or a rejection after `ms` (the promise itself is left to settle on its own). */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  promise.catch(() => undefined); // a late failure must not become an unhandled rejection
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Default job options: retries with exponential backoff, bounded retention. */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: { age: COMPLETED_JOB_RETENTION_S, count: 50_000 },
  removeOnFail: { age: FAILED_JOB_RETENTION_S },
};

export interface BusOptions<DB extends QueueTables = QueueTables> {
  service: string;
  /** The service's own database: the outbox and inbox live there. */
  db: Kysely<DB>;
  /** Needed for LISTEN (the relay wakes on commit); omit to poll only. */
  databaseUrl?: string;
  redisUrl: string;
  prefix: string;
  logger: Logger;
  /** Relay poll interval when no NOTIFY arrives. */
  pollMs?: number;
  /**
   * How long sent outbox rows and inbox dedupe records are kept (ms). Both hold message
   * payloads or results that may name a person, so they must go well within the 30 days the
   * privacy policy promises; the inbox must outlive any redelivery (retries, stalled jobs).
   */
  outboxRetentionMs?: number;
  inboxRetentionMs?: number;
  /** Finished jobs of the queues this bus consumes are removed after these (default: the job options' ages). */
  completedJobRetentionMs?: number;
  failedJobRetentionMs?: number;
  /** Defaults for every consumer of this bus: how fast a dead consumer's job is handed back. */
  lockDuration?: number;
  stalledInterval?: number;
}

const HOUR = 3600_000;

export type RawHandler = (ctx: { message: Envelope; log: Logger; job: Job; token?: string }) => Promise<unknown>;

export interface ConsumeOptions {
  concurrency?: number;
  lockDuration?: number;
  stalledInterval?: number;
  /**
   * Group commit: messages that arrive while a transaction runs are applied together in the next
   * one (see InboxBatching). Off by default; for inboxes whose handlers only touch the database.
   */
  batch?: InboxBatching | false;
  /** Called just before the effect's transaction commits, per message with its whole group; tests use it to simulate crashes. */
  beforeCommit?: (message: Envelope, group: readonly Envelope[]) => Promise<void> | void;
  /** Called after the effect committed, before BullMQ records the job done; tests crash here. */
  afterCommit?: (message: Envelope) => Promise<void> | void;
  /** Cap on an error's `retryAfterMs` (default MAX_RETRY_AFTER_MS). */
  maxRetryAfterMs?: number;
  /** How old a message may get while its handler says "not yet" (see notYet; default MAX_DEFER_MS). */
  maxDeferMs?: number;
}

/**
 * The messaging side of a service, generic over the service's database: the outbox (writeOutbox,
 * written in the caller's transaction), the relay (outbox → BullMQ, jobId = message id) and the
 * inbox (dedupe in the same transaction as the effect) share one Redis connection and the queues.
 * Process wiring (pool, migrations, readiness) is @imlab/service's.
 */
export class Bus<DB extends QueueTables = QueueTables> {
  readonly prefix: string;
  readonly redis: Redis;
  private readonly queues = new Map<QueueName, Queue>();
  private readonly events = new Map<QueueName, Promise<QueueEvents>>();
  private readonly workers: Worker[] = [];
  /** Set once stopConsuming began (a second call waits for the same). */
  private stopping?: Promise<void>;
  /** Queues this bus consumes (and cleans of old finished jobs). */
  private readonly consumed = new Set<QueueName>();
  private readonly relay: Relay;
  /**
   * BullMQ's own telemetry (its producer, consumer and job-state spans through `bullmq-otel`) when
   * the `bullmq` instrumentation is on (@imlab/http's instrument()). Each job carries its message's
   * traceparent as BullMQ's telemetry metadata, so BullMQ's consumer span continues the trace the
   * message was sent in, and the handler's span (below) is its child: one trace per message.
   */
  private readonly telemetry = instrumentationEnabled('bullmq') ? new BullMQOtel({ tracerName: 'bullmq' }) : undefined;

  private readonly opts: BusOptions<DB>;
  constructor(opts: BusOptions<DB>) {
    this.opts = opts;
    this.prefix = queuePrefix(opts.prefix);
    this.redis = connectRedis(opts.redisUrl, `${opts.service}-bus`);
    this.redis.on('error', (err) => opts.logger.warn({ err: { message: err.message } }, 'redis connection error'));
    let lastPrune = 0;
    this.relay = new Relay({
      db: queueTables(opts.db),
      ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}),
      logger: opts.logger,
      ...(opts.pollMs ? { pollMs: opts.pollMs } : {}),
      persistentJobOptions: PERSISTENT_JOB_OPTIONS,
      // BullMQ's consumer span continues the message's own trace, never the relay's batch (the
      // relay runs outside any request: its addBulk span is not recorded, see trace.ts).
      ...(this.telemetry ? { jobOptions: (data: Envelope) => ({ telemetry: data.traceparent ? { metadata: JSON.stringify({ traceparent: data.traceparent }) } : { omitContext: true } }) } : {}),
      publish: (queue, jobs) => this.queue(queue).addBulk(jobs),
      onPoll: () => {
        if (Date.now() - lastPrune < HOUR) return;
        lastPrune = Date.now();
        this.prune().catch((err) => opts.logger.warn({ err }, 'outbox/inbox prune failed'));
      },
    });
  }

  /** Test hook: throw here to simulate a relay that dies after publishing, before marking sent. */
  set afterPublishHook(hook: (() => Promise<void> | void) | undefined) {
    this.relay.afterPublishHook = hook;
  }

  queue(name: QueueName): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.redis, prefix: this.prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS, ...(this.telemetry ? { telemetry: this.telemetry } : {}) });
      // every in-flight waitForResult listens for the queue closing; an API under load has many
      q.setMaxListeners(1000);
      this.queues.set(name, q);
    }
    return q;
  }

  /**
   * Writes a message to the outbox in `tx`. Nothing is published unless the transaction commits.
   * Commands go to their owner; events to every subscriber listed in contracts.
   */
  send<N extends MessageName>(tx: Executor<DB>, name: N, payload: Payload<N>, opts: SendOptions = {}): Promise<string> {
    return writeOutbox(tx, name, payload, opts);
  }

  /** Starts the relay: LISTEN for commits, plus a slow poll as a safety net. */
  startRelay(): Promise<void> {
    return this.relay.start();
  }

  /** Asks the relay to run now (coalesces concurrent kicks). */
  kick(): void {
    this.relay.kick();
  }

  /** Publishes every unsent outbox row now (see Relay.flush); returns how many. */
  flush(batch?: number): Promise<number> {
    return this.relay.flush(batch);
  }

  /** Deletes sent outbox rows and inbox records past their retention; returns how many. */
  async prune(now = new Date()): Promise<{ outbox: number; inbox: number; jobs: number }> {
    const db = queueTables(this.opts.db);
    const outbox = await pruneOutbox(db, new Date(now.getTime() - (this.opts.outboxRetentionMs ?? 24 * HOUR)));
    const inbox = await pruneInbox(db, new Date(now.getTime() - (this.opts.inboxRetentionMs ?? 14 * 24 * HOUR)));
    // BullMQ trims finished jobs by age only when another job finishes in the same queue: a queue
    // that goes quiet after a burst of failures would keep those payloads (emails, display names)
    // forever. The queues this bus consumes are cleaned here, on the same schedule.
    let jobs = 0;
    for (const name of this.consumed) {
      const q = this.queue(name);
      jobs += (await q.clean(this.opts.completedJobRetentionMs ?? COMPLETED_JOB_RETENTION_S * 1000, 5000, 'completed')).length;
      jobs += (await q.clean(this.opts.failedJobRetentionMs ?? FAILED_JOB_RETENTION_S * 1000, 5000, 'failed')).length;
    }
    return { outbox, inbox, jobs };
  }

  /**
   * The queue's events reader, reading on from the last event already in the stream. Left to
   * itself BullMQ's reader starts at "$", i.e. at whatever its first XREAD finds last — and that
   * read goes out only after a CLIENT SETNAME round trip, later than `waitUntilReady` (which
   * `waitUntilFinished` relies on): a job finishing in between went unseen, and the first wait of
   * a new process timed out (its saga then went on by events, the person waited RESERVE_WAIT_MS).
   */
  private async eventsReader(queueName: QueueName): Promise<QueueEvents> {
    const [last] = await this.redis.xrevrange(this.queue(queueName).keys.events!, '+', '-', 'COUNT', 1);
    const events = new QueueEvents(queueName, { connection: this.redis.duplicate(), prefix: this.prefix, lastEventId: last?.[0] ?? '0-0' });
    await events.waitUntilReady();
    return events;
  }

  /**
   * Waits up to `timeoutMs` for the job `jobId` on `queue` to finish and returns its result.
   * `{ timedOut: true }` when it has not: the saga still completes through events.
   */
  async waitForResult<T = unknown>(queueName: QueueName, jobId: string, timeoutMs: number): Promise<{ timedOut: false; result: T } | { timedOut: true }> {
    const deadline = Date.now() + timeoutMs;
    let reader = this.events.get(queueName);
    if (!reader) {
      const made = this.eventsReader(queueName);
      reader = made;
      this.events.set(queueName, made);
      // Redis down at the first wait: the next wait tries again.
      made.catch(() => {
        if (this.events.get(queueName) === made) this.events.delete(queueName);
      });
    }
    const events = await reader;
    let job: Job | undefined;
    while (!job) {
      job = await Job.fromId(this.queue(queueName), jobId);
      if (job) break;
      if (Date.now() >= deadline) return { timedOut: true };
      this.kick();
      await new Promise((r) => setTimeout(r, 10));
    }
    try {
      const result = (await job.waitUntilFinished(events, Math.max(1, deadline - Date.now()))) as T;
      return { timedOut: false, result };
    } catch (err) {
      if (/timed out/i.test((err as Error).message)) return { timedOut: true };
      throw err;
    }
  }

  /**
   * A BullMQ worker on `queueName` that validates every envelope against contracts before the
   * processor runs: a malformed job fails at once (no retry) with the reason. AppErrors with
   * `retryable: false` become UnrecoverableError. An error carrying `retryAfterMs` (a provider's
   * Retry-After; see retryAfterOf) makes that retry wait this long instead of the exponential
   * backoff; it still counts as an attempt. An error marked with notYet (the message waits for
   * another) is run again later without spending an attempt, until the message is `maxDeferMs` old.
   */
  worker(queueName: QueueName, processor: RawHandler, opts: ConsumeOptions = {}): Worker {
    const log = this.opts.logger.child({ queue: queueName });
    this.consumed.add(queueName);
    const wrapped: Processor = async (job, token) => {
      const problem = envelopeProblem(job.data);
      if (problem) {
        log.warn({ jobId: job.id, problem }, 'rejected malformed message');
        throw new UnrecoverableError(problem);
      }
      const message = job.data as Envelope;
      // A span of the trace the message was sent in (or a new one), for the handler and what it sends;
      // with BullMQ's telemetry on, a child of BullMQ's consumer span (itself in that trace).
      const { span, ctx } = startSpan(`process ${message.name}`, SpanKind.CONSUMER, message.traceparent, { 'messaging.destination.name': queueName, 'messaging.message.id': message.id }, this.telemetry ? activeContext() : undefined);
      const jobLog = log.child({ jobId: job.id, messageName: message.name, ...(message.requestId ? { requestId: message.requestId } : {}), traceId: span.spanContext().traceId });
      try {
        return await runInContext(ctx, () => processor({ message, log: jobLog, job, ...(token ? { token } : {}) }));
      } catch (err) {
        span.recordException(err as Error);
        const ageMs = Date.now() - Date.parse(message.occurredAt);
        const deferMs = token && ageMs < (opts.maxDeferMs ?? MAX_DEFER_MS) ? deferOf(err, ageMs) : undefined;
        if (deferMs !== undefined) {
          // Not a failure: the message waits for another one. Back to the delayed set without
          // spending an attempt (DelayedError tells BullMQ the job was moved on purpose).
          jobLog.info({ deferMs, reason: (err as Error).message }, 'message not due yet; waits without spending an attempt');
          await job.moveToDelayed(Date.now() + deferMs, token);
          throw new DelayedError();
        }
        if (err instanceof AppError && !err.retryable) {
          jobLog.warn({ code: err.code, reason: err.message }, 'message failed permanently');
          throw new UnrecoverableError(`${err.code}: ${err.message}`);
        }
        const waitMs = retryAfterOf(err, opts.maxRetryAfterMs);
        if (waitMs !== undefined) {
          // BullMQ computes the retry delay from this job object's `opts.backoff` when the
          // processor throws, and a custom backoffStrategy is never consulted for the built-in
          // 'exponential' type. Overriding it here, in memory only, makes this one retry wait
          // the asked time and still go through moveToFailed, so attemptsMade and the attempt
          // limit stay as they are (moveToDelayed + DelayedError would skip the attempt count);
          // the stored options are untouched, so later retries back off exponentially again.
          job.opts = { ...job.opts, backoff: { type: 'fixed', delay: waitMs } };
          jobLog.info({ retryAfterMs: waitMs }, 'retry waits for the provider\'s Retry-After');
        }
        throw err;
      } finally {
        span.end();
      }
    };
    const worker = new Worker(queueName, wrapped, {
      connection: this.redis.duplicate(),
      prefix: this.prefix,
      concurrency: opts.concurrency ?? 4,
      settings: { backoffStrategy: cappedBackoff },
      lockDuration: opts.lockDuration ?? this.opts.lockDuration ?? 30_000,
      stalledInterval: opts.stalledInterval ?? this.opts.stalledInterval ?? 30_000,
      maxStalledCount: 3,
      ...(this.telemetry ? { telemetry: this.telemetry } : {}),
    });
    worker.on('error', (err) => log.error({ err }, 'worker error'));
    this.workers.push(worker);
    return worker;
  }

  /**
   * Consumes a service inbox (see Inbox): each message's handler runs in a transaction that first
   * records the message id in `inbox`; a message seen before returns the stored result and does
   * nothing. When the transaction sent messages, the relay runs at once.
   */
  consume(queueName: QueueName, handlers: Handlers<DB>, opts: ConsumeOptions = {}): Worker {
    const inbox = new Inbox<DB>({
      db: this.opts.db,
      queue: queueName,
      handlers,
      batch: opts.batch ?? false,
      onSent: () => this.kick(),
      ...(opts.beforeCommit ? { beforeCommit: opts.beforeCommit } : {}),
      ...(opts.afterCommit ? { afterCommit: opts.afterCommit } : {}),
    });
    return this.worker(queueName, (delivery) => inbox.process(delivery), opts);
  }

  /**
   * imlab_queue_jobs{queue,state} for /metrics: waiting + prioritized + delayed is the backlog ops scale on;
   * imlab_queue_oldest_waiting_age_seconds{queue} is how long the oldest job ready to run has waited
   * (0 when none waits), imlab_outbox_oldest_unsent_age_seconds how long the oldest unsent outbox
   * row has waited (0 when none): a stuck relay or a queue nobody consumes shows as an age that
   * grows, which a count alone does not tell apart from a busy but healthy system.
   * Read when scraped, within METRICS_READ_TIMEOUT_MS: with Redis or Postgres down a scrape must
   * not hang or fail (every other metric would be lost exactly during the outage), so the last
   * values stay and `imlab_metrics_source_unavailable{source}` says they are stale.
   */
  registerMetrics(registry: Registry, queues: QueueName[]): void {
    // One read per scrape, shared by the gauges (prom-client collects them concurrently).
    let reading: Promise<void> | undefined;
    const readQueue = async (q: QueueName) => {
      const queue = this.queue(q);
      // The oldest of each list: `asc` reads waiting from its tail (BullMQ pushes new jobs at the head).
      const [counts, oldest] = await Promise.all([queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'failed'), queue.getJobs(['waiting', 'prioritized'], 0, 0, true)]);
      const firstTimestamp = Math.min(...oldest.filter(Boolean).map((j) => j.timestamp));
      return { counts, oldestAge: Number.isFinite(firstTimestamp) ? Math.max(0, (Date.now() - firstTimestamp) / 1000) : 0 };
    };
    const read = () =>
      (reading ??= (async () => {
        const [jobs, outbox] = await Promise.allSettled([
          within(Promise.all(queues.map(readQueue)), METRICS_READ_TIMEOUT_MS),
          within(
            queueTables(this.opts.db)
              .selectFrom('outbox')
              .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.min('created_at').as('oldest')])
              .where('sent_at', 'is', null)
              .executeTakeFirst(),
            METRICS_READ_TIMEOUT_MS,
          ),
        ]);
        if (jobs.status === 'fulfilled') {
          jobs.value.forEach(({ counts, oldestAge }, i) => {
            for (const [state, n] of Object.entries(counts)) queueJobs.labels(queues[i]!, state).set(n);
            oldestWaiting.labels(queues[i]!).set(oldestAge);
          });
        }
        if (outbox.status === 'fulfilled') {
          outboxUnsent.set(Number(outbox.value?.n ?? 0));
          const oldest = outbox.value?.oldest ? new Date(outbox.value.oldest as Date | string).getTime() : NaN;
          outboxAge.set(Number.isFinite(oldest) ? Math.max(0, (Date.now() - oldest) / 1000) : 0);
        }
        unavailable.labels('redis').set(jobs.status === 'fulfilled' ? 0 : 1);
        unavailable.labels('postgres').set(outbox.status === 'fulfilled' ? 0 : 1);
      })().finally(() => {
        reading = undefined;
      }));
    const queueJobs = new Gauge({ name: 'imlab_queue_jobs', help: 'Jobs per queue and state', labelNames: ['queue', 'state'], registers: [registry], collect: read });
    const oldestWaiting = new Gauge({
      name: 'imlab_queue_oldest_waiting_age_seconds',
      help: 'Age of the oldest job waiting to run (waiting or prioritized), since it was created; 0 when none waits',
      labelNames: ['queue'],
      registers: [registry],
      collect: read,
    });
    const outboxUnsent = new Gauge({ name: 'imlab_outbox_unsent_messages', help: 'Outbox rows not yet published', registers: [registry], collect: read });
    const outboxAge = new Gauge({ name: 'imlab_outbox_oldest_unsent_age_seconds', help: 'Age of the oldest outbox row not yet published; 0 when none', registers: [registry], collect: read });
    const unavailable = new Gauge({
      name: 'imlab_metrics_source_unavailable',
      help: '1 when the last scrape could not read this source (its gauges keep their last values)',
      labelNames: ['source'],
      registers: [registry],
      collect: read,
    });
  }

  /** Readiness: Redis answers. */
  async ping(): Promise<void> {
    await this.redis.ping();
  }

  /**
   * Stops taking jobs: every worker stops fetching and finishes the jobs it runs (BullMQ's
   * Worker.close). The relay and the queues stay: a shutdown calls this while its HTTP side drains,
   * so requests in flight still publish what they write and nothing new is started meanwhile.
   */
  async stopConsuming(): Promise<void> {
    this.stopping ??= Promise.all(this.workers.map((w) => w.close())).then(() => undefined);
    await this.stopping;
  }

  /**
   * Graceful stop: workers finish their current jobs (a job that cannot finish in time is handed
   * back by its lock expiring), the relay stops, connections close.
   */
  async close(): Promise<void> {
    await this.stopConsuming();
    await this.relay.close();
    await Promise.all([...this.events.values()].map(async (e) => (await e.catch(() => undefined))?.close()));
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.redis.disconnect();
  }
}
