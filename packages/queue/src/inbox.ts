import { UnrecoverableError, type Job } from 'bullmq';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { MessageName, Payload, QueueName } from '@imlab/contracts';
import type { Logger } from '@imlab/logger';
import type { Envelope } from './envelope.js';
import type { QueueTables } from './migrations.js';
import { queueTables, sentIn, writeOutbox } from './outbox.js';

/** What a handler gets: the transaction its effect joins (the inbox row is in it) and the message. */
export type Handler<N extends MessageName = MessageName, DB extends QueueTables = QueueTables> = (ctx: {
  tx: Transaction<DB>;
  message: Envelope<N>;
  payload: Payload<N>;
  log: Logger;
  job: Job;
}) => Promise<unknown>;

export type Handlers<DB extends QueueTables = QueueTables> = { [N in MessageName]?: Handler<N, DB> };

/** One message of a run a group handler applies at once. */
export interface GroupItem<N extends MessageName = MessageName> {
  message: Envelope<N>;
  payload: Payload<N>;
  log: Logger;
  job: Job;
}

/**
 * Applies a run of messages of one name in the caller's transaction, with one result per item in
 * the same order: the same effects and results as the handler applied to each item in turn.
 */
export type GroupHandler<N extends MessageName = MessageName, DB extends QueueTables = QueueTables> = (ctx: {
  tx: Transaction<DB>;
  items: readonly GroupItem<N>[];
}) => Promise<unknown[]>;

/**
 * A handler that can also take a run of its messages at once (`group`): with group commit, the
 * messages of one name that follow each other in a group go to `group` in one call, so a handler
 * whose effect is one database call can make it one call for the run (the ledger's grants).
 */
export function withGroup<N extends MessageName, DB extends QueueTables>(
  one: Handler<N, DB>,
  group: GroupHandler<N, DB>,
): Handler<N, DB> & { group: GroupHandler<N, DB> } {
  return Object.assign(((ctx) => one(ctx)) as Handler<N, DB>, { group });
}

type AnyHandler<DB extends QueueTables> = Handler<MessageName, DB> & { group?: GroupHandler<MessageName, DB> };

/**
 * Group commit for an inbox: the messages that arrive while a transaction is running are applied
 * together in the next one (up to `max`), in arrival order, each exactly as it would be alone. One
 * BEGIN, one inbox INSERT, one result UPDATE and one COMMIT (one WAL flush) then serve the whole
 * group; each message still costs its handler's own statements, unless its handler takes a run of
 * its messages at once (withGroup).
 */
export interface InboxBatching {
  /** Most messages in one transaction (default 64). */
  max?: number;
  /** Transactions running at once (default 1: groups never wait on each other's row locks). */
  lanes?: number;
}

export interface InboxOptions<DB extends QueueTables> {
  db: Kysely<DB>;
  queue: QueueName;
  handlers: Handlers<DB>;
  batch?: InboxBatching | false;
  /** Called just before the effect's transaction commits, per message with its whole group; tests use it to simulate crashes. */
  beforeCommit?: (message: Envelope, group: readonly Envelope[]) => Promise<void> | void;
  /** Called after the effect committed, before BullMQ records the job done; tests crash here. */
  afterCommit?: (message: Envelope) => Promise<void> | void;
  /** The transaction sent messages: wake the relay (it need not wait for its poll). */
  onSent: () => void;
}

export interface Delivery {
  message: Envelope;
  log: Logger;
  job: Job;
}

