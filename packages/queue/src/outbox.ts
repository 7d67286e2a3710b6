import type { Kysely, Transaction } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import { targetsOf, type MessageName, type Payload, type QueueName } from '@imlab/contracts';
import { activeTraceparent, AppError } from '@imlab/http';
import { packOrigin, payloadProblem } from './envelope.js';
import type { QueueTables } from './migrations.js';

/** A service's database or one of its transactions: whatever holds the outbox and inbox tables. */
export type Executor<DB extends QueueTables> = Kysely<DB> | Transaction<DB>;

/**
 * The one place the kernel narrows a service's database to the tables it owns. Kysely's types are
 * invariant in the database type, so `Kysely<DB>` is not a `Kysely<QueueTables>` even when DB
 * extends QueueTables; the outbox, relay and inbox only ever name their own two tables.
 */
export const queueTables = <DB extends QueueTables>(db: Executor<DB>): Kysely<QueueTables> => db as unknown as Kysely<QueueTables>;

export interface SendOptions {
  /** Message id; also the BullMQ jobId. Defaults to a UUIDv7. */
  id?: string;
  delayMs?: number;
  requestId?: string;
}

/**
 * What the outbox holds for one message: its payload checked against contracts (a producer bug is
 * a CONTRACT_VIOLATION, never a half-written message), an id (UUIDv7 unless given), and the
 * queues it goes to. Null when nobody subscribes to the event yet.
 */
export function prepareMessage<N extends MessageName>(name: N, payload: Payload<N>, id?: string): { id: string; name: N; payload: Payload<N>; targets: QueueName[] } | null {
  const problem = payloadProblem(name, payload);
  if (problem) throw new AppError('CONTRACT_VIOLATION', { message: problem, retryable: false });
  const targets = [...targetsOf(name)];
  return targets.length === 0 ? null : { id: id ?? uuidv7(), name, payload, targets };
}

/** Transactions that wrote to the outbox: the inbox kicks the relay when the one it ran commits. */
const wroteOutbox = new WeakSet<object>();
export const sentIn = (tx: object): boolean => wroteOutbox.has(tx);

/**
 * Writes a message to the outbox in `tx`. Nothing is published unless the transaction commits.
 * Commands go to their owner; events to every subscriber listed in contracts.
 */
export async function writeOutbox<DB extends QueueTables, N extends MessageName>(tx: Executor<DB>, name: N, payload: Payload<N>, opts: SendOptions = {}): Promise<string> {
  const id = opts.id ?? uuidv7();
  const message = prepareMessage(name, payload, id);
  if (!message) return id; // an event nobody subscribes to yet
  await queueTables(tx)
    .insertInto('outbox')
    // The trace it is sent in (a request's, or the message being handled): the consumer continues it.
    .values({ id, name, payload: JSON.stringify(payload), targets: message.targets, request_id: packOrigin(opts.requestId, activeTraceparent()), delay_ms: opts.delayMs ?? 0 })
    .execute();
  wroteOutbox.add(tx);
  return id;
}

/** Deletes outbox rows sent before `before`; returns how many. */
export async function pruneOutbox(db: Kysely<QueueTables>, before: Date): Promise<number> {
  const r = await db.deleteFrom('outbox').where('sent_at', '<', before).executeTakeFirst();
  return Number(r.numDeletedRows);
}