interface Waiting extends Delivery {
  resolve: (result: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * Consumes a service inbox: each message's handler runs in a transaction that first records the
 * message id in `inbox`; a message seen before returns the stored result and does nothing. With
 * batching, several messages share one transaction; if any of them fails, the group is rolled
 * back and each message runs again alone, so one message's failure is only its own.
 */
export class Inbox<DB extends QueueTables> {
  private readonly waiting: Waiting[] = [];
  private busyLanes = 0;

  private readonly opts: InboxOptions<DB>;
  constructor(opts: InboxOptions<DB>) {
    this.opts = opts;
  }

  /** Applies one delivery; resolves with its result (the stored one for a duplicate). */
  process(delivery: Delivery): Promise<unknown> {
    const handler = this.opts.handlers[delivery.message.name] as Handler<MessageName, DB> | undefined;
    if (!handler) return Promise.reject(new UnrecoverableError(`${this.opts.queue} has no handler for ${delivery.message.name}`));
    if (!this.opts.batch) return this.alone(delivery);
    return new Promise((resolve, reject) => {
      this.waiting.push({ ...delivery, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    const batching = this.opts.batch || {};
    while (this.waiting.length > 0 && this.busyLanes < (batching.lanes ?? 1)) {
      const group = this.waiting.splice(0, batching.max ?? 64);
      this.busyLanes++;
      void this.runGroup(group).finally(() => {
        this.busyLanes--;
        this.drain();
      });
    }
  }

  private async runGroup(group: Waiting[]): Promise<void> {
    if (group.length === 1) {
      const [one] = group as [Waiting];
      await this.alone(one).then(one.resolve, one.reject);
      return;
    }
    let results: unknown[];
    try {
      results = await this.together(group);
    } catch (err) {
      // Somebody in the group failed (or the group met a deadlock): nothing of it was committed.
      // Each message runs alone, in arrival order, so only the failing one fails, with its own
      // error and retry (and one lane still holds one connection).
      group[0]!.log.debug({ size: group.length, reason: (err as Error).message }, 'inbox group rolled back; applying its messages one by one');
      for (const w of group) await this.alone(w).then(w.resolve, w.reject);
      return;
    }
    group.forEach((w, i) => w.resolve(results[i]));
  }

  /** One message in its own transaction. */
  private async alone(d: Delivery): Promise<unknown> {
    const [result] = await this.together([d]);
    return result;
  }

  /** The messages of `group` in one transaction, in order; a message seen before (or twice here) does nothing again. */
  private async together(group: Delivery[]): Promise<unknown[]> {
    const { queue } = this.opts;
    let sent = false;
    const results = await this.opts.db.transaction().execute(async (tx) => {
      const q = queueTables(tx);
      const ids = group.map((d) => d.message.id);
      const fresh = new Set(
        (
          await sql<{ message_id: string }>`
            insert into inbox (message_id, consumer, name)
            select id, ${queue}, name from unnest(${ids}::text[], ${group.map((d) => d.message.name)}::text[]) as m(id, name)
            on conflict do nothing
            returning message_id`.execute(q)
        ).rows.map((r) => r.message_id),
      );
      const seen = new Map<string, unknown>();
      if (fresh.size < new Set(ids).size) {
        const stored = await q.selectFrom('inbox').select(['message_id', 'result']).where('consumer', '=', queue).where('message_id', 'in', ids).execute();
        for (const row of stored) if (!fresh.has(row.message_id)) seen.set(row.message_id, row.result ?? null);
      }
      const out: unknown[] = [];
      const done = new Map<string, unknown>();
      for (let i = 0; i < group.length; ) {
        const handler = this.opts.handlers[group[i]!.message.name] as AnyHandler<DB>;
        // A run: the messages of this name from here on (only one without a group handler).
        let end = i + 1;
        if (handler.group) while (end < group.length && group[end]!.message.name === group[i]!.message.name) end++;
        const run = group.slice(i, end);
        // Each message of the run applied once: not one seen before, nor one already in this group.
        const todo = new Map<string, Delivery>();
        for (const d of run) if (!seen.has(d.message.id) && !done.has(d.message.id) && !todo.has(d.message.id)) todo.set(d.message.id, d);
        if (todo.size > 0) {
          const items = [...todo.values()].map(({ message, log, job }) => ({ message, payload: message.payload, log, job }));
          const results =
            handler.group && items.length > 1 ? await handler.group({ tx, items }) : [(await handler({ tx, ...items[0]! })) ?? null];
          if (results.length !== items.length) throw new Error(`${group[i]!.message.name}: the group handler answered ${results.length} results for ${items.length} messages`);
          for (const [k, { message }] of items.entries()) done.set(message.id, await purgeReceipt(tx, queue, message, results[k] ?? null));
        }
        for (const { message, log } of run) {
          if (seen.has(message.id)) {
            log.debug('duplicate delivery ignored');
            out.push(seen.get(message.id));
          } else out.push(done.get(message.id)); // applied above (or earlier in this group: the same message delivered twice)
        }
        i = end;
      }
      if (done.size > 0) {
        const doneIds = [...done.keys()];
        await sql`
          update inbox set result = r.result
          from unnest(${doneIds}::text[], ${doneIds.map((id) => JSON.stringify(done.get(id)))}::jsonb[]) as r(id, result)
          where inbox.consumer = ${queue} and inbox.message_id = r.id`.execute(q);
      }
      if (this.opts.beforeCommit) {
        const messages = group.map((d) => d.message);
        for (const m of messages) await this.opts.beforeCommit(m, messages);
      }
      sent = sentIn(tx);
      return out;
    });
    if (sent) this.opts.onSent();
    if (this.opts.afterCommit) for (const d of group) await this.opts.afterCommit(d.message);
    return results;
  }
}

/**
 * A purge's receipt: the transaction that did this service's part also tells auth it is done (one
 * place for every service; a handler cannot forget it), and leaves this service's own tombstone —
 * the inbox row, naming only the deletion id, with the time. Other messages keep their result.
 */
async function purgeReceipt<DB extends QueueTables>(tx: Transaction<DB>, queue: QueueName, message: Envelope, result: unknown): Promise<unknown> {
  if (message.name !== 'user.purge') return result;
  const { deletionId } = message.payload as Payload<'user.purge'>;
  if (!deletionId) return result;
  await writeOutbox(tx, 'user.purge-completed', { deletionId, service: queue as Payload<'user.purge-completed'>['service'] });
  return { ...(typeof result === 'object' && result !== null ? result : {}), deletionId };
}

/** Deletes inbox records processed before `before`, except purge receipts; returns how many. */
export async function pruneInbox(db: Kysely<QueueTables>, before: Date): Promise<number> {
  // A purge's inbox row is this service's deletion receipt (it names only the deletion id): kept.
  const r = await db.deleteFrom('inbox').where('processed_at', '<', before).where('name', '!=', 'user.purge').executeTakeFirst();
  return Number(r.numDeletedRows);
}
